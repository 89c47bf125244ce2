#!/usr/bin/env bash
# Builds the cargo-fuzz targets in fuzz/ and runs each in turn, one libFuzzer process at a time.
#
#   scripts/fuzz.sh [--runs N] [--seconds S] [target...]
#
# With neither limit a target runs 1,000,000 inputs; with both it stops at whichever comes first.
# Without targets, every one runs. Prints per target the inputs run, the time, the rate and the
# coverage (libFuzzer's cov/ft), and exits non-zero when a target crashes (a panic, a timeout of
# 10 s on one input, or 2 GB of memory); the input that did it is kept in fuzz/artifacts/TARGET/
# (replay it with `$bin fuzz/artifacts/TARGET/crash-...`). Corpora grow in fuzz/corpus/TARGET
# (not committed), started from fuzz/seeds/TARGET.
#
# libFuzzer needs nightly compiler flags: RUSTC_BOOTSTRAP=1 lets a stable toolchain take them.
# The build (no DuckDB in it) goes to its own folder, apart from the main one.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=""
seconds=""
targets=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --runs) runs="$2"; shift 2 ;;
        --seconds) seconds="$2"; shift 2 ;;
        -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
        -*) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
        *) targets+=("$1"); shift ;;
    esac
done
[[ -n "$runs" || -n "$seconds" ]] || runs=1000000

export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="${FOOTFALL_FUZZ_TARGET:-$HOME/.cache/footfall-fuzz-target}"

command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked

if [[ ${#targets[@]} -eq 0 ]]; then
    mapfile -t targets < <(cargo fuzz list)
fi

# Safe Rust: no sanitizer, which doubles the rate. Debug assertions (overflow checks) stay on.
cargo fuzz build --sanitizer none --target-dir "$CARGO_TARGET_DIR"
triple="$(rustc -vV | sed -n 's/^host: //p')"
bin_dir="$CARGO_TARGET_DIR/$triple/release"

limits=()
[[ -n "$runs" ]] && limits+=("-runs=$runs")
[[ -n "$seconds" ]] && limits+=("-max_total_time=$seconds")

failed=()
printf '%-14s %12s %9s %10s %7s %8s  %s\n' target runs seconds 'execs/s' cov ft result >&2
for target in "${targets[@]}"; do
    corpus="fuzz/corpus/$target"
    artifacts="fuzz/artifacts/$target"
    log="fuzz/artifacts/$target.log"
    mkdir -p "$corpus" "$artifacts"
    seeds=()
    [[ -d "fuzz/seeds/$target" ]] && seeds+=("fuzz/seeds/$target")
    start=$(date +%s.%N)
    status=0
    "$bin_dir/$target" "${limits[@]}" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$artifacts/" "$corpus" "${seeds[@]}" >"$log" 2>&1 || status=$?
    elapsed=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    done_runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    done_runs=${done_runs:-0}
    final=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$final")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$final")
    rate=$(awk -v n="$done_runs" -v t="$elapsed" 'BEGIN { printf "%d", (t > 0 ? n / t : 0) }')
    if [[ $status -eq 0 ]]; then
        result=ok
    else
        result="CRASH (exit $status), see $log and $artifacts/"
        failed+=("$target")
    fi
    printf '%-14s %12s %9.0f %10s %7s %8s  %s\n' "$target" "$done_runs" "$elapsed" "$rate" \
        "${cov:-?}" "${ft:-?}" "$result" >&2
    if [[ $status -ne 0 ]]; then
        grep -E -A4 'panicked|ERROR: libFuzzer' "$log" | head -20 >&2 || true
    fi
done

if [[ ${#failed[@]} -gt 0 ]]; then
    echo "fuzzing found crashes in: ${failed[*]}" >&2
    exit 1
fi
