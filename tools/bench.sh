#!/usr/bin/env bash
#
# bench.sh - durakv vs. stock redis-server, side by side, on loopback.
#
# What it measures:
#   Throughput (requests per second, as reported by redis-benchmark --csv) of
#   SET, GET, INCR and MSET (10 keys per request) with 50 clients, 64-byte
#   values, 100000 random keys, at pipeline depth 1 and 16, for each AOF fsync
#   policy (always, everysec). durakv runs with `--appendfsync POLICY`; redis
#   runs with `--appendonly yes --appendfsync POLICY --save ""`, so both persist
#   every write to a log under the same policy and neither takes snapshots.
#   For every row the same redis-benchmark invocation is run against durakv and
#   then immediately against redis, so both see the same machine conditions;
#   that pair is repeated BENCH_ROUNDS times (default 3).
#
# How to read the ratio:
#   durakv/redis = durakv ops/s divided by redis ops/s of the same round; the
#   table gives the median of the rounds' ratios and their range (min-max), and
#   the median ops/s of each server. On a small shared machine one round's ratio
#   can be off by 0.2 or more: the range says how much to trust the median.
#   1.00 means parity, > 1.00 means durakv is faster, < 1.00 means slower
#   (0.50 = half of redis's throughput). Client and servers share one machine,
#   so compare rows of a single run rather than absolute numbers across hosts.
#
# Usage:
#   tools/bench.sh [--no-build] [--out [FILE]]
#     --no-build    do not run `cargo build --release` first
#     --out [FILE]  also write the table to FILE (default: bench-results.md in
#                   the current directory)
#   Environment:
#     BENCH_N          requests per redis-benchmark run (default 100000)
#     BENCH_ROUNDS     durakv/redis pairs per row (default 3)
#     BENCH_TIMEOUT    seconds before one redis-benchmark run is abandoned
#                      (default 900)
#     CARGO_TARGET_DIR cargo target dir (default $HOME/.cache/durakv/target)
#     DURAKV_BIN       durakv binary (default $CARGO_TARGET_DIR/release/durakv)
#     DURAKV_ARGS      extra durakv flags, split on spaces (e.g. "--io-threads 1")
#     REDIS_SERVER     redis-server binary (default /usr/bin/redis-server)
#     REDIS_BENCHMARK  redis-benchmark binary (default /usr/bin/redis-benchmark)
#     REDIS_CLI        redis-cli binary, used for PING (default /usr/bin/redis-cli)
#
# Only the server processes this script starts are stopped (by PID, from an
# EXIT trap), and its temporary directories are removed.

set -euo pipefail

readonly TESTS=(SET GET INCR MSET)
readonly PIPELINES=(1 16)
readonly POLICIES=(always everysec)
readonly CLIENTS=50
readonly KEYSPACE=100000
readonly DATASIZE=64
readonly PING_DEADLINE=30

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd "$script_dir/.." && pwd)

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/durakv/target}"
DURAKV_BIN="${DURAKV_BIN:-$CARGO_TARGET_DIR/release/durakv}"
REDIS_SERVER="${REDIS_SERVER:-/usr/bin/redis-server}"
REDIS_BENCHMARK="${REDIS_BENCHMARK:-/usr/bin/redis-benchmark}"
REDIS_CLI="${REDIS_CLI:-/usr/bin/redis-cli}"
BENCH_N="${BENCH_N:-100000}"
BENCH_ROUNDS="${BENCH_ROUNDS:-3}"
BENCH_TIMEOUT="${BENCH_TIMEOUT:-900}"

build=1
out_file=""

log() { printf '[bench] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
    sed -n '/^# Usage:/,/^# Only the server/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
}

while (($# > 0)); do
    case "$1" in
        --no-build) build=0 ;;
        --out=*) out_file="${1#--out=}" ;;
        --out)
            if (($# > 1)) && [[ "$2" != -* ]]; then
                out_file="$2"
                shift
            else
                out_file="bench-results.md"
            fi
            ;;
        -h | --help) usage; exit 0 ;;
        *) usage; die "unknown argument: $1" ;;
    esac
    shift
done

[[ "$BENCH_N" =~ ^[1-9][0-9]*$ ]] || die "BENCH_N must be a positive integer (got '$BENCH_N')"
[[ "$BENCH_ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "BENCH_ROUNDS must be a positive integer (got '$BENCH_ROUNDS')"
[[ "$BENCH_TIMEOUT" =~ ^[1-9][0-9]*$ ]] || die "BENCH_TIMEOUT must be a positive integer (got '$BENCH_TIMEOUT')"
if [[ -n "$out_file" && ! -d "$(dirname -- "$out_file")" ]]; then
    die "directory for --out does not exist: $(dirname -- "$out_file")"
fi

# --- state + cleanup --------------------------------------------------------

tmp_root=""
durakv_pid=""
redis_pid=""

stop_pid() {
    local pid="$1" i
    [[ -n "$pid" ]] || return 0
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do # up to 10 s for a clean shutdown
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "pid $pid did not stop after SIGTERM, sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

stop_servers() {
    stop_pid "$durakv_pid"
    durakv_pid=""
    stop_pid "$redis_pid"
    redis_pid=""
}

cleanup() {
    local rc=$?
    trap - EXIT
    stop_servers
    if [[ -n "$tmp_root" && -d "$tmp_root" ]]; then
        rm -rf -- "$tmp_root"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- prerequisites ----------------------------------------------------------

if [[ ! -x "$REDIS_SERVER" || ! -x "$REDIS_BENCHMARK" || ! -x "$REDIS_CLI" ]]; then
    if [[ "$(id -u)" -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
        log "installing redis-server and redis-tools"
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y redis-server redis-tools >&2 ||
            { apt-get update >&2 && apt-get install -y redis-server redis-tools >&2; }
    fi
    for b in "$REDIS_SERVER" "$REDIS_BENCHMARK" "$REDIS_CLI"; do
        [[ -x "$b" ]] || die "$b not found; install with: apt-get install -y redis-server redis-tools"
    done
fi
command -v timeout >/dev/null 2>&1 || die "timeout (coreutils) is required"

if ((build)); then
    log "building durakv (cargo build --release, CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
    (cd "$repo_root" && cargo build --release) >&2
fi
[[ -x "$DURAKV_BIN" ]] || die "durakv binary not found at $DURAKV_BIN (build it or drop --no-build)"

tmp_root=$(mktemp -d "${TMPDIR:-/tmp}/durakv-bench.XXXXXX")

# --- helpers ----------------------------------------------------------------

# Prints two distinct free TCP ports (40000-60999) on 127.0.0.1, space separated.
pick_ports() {
    if command -v python3 >/dev/null 2>&1; then
        python3 - <<'PY'
import random, socket
socks = []
for _ in range(1000):
    if len(socks) == 2:
        break
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", random.randint(40000, 60999)))
        socks.append(s)
    except OSError:
        s.close()
if len(socks) < 2:
    raise SystemExit("no free ports in 40000-60999")
print(" ".join(str(s.getsockname()[1]) for s in socks))
for s in socks:
    s.close()
PY
        return
    fi
    local ports=() p tries=0
    while ((${#ports[@]} < 2)); do
        ((++tries < 1000)) || die "could not find free ports"
        p=$((40000 + RANDOM % 20000))
        [[ "${ports[0]:-}" != "$p" ]] || continue
        # A port where nothing accepts a connection is taken as free.
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            ports+=("$p")
        fi
    done
    echo "${ports[0]} ${ports[1]}"
}

# wait_for_ping NAME PID PORT LOGFILE
wait_for_ping() {
    local name="$1" pid="$2" port="$3" logfile="$4" deadline=$((SECONDS + PING_DEADLINE))
    while ((SECONDS < deadline)); do
        if ! kill -0 "$pid" 2>/dev/null; then
            log "$name (pid $pid) exited during startup; last log lines:"
            tail -n 20 "$logfile" >&2 || true
            die "$name failed to start"
        fi
        if [[ "$(timeout 2 "$REDIS_CLI" -h 127.0.0.1 -p "$port" PING 2>/dev/null || true)" == "PONG" ]]; then
            return 0
        fi
        sleep 0.2
    done
    log "$name did not answer PING on port $port within ${PING_DEADLINE}s; last log lines:"
    tail -n 20 "$logfile" >&2 || true
    die "$name not ready"
}

# run_bench PORT TEST PIPELINE -> prints rps (empty + non-zero status on failure)
run_bench() {
    local port="$1" test="$2" pipeline="$3" csv
    if ! csv=$(timeout "$BENCH_TIMEOUT" "$REDIS_BENCHMARK" -h 127.0.0.1 -p "$port" \
        -t "$test" -c "$CLIENTS" -n "$BENCH_N" -r "$KEYSPACE" -d "$DATASIZE" \
        -P "$pipeline" --csv 2>/dev/null); then
        return 1
    fi
    # Rows look like: "SET","12345.67",...  (MSET is reported as "MSET (10 keys)").
    awk -F'"' -v t="$test" '
        $2 == t || index($2, t " (") == 1 { if ($4 ~ /^[0-9.]+$/) { print $4; found = 1; exit } }
        END { if (!found) exit 1 }
    ' <<<"$csv"
}

fmt_rps() {
    if [[ -n "$1" ]]; then printf '%.0f' "$1"; else printf 'n/a'; fi
}

# median NUMBERS... -> the median (mean of the middle two for an even count); empty if none.
median() {
    (($# > 0)) || return 0
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
        if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# ratio_summary "D R" PAIRS... -> "median (min-max)" of D/R over the pairs, or n/a.
ratio_summary() {
    local ratios=() pair d r
    for pair in "$@"; do
        read -r d r <<<"$pair"
        ratios+=("$(awk -v d="$d" -v r="$r" 'BEGIN { if (r > 0) printf "%.4f", d / r }')")
    done
    if ((${#ratios[@]} == 0)); then
        printf 'n/a'
        return
    fi
    local sorted
    sorted=$(printf '%s\n' "${ratios[@]}" | sort -g)
    awk -v m="$(median "${ratios[@]}")" -v lo="$(head -n 1 <<<"$sorted")" -v hi="$(tail -n 1 <<<"$sorted")" \
        'BEGIN { printf "%.2f (%.2f-%.2f)", m, lo, hi }'
}

# --- run --------------------------------------------------------------------

log "durakv: $DURAKV_BIN ${DURAKV_ARGS:-}"
log "redis:  $REDIS_SERVER ($("$REDIS_SERVER" --version | head -n 1))"
log "params: -c $CLIENTS -n $BENCH_N -r $KEYSPACE -d $DATASIZE, tests ${TESTS[*]}, pipelines ${PIPELINES[*]}, $BENCH_ROUNDS round(s)"

rows=()
failures=0

for policy in "${POLICIES[@]}"; do
    durakv_dir="$tmp_root/durakv-$policy"
    redis_dir="$tmp_root/redis-$policy"
    mkdir -p "$durakv_dir" "$redis_dir"
    port_pair=$(pick_ports)
    read -r durakv_port redis_port <<<"$port_pair"
    [[ -n "${durakv_port:-}" && -n "${redis_port:-}" ]] || die "could not pick ports"

    log "appendfsync=$policy: durakv on :$durakv_port, redis on :$redis_port"
    # shellcheck disable=SC2086 # DURAKV_ARGS is a list of flags
    "$DURAKV_BIN" --port "$durakv_port" --bind 127.0.0.1 --dir "$durakv_dir" \
        --appendfsync "$policy" ${DURAKV_ARGS:-} >"$tmp_root/durakv-$policy.log" 2>&1 &
    durakv_pid=$!
    "$REDIS_SERVER" --port "$redis_port" --bind 127.0.0.1 --dir "$redis_dir" \
        --save "" --appendonly yes --appendfsync "$policy" >"$tmp_root/redis-$policy.log" 2>&1 &
    redis_pid=$!

    wait_for_ping durakv "$durakv_pid" "$durakv_port" "$tmp_root/durakv-$policy.log"
    wait_for_ping redis "$redis_pid" "$redis_port" "$tmp_root/redis-$policy.log"

    for pipeline in "${PIPELINES[@]}"; do
        for test in "${TESTS[@]}"; do
            d_all=() r_all=() pairs=()
            for ((round = 1; round <= BENCH_ROUNDS; round++)); do
                d_rps=$(run_bench "$durakv_port" "$test" "$pipeline") || {
                    log "  redis-benchmark against durakv failed ($test -P $pipeline)"
                    d_rps=""
                    failures=$((failures + 1))
                }
                r_rps=$(run_bench "$redis_port" "$test" "$pipeline") || {
                    log "  redis-benchmark against redis failed ($test -P $pipeline)"
                    r_rps=""
                    failures=$((failures + 1))
                }
                log "  $test -P $pipeline round $round: durakv $(fmt_rps "$d_rps"), redis $(fmt_rps "$r_rps")"
                if [[ -n "$d_rps" ]]; then d_all+=("$d_rps"); fi
                if [[ -n "$r_rps" ]]; then r_all+=("$r_rps"); fi
                if [[ -n "$d_rps" && -n "$r_rps" ]]; then pairs+=("$d_rps $r_rps"); fi
            done
            rows+=("| $test | $pipeline | $policy | $(fmt_rps "$(median "${d_all[@]}")") | $(fmt_rps "$(median "${r_all[@]}")") | $(ratio_summary "${pairs[@]}") |")
        done
    done

    stop_servers
done

table=$(
    echo "| test | pipeline | fsync | durakv ops/s (median) | redis ops/s (median) | durakv/redis, median (range) of $BENCH_ROUNDS rounds |"
    echo "| --- | ---: | --- | ---: | ---: | ---: |"
    printf '%s\n' "${rows[@]}"
)

printf '%s\n' "$table"
if [[ -n "$out_file" ]]; then
    printf '%s\n' "$table" >"$out_file"
    log "table written to $out_file"
fi

if ((failures > 0)); then
    die "$failures benchmark run(s) failed (shown as n/a)"
fi
