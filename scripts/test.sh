#!/usr/bin/env bash
# Runs every test of Footfall, installing what the tests need when it is missing.
#
# Everything that links DuckDB is built in the release profile, so the tests share one DuckDB
# build (about 35 minutes on 2 cores, once) with `cargo run --release`. Point CARGO_TARGET_DIR at
# a folder that outlives the checkout to keep that build warm; the default below does.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/footfall-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

say() { printf '\n== %s\n' "$*" >&2; }

apt_install() {
    local missing=()
    for pkg in "$@"; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    if [[ ${#missing[@]} -gt 0 ]]; then
        say "installing Debian packages: ${missing[*]}"
        local sudo=""
        [[ $(id -u) -eq 0 ]] || sudo="sudo"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
    fi
}

# npm fetches the real GeoIP database that one test reads, terser (the tracker's build check) and
# playwright-core, which drives Debian's Chromium through the tracker's browser tests.
command -v node >/dev/null || apt_install nodejs
command -v npm >/dev/null || apt_install npm
command -v chromium >/dev/null || apt_install chromium
command -v cargo >/dev/null || { echo "cargo is needed: install Rust from https://rustup.rs" >&2; exit 1; }

say "npm packages (versions locked in each package-lock.json)"
npm ci --prefix collector/tracker --no-audit --no-fund --loglevel=error
npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error

say "real GeoIP database (ip-location-db, CC0)"
geo_dir="${FOOTFALL_GEOIP_CACHE:-$HOME/.cache/footfall-geoip}"
FOOTFALL_REAL_GEOIP="$(scripts/fetch-geoip.sh "$geo_dir" | tail -1)"
export FOOTFALL_REAL_GEOIP

say "tracker: the committed build matches its source, and its size"
npm test --prefix collector/tracker

say "formatting"
cargo fmt --all -- --check

say "lints (release profile, sharing the DuckDB build)"
cargo clippy --release --workspace --all-targets --locked -- -D warnings

say "tests"
cargo test --release --workspace --locked

# Short runs of the cargo-fuzz targets (drill 2 in docs/reliability.md has the long ones): built
# without DuckDB, in a target folder of their own.
say "fuzzing: 200,000 inputs or 20 s per cargo-fuzz target"
scripts/fuzz.sh --runs 200000 --seconds 20

# Short runs of the drills that need the server as a process (docs/reliability.md has the
# full ones). The full-disk and stall drills mount a tmpfs and a loop device: root only.
say "reliability drills: kill -9, SIGTERM, full disk, stalled disk"
# The drills' binary; the server's was built for the tests above.
cargo build --release --locked -p footfall-benches --bin footfall-drill
drill="$CARGO_TARGET_DIR/release/footfall-drill"
"$drill" kill --rounds 5
"$drill" term --rounds 3
if [[ $(id -u) -eq 0 ]]; then
    "$drill" full-disk
    "$drill" stall --seconds 6
else
    echo "full-disk and stall drills skipped: they need root to mount filesystems" >&2
fi

say "all tests passed"
