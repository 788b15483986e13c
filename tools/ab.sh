#!/usr/bin/env bash
#
# ab.sh - A/B runs: several durakv variants (binaries, flags, environment) and a stock
# redis-server side by side, each on its own loopback port, one redis-benchmark at a time.
#
# What it prints, per test and round: ops/s of each server and the server's CPU time per
# request (user + system, from /proc/PID/stat before and after the run). CPU per request is
# the steadier signal on a small shared machine, where ops/s of one round can move by 20%.
# This is how the A/B numbers in docs/ARCHITECTURE.md were taken.
#
# Usage:
#   VARIANTS="name|ENV=V ...|/path/to/durakv|--flag v ...;name2|...|...|..." tools/ab.sh
#   Environment:
#     VARIANTS  ;-separated variants, each name|env|binary|flags (env and flags may be empty)
#     TESTS     ;-separated redis-benchmark tests with options (default "set -P 1;get -P 1")
#     ROUNDS    rounds over all tests (default 1)
#     FSYNC     appendfsync for every server (default always)
#     N         requests per run (default 100000)
#
# Only the processes this script starts are stopped (by PID, from an EXIT trap); its data
# directories are temporary and removed.

set -euo pipefail

: "${VARIANTS:?set VARIANTS, see the header of this script}"
FSYNC="${FSYNC:-always}"
N="${N:-100000}"
ROUNDS="${ROUNDS:-1}"
TESTS="${TESTS:-set -P 1;get -P 1}"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/durakv-ab.XXXXXX")
names=() pids=() ports=()
cleanup() {
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf -- "$tmp"
}
trap cleanup EXIT

port=$((17400 + RANDOM % 500))
IFS=';' read -ra variants <<<"$VARIANTS"
for v in "${variants[@]}"; do
    IFS='|' read -r name envs bin flags <<<"$v"
    mkdir -p "$tmp/$name"
    # shellcheck disable=SC2086 # envs and flags are lists
    env $envs "$bin" --port "$port" --dir "$tmp/$name" --appendfsync "$FSYNC" $flags \
        >"$tmp/$name.log" 2>&1 &
    pids+=("$!") names+=("$name") ports+=("$port")
    port=$((port + 1))
done
mkdir -p "$tmp/redis"
redis-server --port "$port" --bind 127.0.0.1 --dir "$tmp/redis" --appendonly yes \
    --appendfsync "$FSYNC" --save "" >"$tmp/redis.log" 2>&1 &
pids+=("$!") names+=("redis") ports+=("$port")

for i in "${!ports[@]}"; do
    for _ in $(seq 100); do
        [[ "$(redis-cli -p "${ports[$i]}" PING 2>/dev/null)" == "PONG" ]] && break
        sleep 0.1
    done
done

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

IFS=';' read -ra tests <<<"$TESTS"
for _ in $(seq "$ROUNDS"); do
    for t in "${tests[@]}"; do
        for i in "${!names[@]}"; do
            c1=$(cpu_ticks "${pids[$i]}")
            # shellcheck disable=SC2086 # the test's options are a list
            out=$(timeout 300 redis-benchmark -p "${ports[$i]}" -t ${t%% *} ${t#* } -n "$N" \
                -c 50 -r 100000 -d 64 --csv 2>/dev/null | tail -n 1)
            c2=$(cpu_ticks "${pids[$i]}")
            ops=$(cut -d, -f2 <<<"$out" | tr -d '"')
            us=$(awk -v a="$c1" -v b="$c2" -v n="$N" -v hz="$hz" \
                'BEGIN { printf "%.1f", (b - a) * 1e6 / hz / n }')
            printf '%-10s %-10s %12s ops/s %7s us/req\n' "$t" "${names[$i]}" "$ops" "$us"
        done
    done
done
