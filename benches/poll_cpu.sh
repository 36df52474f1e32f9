#!/usr/bin/env bash
# Poll CPU benchmark (issue 15 §2): what one `poll --once` round of 10 000
# simulated bizhubs costs the poller in CPU per SNMP request, and how close a
# round comes to its floor when the devices answer after 50 ms.
#
#   bash benches/poll_cpu.sh               # the figures in benches/README.md
#   RUNS=1 DEVICES=2000 bash benches/poll_cpu.sh   # a quick look
#   COMPARE=/tmp/telleverk-before bash benches/poll_cpu.sh   # A/B
#
# COMPARE names another telleverk binary (say, the build before a change):
# its rounds alternate with this build's against the same simulator, so both
# see the same load. On a shared machine only such interleaved figures
# compare fairly; runs minutes apart differed by half here.
#
# Two simulators in turn (quirks off, every device healthy): one answering at
# once (`--delay 0ms`), where the round is bound by the poller's own CPU, and
# one at 50 ms, where the round has a floor: requests per device × delay ×
# devices / concurrency (benches/README.md "fleet"). Each round is a fresh
# `poll --once` process at concurrency 1 024 into an empty database.
#
# The text summary of `poll --once` is read, not `--json`: only the text form
# prints the round line (round wall, requests per entry, and the CPU of the
# polling alone, without start-up and storing the round). The process as a
# whole is measured by /usr/bin/time. The simulator shares the machine, so
# each figure is the min and median of RUNS rounds. Raw output, with commit,
# date, nproc and command line, goes to benches/results/poll_cpu.txt.
set -euo pipefail
cd "$(dirname "$0")/.."

DEVICES=${DEVICES:-10000}
COMPARE=${COMPARE:-}
RUNS=${RUNS:-5}
CONCURRENCY=${CONCURRENCY:-1024}

# shellcheck source=benches/lib.sh
source benches/lib.sh
bench_setup poll_cpu

free_port() { python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
calc() { printf "%.${2:-2}f" "$(echo "$1" | bc -l)"; }
# min and median of numbers, one a line.
min_median() { sort -g | awk '{v[NR] = $1} END {m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%s / %s", v[1], m}'; }

results_header "DEVICES=$DEVICES RUNS=$RUNS CONCURRENCY=$CONCURRENCY${COMPARE:+ COMPARE=$COMPARE}" "load average: $(cut -d' ' -f1-3 /proc/loadavg)"

# Starts a simulator with reply delay $1; sets CHILD and the bench config.
start_sim() {
    local port
    port=$(free_port)
    rm -f "$WORK/sim.toml"
    "$BIN" simulate --devices "$DEVICES" --listen "127.0.0.1:$port" --delay "$1" --no-quirks \
        --write-config "$WORK/sim.toml" >"$WORK/sim.log" 2>&1 &
    CHILD=$!
    for _ in $(seq 100); do [ -s "$WORK/sim.toml" ] && break; sleep 0.1; done
    [ -s "$WORK/sim.toml" ] || { echo "the simulator did not start:"; cat "$WORK/sim.log"; exit 1; }
    sed -e "s/^concurrency = .*/concurrency = $CONCURRENCY/" \
        -e "s|^path = .*|path = \"$WORK/bench.db\"|" "$WORK/sim.toml" > "$WORK/bench.toml"
}
stop_sim() { kill -INT "$CHILD"; wait "$CHILD" 2>/dev/null || true; CHILD=; }

# One round of binary $2 (label $3) against the running simulator (delay $1
# in ms); appends "round_wall cpu_us_per_request rss_mb floor_ratio" to
# $WORK/figures-$3.
round() {
    local delay_ms=$1 bin=$2 label=$3 sim_before out round rpe polling wall user sys rss requests floor
    rm -f "$WORK"/bench.db*
    sim_before=$(cpu_of "$CHILD")
    /usr/bin/time -f '%e %U %S %M' -o "$WORK/time" "$bin" poll --once --config "$WORK/bench.toml" > "$WORK/out"
    round=$(grep '^round:' "$WORK/out")
    read -r wall user sys rss < "$WORK/time"
    # "round: polled in 2.58 s, stored in 0.50 s; 2.95 requests per entry; CPU 2.98 s (polling 2.15 s), …"
    local polled_in answered
    polled_in=$(sed -E 's/^round: polled in ([0-9.]+) s.*/\1/' <<<"$round")
    rpe=$(sed -E 's/.*; ([0-9.]+) requests per entry.*/\1/' <<<"$round")
    polling=$(sed -E 's/.*\(polling ([0-9.]+) s\).*/\1/' <<<"$round")
    answered=$(grep -E '^[0-9]+ of [0-9]+ entries answered' "$WORK/out" | cut -d' ' -f1)
    requests=$(calc "$rpe * $DEVICES" 0)
    # The floor is 0 without a delay: no ratio then.
    local ratio=-
    floor=$(calc "$rpe * $delay_ms / 1000 * $DEVICES / $CONCURRENCY" 3)
    [ "$delay_ms" = 0 ] || ratio=$(calc "$polled_in / $floor")
    log "$label, delay ${delay_ms} ms: round wall $polled_in s (floor $floor s, ratio $ratio); answered $answered of $DEVICES; $rpe requests per device ($requests); polling CPU $polling s = $(calc "$polling * 1000000 / $requests" 1) µs per request; process wall $wall s, CPU $(calc "$user + $sys") s (user $user, sys $sys), peak RSS $(calc "$rss / 1000" 1) MB; simulator CPU $(calc "$(cpu_of "$CHILD") - $sim_before") s"
    log "  $round"
    echo "$polled_in $(calc "$polling * 1000000 / $requests" 1) $(calc "$rss / 1000" 1) $ratio" >> "$WORK/figures-$label"
}

# Runs RUNS rounds at delay $1 ms and logs the min / median of each figure.
series() {
    local delay_ms=$1
    log ""
    log "## $DEVICES devices, reply delay $delay_ms ms, concurrency $CONCURRENCY, $RUNS rounds"
    start_sim "${delay_ms}ms"
    rm -f "$WORK"/figures-*
    for _ in $(seq "$RUNS"); do
        round "$delay_ms" "$BIN" this
        [ -z "$COMPARE" ] || round "$delay_ms" "$COMPARE" compare
    done
    stop_sim
    local label f
    for label in this ${COMPARE:+compare}; do
        f=$WORK/figures-$label
        log "$label, min / median: round wall $(cut -d' ' -f1 "$f" | min_median) s; CPU per request $(cut -d' ' -f2 "$f" | min_median) µs; peak RSS $(cut -d' ' -f3 "$f" | min_median) MB; ratio to floor $(cut -d' ' -f4 "$f" | min_median)"
    done
}

series 0
series 50
log ""
log "done; raw figures in $RESULTS"
