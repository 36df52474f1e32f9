#!/usr/bin/env bash
# API benchmark (issue 5): `telleverk serve` on 10 000 devices with a year of
# readings, the device list loaded with wrk and the fleet's counter report
# fetched with curl.
#
#   bash benches/api.sh                 # the figures in benches/README.md
#   DURATION=10s bash benches/api.sh    # a shorter load
#
# The database and its config are made once by `cargo bench --bench telleverk
# -- api_seed` (benches/api_seed.rs says why these sizes) into
# target/bench-data/ and reused. This script adds [http] (a free loopback port
# and a viewer token from `telleverk token new`), starts the server, waits for
# /healthz (answered once the first fleet view is built) and for the device
# list to hold the whole fleet, then measures:
#   - wrk -t1 -c16 -d30s --latency on /api/v1/devices?limit=100 (the issue's
#     target: p99 < 20 ms), and on a page from the middle (after=);
#   - curl of /api/v1/reports/counters for May 2026, the whole fleet, as
#     JSON, CSV and XLSX: wall time and size, 3 times each;
#   - the server's peak RSS (VmHWM) and the time from start to the first view.
# The raw output goes to benches/results/api.txt with the commit, date, nproc
# and command lines (the token itself is never written).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-30s}
FROM=2026-05-01
TO=2026-06-01
MIDDLE=A7PU000005000

# shellcheck source=benches/lib.sh
source benches/lib.sh
need wrk || install wrk
need curl || install curl

bench_setup api

results_header "DURATION=$DURATION" "wrk: $(wrk --version 2>&1 | head -1)" "curl: $(curl --version | head -1)"

log ""
log "## data (cargo bench --bench telleverk -- api_seed)"
cargo bench --quiet --bench telleverk -- api_seed 2>"$WORK/seed.err" | tee "$WORK/seed.txt" >> "$RESULTS" \
    || { cat "$WORK/seed.err"; exit 1; }
cat "$WORK/seed.txt"
SEED_CONFIG=$(sed -n 's/^config: //p' "$WORK/seed.txt")
[ -f "$SEED_CONFIG" ] || { echo "api_seed wrote no config:"; cat "$WORK/seed.err"; exit 1; }

PORT=$(free_port)
"$BIN" token new --name bench --role viewer > "$WORK/token.txt"
TOKEN=$(grep -o 'tlv_[0-9a-f]*' "$WORK/token.txt" | head -1)
CONFIG=$WORK/api.toml
{
    cat "$SEED_CONFIG"
    printf '\n[http]\nlisten = "127.0.0.1:%s"\n\n' "$PORT"
    sed -n '/^\[\[http.token\]\]/,$p' "$WORK/token.txt"
} > "$CONFIG"
AUTH="Authorization: Bearer $TOKEN"
BASE=http://127.0.0.1:$PORT

log ""
log "## start"
# The view logs each build (and its time) at debug level.
LOG=info,telleverk::http::view=debug
log "command: RUST_LOG=$LOG $BIN serve --config CONFIG (the api_seed config + [http] on 127.0.0.1:$PORT and one viewer token)"
START=$(date +%s.%N)
RUST_LOG=$LOG "$BIN" serve --config "$CONFIG" > "$WORK/serve.log" 2>&1 &
CHILD=$!
for _ in $(seq 6000); do
    curl -sf "$BASE/healthz" >/dev/null 2>&1 && break
    kill -0 "$CHILD" 2>/dev/null || { echo "telleverk serve stopped:"; cat "$WORK/serve.log"; exit 1; }
    sleep 0.05
done
READY=$(date +%s.%N)
curl -sf "$BASE/healthz" >/dev/null || { echo "no /healthz after 300 s:"; cat "$WORK/serve.log"; exit 1; }
log "start to /healthz answered (config loaded, database opened, first fleet view built): $(calc "$READY - $START") s"
log "server log: $(grep -o 'fleet view built.*' "$WORK/serve.log" | head -1 | sed 's/\x1b\[[0-9;]*m//g')"
log "peak RSS after start: $(mb_of "$CHILD" VmHWM) MB; CPU so far $(cpu_of "$CHILD") s"

# Every page of the device list, 1 000 at a time: the whole fleet must be there.
count_devices() {
    local after="" total=0 page
    while :; do
        page=$(curl -sf -H "$AUTH" "$BASE/api/v1/devices?limit=1000${after:+&after=$after}")
        read -r n after < <(echo "$page" | python3 -c 'import json,sys; p=json.load(sys.stdin); print(len(p["items"]), p["next"] or "")')
        total=$((total + n))
        [ -n "$after" ] || break
    done
    echo "$total"
}
DEVICES=$(count_devices)
log "devices in the list: $DEVICES"
[ "$DEVICES" = 10000 ] || { echo "expected 10000 devices"; exit 1; }
curl -sf -H "$AUTH" "$BASE/api/v1/devices?limit=100" -o "$WORK/page.json"
log "one page of 100: $(wc -c < "$WORK/page.json") bytes"
log "open alerts by kind: $(curl -sf -H "$AUTH" "$BASE/api/v1/alerts" | python3 -c 'import collections,json,sys; c=collections.Counter(a["kind"] for a in json.load(sys.stdin)["items"]); print(", ".join(f"{k} {n}" for k, n in sorted(c.items())) or "none")')"

# One wrk run: label, URL path.
wrk_run() {
    local label=$1 path=$2 cpu_before
    log ""
    log "## wrk: $label"
    log "command: wrk -t1 -c16 -d$DURATION --latency -H \"Authorization: Bearer <token>\" $BASE$path"
    log "load average before: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine shows here)"
    cpu_before=$(cpu_of "$CHILD")
    wrk -t1 -c16 -d"$DURATION" --latency -H "$AUTH" "$BASE$path" > "$WORK/wrk.txt"
    tee -a "$RESULTS" < "$WORK/wrk.txt"
    log "server CPU during the run: $(calc "$(cpu_of "$CHILD") - $cpu_before") s"
    if grep -q 'Non-2xx' "$WORK/wrk.txt"; then echo "wrk saw error answers"; exit 1; fi
}
# A short warm-up first (not recorded): connections, pool, caches.
wrk -t1 -c16 -d5s -H "$AUTH" "$BASE/api/v1/devices?limit=100" >/dev/null
wrk_run "first page" "/api/v1/devices?limit=100"
wrk_run "a page from the middle" "/api/v1/devices?limit=100&after=$MIDDLE"

log ""
log "## counter report of the whole fleet, $FROM to $TO"
for format in json csv xlsx; do
    url="$BASE/api/v1/reports/counters?from=$FROM&to=$TO&format=$format"
    log "command: curl -sS -H \"Authorization: Bearer <token>\" -o FILE -w '%{http_code} %{time_total} %{size_download}' \"$url\""
    : > "$WORK/times"
    for run in 1 2 3; do
        read -r code secs size < <(curl -sS -H "$AUTH" -o "$WORK/report.$format" \
            -w '%{http_code} %{time_total} %{size_download}\n' "$url")
        log "$format run $run: HTTP $code, $secs s, $size bytes"
        [ "$code" = 200 ] || { head -c 500 "$WORK/report.$format"; exit 1; }
        echo "$secs" >> "$WORK/times"
    done
    sort -n "$WORK/times" | awk -v f="$format" -v size="$size" \
        'NR == 1 {min = $1} NR == 2 {med = $1} END {printf "%s: min %.3f s, median %.3f s of 3; %.2f MB\n", f, min, med, size / 1e6}' \
        | tee -a "$RESULTS"
done
log "devices in the JSON report: $(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["devices"]))' "$WORK/report.json")"
log "rows in the CSV report (header included): $(wc -l < "$WORK/report.csv")"

log ""
log "## server"
log "peak RSS (VmHWM) at the end: $(mb_of "$CHILD" VmHWM) MB; RSS now $(mb_of "$CHILD" VmRSS) MB; CPU $(cpu_of "$CHILD") s in all"
log "fleet view builds (ms), the first at start and then every minute: $(sed 's/\x1b\[[0-9;]*m//g' "$WORK/serve.log" | sed -n 's/.*fleet view built.* ms=\([0-9]*\).*/\1/p' | xargs)"
log "collector: $(grep -c 'waiting for 127.0.0.1:9' "$WORK/serve.log" || true) polls timed out at 127.0.0.1:9, as intended; other warnings and errors:"
sed 's/\x1b\[[0-9;]*m//g' "$WORK/serve.log" | grep -v 'waiting for 127.0.0.1:9' | grep -i -m5 'error\|warn' | tee -a "$RESULTS" || true
log ""
log "done; raw figures in $RESULTS"
