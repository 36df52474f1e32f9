#!/usr/bin/env bash
# `telleverk serve` at 10 000 devices with a year of readings, at rest and
# after a change (issue 15 §2): start to /healthz, peak RSS, the fleet view's
# builds, the contracts' check, and the CPU the service uses between rounds.
#
#   bash benches/serve.sh              # 3 starts, 150 s at rest each
#   REST=60 STARTS=1 bash benches/serve.sh
#
# The database and config are api_seed's (`cargo bench --bench telleverk --
# api_seed`, made once into target/bench-data/); each start runs on a fresh
# copy of the database, so nothing a run stores reaches the next. The config
# gains [http] on a free port and an operator token; the collector asks one
# unreachable entry at a time (127.0.0.1:9, 10 s timeout), so between its
# datagrams the service is at rest, as between two rounds.
#
# Per start: the time from exec to /healthz answering (the devices read), the
# time to the first check of the contracts' alerts, peak RSS (VmHWM), the CPU
# seconds the process used over REST seconds at rest (every minute's rebuild
# included), then one reading entered through the API: the rebuild it causes
# (devices read again, contracts checked again) with its CPU. Raw output with
# commit, date and nproc goes to benches/results/serve.txt.
set -euo pipefail
cd "$(dirname "$0")/.."

REST=${REST:-150}
STARTS=${STARTS:-3}
# shellcheck source=benches/lib.sh
source benches/lib.sh
need curl || install curl

bench_setup serve

plain_log() { sed 's/\x1b\[[0-9;]*m//g' "$WORK/serve.log"; }
wait_log() { # pattern, count, seconds
    for _ in $(seq $(($3 * 20))); do
        [ "$(plain_log | grep -c "$1" || true)" -ge "$2" ] && return 0
        sleep 0.05
    done
    echo "no '$1' ×$2 in the log after $3 s:"; plain_log | tail -20; exit 1
}

results_header "REST=$REST STARTS=$STARTS"

cargo bench --quiet --bench telleverk -- api_seed > "$WORK/seed.txt" 2>"$WORK/seed.err" \
    || { cat "$WORK/seed.err"; exit 1; }
SEED_CONFIG=$(sed -n 's/^config: //p' "$WORK/seed.txt")
SEED_DB=$(sed -n 's/^database: \(.*\) ([0-9]* MB)$/\1/p' "$WORK/seed.txt")
[ -f "$SEED_DB" ] || { echo "api_seed wrote no database:"; cat "$WORK/seed.txt"; exit 1; }
log "data: $(head -1 "$WORK/seed.txt")"

"$BIN" token new --name bench --role operator > "$WORK/token.txt"
TOKEN=$(grep -o 'tlv_[0-9a-f]*' "$WORK/token.txt" | head -1)

for start in $(seq "$STARTS"); do
    log ""
    log "## start $start"
    cp "$SEED_DB" "$WORK/bench.db"
    cp "$SEED_DB.key" "$WORK/bench.db.key" 2>/dev/null || true
    PORT=$(free_port)
    {
        sed "s|^path = .*|path = \"$WORK/bench.db\"|" "$SEED_CONFIG"
        printf '\n[http]\nlisten = "127.0.0.1:%s"\n\n' "$PORT"
        sed -n '/^\[\[http.token\]\]/,$p' "$WORK/token.txt"
    } > "$WORK/serve.toml"
    sync
    BEGIN=$(date +%s.%N)
    RUST_LOG=info,telleverk::http::view=debug "$BIN" serve --config "$WORK/serve.toml" > "$WORK/serve.log" 2>&1 &
    CHILD=$!
    for _ in $(seq 6000); do
        curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
        kill -0 "$CHILD" 2>/dev/null || { echo "serve stopped:"; cat "$WORK/serve.log"; exit 1; }
        sleep 0.02
    done
    READY=$(date +%s.%N)
    log "start to /healthz: $(calc "$READY - $BEGIN") s (devices in the view: $(curl -sf "http://127.0.0.1:$PORT/healthz" | python3 -c 'import json,sys; print(json.load(sys.stdin)["devices"])'))"
    wait_log "contract alerts checked" 1 120
    CHECKED=$(date +%s.%N)
    log "start to the contracts' first check: $(calc "$CHECKED - $BEGIN") s; $(plain_log | grep -o 'contract alerts checked.*' | head -1)"
    log "first view build: $(plain_log | grep -o 'fleet view built.*' | head -1)"
    CPU0=$(cpu_of "$CHILD")
    sleep "$REST"
    CPU1=$(cpu_of "$CHILD")
    log "at rest for $REST s: CPU $(calc "$CPU1 - $CPU0") s = $(calc "($CPU1 - $CPU0) * 100 / $REST") % of a core"
    log "rebuilds at rest (ms): $(plain_log | sed -n 's/.*fleet view built.* ms=\([0-9]*\).*/\1/p' | tail -n +2 | xargs)"
    BUILDS=$(plain_log | grep -c 'fleet view built')
    CHECKS=$(plain_log | grep -c 'contract alerts checked')
    # A change: one reading entered through the API.
    CPU2=$(cpu_of "$CHILD")
    curl -sf -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
        -d '{"taken_at":"2026-06-30 17:00","meters":{"bw_total":99999999},"source":"manual","accept_implausible":true}' \
        "http://127.0.0.1:$PORT/api/v1/devices/A7PU000000007/readings" >/dev/null
    wait_log "contract alerts checked" $((CHECKS + 1)) 120
    CPU3=$(cpu_of "$CHILD")
    log "after a reading entered: $(plain_log | grep -o 'fleet view built.*' | sed -n "$((BUILDS + 1))p"); $(plain_log | grep -o 'contract alerts checked.*' | tail -1); CPU $(calc "$CPU3 - $CPU2") s"
    log "peak RSS (VmHWM): $(mb_of "$CHILD" VmHWM) MB; RSS now $(mb_of "$CHILD" VmRSS) MB"
    kill -KILL "$CHILD"; wait "$CHILD" 2>/dev/null || true; CHILD=""
done
log ""
log "done; raw figures in $RESULTS"
