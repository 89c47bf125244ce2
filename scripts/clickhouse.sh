#!/usr/bin/env bash
# Throwaway ClickHouse servers for tests: N instances on loopback ports that form one cluster,
# `footfall`, with one shard per instance, so a `Distributed` table works from any of them.
#
#   scripts/clickhouse.sh start DIR [--shards N]   # default 2; prints and writes DIR/ports
#   scripts/clickhouse.sh stop DIR                 # stops exactly the instances started in DIR
#   scripts/clickhouse.sh stop-shard DIR I         # stops instance I (1-based) only: an outage
#   scripts/clickhouse.sh start-shard DIR I        # starts instance I again, same ports and data
#
# DIR/ports has one line per instance, `http_port tcp_port`, in shard order.
#
# Debian's package (18.16, old) is installed with apt when missing. Nothing under /etc is
# edited: each instance runs from its own copy of the package's config.xml and users.xml, with
# overrides in config.d/ and users.d/ beside the copies, and keeps its data, logs and temporary
# files under DIR/nodeI/. The system service is never started. Every instance listens on
# 127.0.0.1 only and its users accept loopback clients only.
set -euo pipefail

# How long an instance may take to answer `SELECT 1` (it starts in about a second; a cold
# page cache or a busy machine can make that several).
START_TIMEOUT=${FOOTFALL_CLICKHOUSE_START_TIMEOUT:-60}
# How long `stop` waits after TERM before it sends KILL: a server flushes its logs and
# in-memory buffers on TERM, which takes a moment.
STOP_TIMEOUT=${FOOTFALL_CLICKHOUSE_STOP_TIMEOUT:-20}

SERVER=/usr/sbin/clickhouse-server
PACKAGE_CONFIG=/etc/clickhouse-server/config.xml
PACKAGE_USERS=/etc/clickhouse-server/users.xml

# Root needs no sudo (CI runs as root); anyone else needs it for apt, runuser, chown and kill,
# because the servers run as the package's `clickhouse` user.
SUDO=()
[[ $(id -u) -eq 0 ]] || SUDO=(sudo)

say() { printf '%s\n' "$*" >&2; }
die() {
    say "clickhouse.sh: $*"
    exit 1
}

usage() {
    cat >&2 <<'EOF'
usage: scripts/clickhouse.sh start DIR [--shards N]
       scripts/clickhouse.sh stop DIR
       scripts/clickhouse.sh stop-shard DIR I
       scripts/clickhouse.sh start-shard DIR I
EOF
    exit 2
}

install_if_missing() {
    if [[ -x $SERVER ]] && command -v clickhouse-client >/dev/null && [[ -f $PACKAGE_CONFIG ]]; then
        return
    fi
    say "installing clickhouse-server and clickhouse-client (Debian packages)"
    # A fresh machine may have no package lists yet: update only when the install fails, so a
    # machine that has them is not slowed down.
    if ! DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq \
        clickhouse-server clickhouse-client >/dev/null; then
        "${SUDO[@]}" apt-get update -qq
        DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq \
            clickhouse-server clickhouse-client >/dev/null
    fi
    [[ -x $SERVER ]] || die "$SERVER is missing after the install"
}

# Prints COUNT distinct free TCP ports on 127.0.0.1. The kernel picks them (bind to port 0,
# every socket held until all are picked, so they differ); the servers bind them a moment
# later, a race that only another process grabbing the same port in between can lose.
free_ports() {
    local count=$1
    if command -v python3 >/dev/null; then
        python3 - "$count" <<'EOF'
import socket, sys
held = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    held.append(s)
print(" ".join(str(s.getsockname()[1]) for s in held))
EOF
        return
    fi
    # Without python3: random ports that nothing answers on, and not already picked.
    local ports=() port tries=0
    while [[ ${#ports[@]} -lt $count ]]; do
        ((++tries > 1000)) && die "found no free port"
        port=$((20000 + RANDOM % 30000))
        [[ " ${ports[*]} " == *" $port "* ]] && continue
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            ports+=("$port")
        fi
    done
    echo "${ports[*]}"
}

# The PID in an instance's pid file, if that process is alive and is the server started from
# this instance's config (a stale pid file whose number was reused by another process, or
# another ClickHouse on the machine, is never touched).
instance_pid() {
    local node=$1 pid
    [[ -s $node/clickhouse-server.pid ]] || return 1
    pid=$(tr -dc '0-9' <"$node/clickhouse-server.pid")
    [[ -n $pid && -r /proc/$pid/cmdline ]] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "--config-file=$node/etc/config.xml" || return 1
    echo "$pid"
}

# Writes an instance's config: copies of the package's files, and overrides that ClickHouse
# merges over them at start (config.d/*.xml into config.xml, users.d/*.xml into users.xml).
write_config() {
    local node=$1 http=$2 tcp=$3 interserver=$4 cluster=$5
    mkdir -p "$node"/{etc/config.d,etc/users.d,data,tmp,user_files,format_schemas,log}
    cp "$PACKAGE_CONFIG" "$node/etc/config.xml"
    cp "$PACKAGE_USERS" "$node/etc/users.xml"
    cat >"$node/etc/config.d/footfall.xml" <<EOF
<?xml version="1.0"?>
<!-- Written by scripts/clickhouse.sh: one throwaway test instance, loopback only. -->
<yandex>
    <!-- Replaces the package's default of every interface. -->
    <listen_host>127.0.0.1</listen_host>
    <http_port>$http</http_port>
    <tcp_port>$tcp</tcp_port>
    <!-- Only replication uses it; it gets a free loopback port so instances do not clash. -->
    <interserver_http_port>$interserver</interserver_http_port>
    <path>$node/data/</path>
    <tmp_path>$node/tmp/</tmp_path>
    <user_files_path>$node/user_files/</user_files_path>
    <format_schema_path>$node/format_schemas/</format_schema_path>
    <!-- DateTime values are read and printed in UTC, whatever the machine's zone. -->
    <timezone>UTC</timezone>
    <logger>
        <level>information</level>
        <log>$node/log/clickhouse-server.log</log>
        <errorlog>$node/log/clickhouse-server.err.log</errorlog>
        <size>100M</size>
        <count>2</count>
    </logger>
    <!-- The package sizes these caches for a dedicated server (5 and 8 GB); a test instance
         shares a small machine. -->
    <mark_cache_size>268435456</mark_cache_size>
    <uncompressed_cache_size>268435456</uncompressed_cache_size>
    <!-- Replaces the package's example clusters, which point at port 9000. -->
    <remote_servers replace="replace">
        <footfall>
$cluster        </footfall>
    </remote_servers>
</yandex>
EOF
    cat >"$node/etc/users.d/footfall.xml" <<'EOF'
<?xml version="1.0"?>
<!-- Written by scripts/clickhouse.sh: the package lets `default` in from anywhere (::/0). -->
<yandex>
    <profiles>
        <default>
            <!-- The package allows 10 GB per query; a test needs far less, and the machine is
                 shared. A query may still raise it with its own max_memory_usage setting. -->
            <max_memory_usage>4000000000</max_memory_usage>
        </default>
    </profiles>
    <users>
        <default>
            <networks replace="replace">
                <ip>127.0.0.1</ip>
                <ip>::1</ip>
            </networks>
        </default>
    </users>
</yandex>
EOF
}

# Waits until the instance in NODE answers `SELECT 1` on HTTP port HTTP, until SECONDS reaches
# DEADLINE; past it, prints the tail of its log and fails.
wait_ready() {
    local node=$1 http=$2 deadline=$3
    until [[ $(curl -s --max-time 2 "http://127.0.0.1:$http/?query=SELECT%201" 2>/dev/null) == 1 ]]; do
        if ((SECONDS >= deadline)); then
            say "clickhouse.sh: instance $node did not answer SELECT 1 on 127.0.0.1:$http" \
                "within ${START_TIMEOUT}s. Its log ends with:"
            local logs=() log
            for log in "$node"/log/clickhouse-server.{err.log,log}; do
                [[ -s $log ]] && logs+=("$log")
            done
            if [[ ${#logs[@]} -gt 0 ]]; then
                tail -n 30 "${logs[@]}" >&2
            else
                say "(no log written: the server did not get that far; try running it in the" \
                    "foreground: runuser -u clickhouse -- $SERVER --config-file=$node/etc/config.xml)"
            fi
            return 1
        fi
        sleep 0.2
    done
}

start() {
    local dir=$1 shards=$2
    [[ $shards =~ ^[1-9][0-9]*$ ]] || die "--shards wants a positive number, not '$shards'"
    install_if_missing
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd -P)
    local i node
    for ((i = 1; i <= shards; i++)); do
        if instance_pid "$dir/node$i" >/dev/null; then
            die "an instance already runs in $dir/node$i: run 'scripts/clickhouse.sh stop $dir' first"
        fi
    done

    # Every instance's config names every shard, so all the ports are picked first.
    local ports
    read -r -a ports <<<"$(free_ports $((3 * shards)))"
    local cluster=""
    for ((i = 0; i < shards; i++)); do
        cluster+="            <shard><replica><host>127.0.0.1</host><port>${ports[3 * i + 1]}</port></replica></shard>"$'\n'
    done
    for ((i = 0; i < shards; i++)); do
        write_config "$dir/node$((i + 1))" "${ports[3 * i]}" "${ports[3 * i + 1]}" \
            "${ports[3 * i + 2]}" "$cluster"
    done

    # The servers run as the package's user, which must own what they write, and reach DIR
    # through its parents (a DIR under a private home folder cannot work).
    "${SUDO[@]}" chown -R clickhouse:clickhouse "$dir"
    "${SUDO[@]}" runuser -u clickhouse -- test -w "$dir/node1/data" ||
        die "the clickhouse user cannot write to $dir: choose a DIR it can reach (e.g. under /tmp)"

    : >"$dir/ports.tmp"
    for ((i = 0; i < shards; i++)); do
        node=$dir/node$((i + 1))
        "${SUDO[@]}" runuser -u clickhouse -- "$SERVER" --config-file="$node/etc/config.xml" \
            --pid-file="$node/clickhouse-server.pid" --daemon
        echo "${ports[3 * i]} ${ports[3 * i + 1]}" >>"$dir/ports.tmp"
    done

    # Daemons return before they listen: wait for each to answer a query.
    local deadline=$((SECONDS + START_TIMEOUT))
    for ((i = 0; i < shards; i++)); do
        if ! wait_ready "$dir/node$((i + 1))" "${ports[3 * i]}" "$deadline"; then
            stop "$dir"
            exit 1
        fi
    done
    mv "$dir/ports.tmp" "$dir/ports"
    cat "$dir/ports"
}

# Stops the instances in DIR, or only instance ONLY (1-based) when given.
stop() {
    local dir=$1 only=${2:-} node pid pids=() waited
    [[ -d $dir ]] || die "no such folder: $dir"
    dir=$(cd "$dir" && pwd -P)
    for node in "$dir"/node*; do
        [[ -d $node ]] || continue
        [[ -z $only || $node == "$dir/node$only" ]] || continue
        if pid=$(instance_pid "$node"); then
            "${SUDO[@]}" kill -TERM "$pid" 2>/dev/null || true
            pids+=("$pid")
        fi
    done
    # Wait for all of them together, so N instances take one timeout, not N.
    for ((waited = 0; waited < STOP_TIMEOUT * 5; waited++)); do
        local alive=()
        for pid in "${pids[@]}"; do
            [[ -d /proc/$pid ]] && alive+=("$pid")
        done
        pids=("${alive[@]}")
        [[ ${#pids[@]} -eq 0 ]] && break
        sleep 0.2
    done
    for pid in "${pids[@]}"; do
        say "clickhouse.sh: instance $pid ignored TERM for ${STOP_TIMEOUT}s: sending KILL"
        "${SUDO[@]}" kill -KILL "$pid" 2>/dev/null || true
    done
    # One instance stopped for an outage keeps the list: start-shard reads its port there.
    [[ -n $only ]] || rm -f "$dir/ports"
}

# Starts instance I of DIR again (after stop-shard), from the config, ports and data it had.
start_shard() {
    local dir=$1 i=$2 node http
    [[ $i =~ ^[1-9][0-9]*$ ]] || die "the instance wants a number from 1, not '$i'"
    dir=$(cd "$dir" && pwd -P)
    node=$dir/node$i
    [[ -f $node/etc/config.xml && -s $dir/ports ]] || die "no instance $i was started in $dir"
    if instance_pid "$node" >/dev/null; then
        die "instance $i in $dir is already running"
    fi
    http=$(sed -n "${i}p" "$dir/ports" | cut -d' ' -f1)
    [[ -n $http ]] || die "$dir/ports has no line $i"
    "${SUDO[@]}" runuser -u clickhouse -- "$SERVER" --config-file="$node/etc/config.xml" \
        --pid-file="$node/clickhouse-server.pid" --daemon
    wait_ready "$node" "$http" $((SECONDS + START_TIMEOUT)) || {
        stop "$dir" "$i"
        exit 1
    }
}

[[ $# -ge 2 ]] || usage
command=$1
dir=$2
shift 2
case $command in
start)
    shards=2
    while [[ $# -gt 0 ]]; do
        case $1 in
        --shards)
            [[ $# -ge 2 ]] || usage
            shards=$2
            shift 2
            ;;
        --shards=*)
            shards=${1#--shards=}
            shift
            ;;
        *) usage ;;
        esac
    done
    start "$dir" "$shards"
    ;;
stop)
    [[ $# -eq 0 ]] || usage
    stop "$dir"
    ;;
stop-shard)
    [[ $# -eq 1 && $1 =~ ^[1-9][0-9]*$ ]] || usage
    [[ -d $dir/node$1 ]] || die "no instance $1 in $dir"
    stop "$dir" "$1"
    ;;
start-shard)
    [[ $# -eq 1 ]] || usage
    start_shard "$dir" "$1"
    ;;
*) usage ;;
esac
