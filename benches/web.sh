#!/usr/bin/env bash
# Web pages benchmark (issue 19): `telleverk serve` on 10 000 devices with a
# year of readings (the api_seed database, as benches/api.sh), logged in with
# a session cookie, then:
#   - wrk -t1 -c16 -d30s --latency on `/` (the fleet's first page; the
#     issue's target: server time p99 < 50 ms) and on a page from the middle
#     of a search-free, serial-sorted fleet (page=100);
#   - the size of `/` over the wire, gzipped (target < 150 KB) and not;
#   - a device page, 20 times (target < 100 ms);
#   - the page of the contract over all 10 000 devices, 3 times (the issue's
#     target is < 300 ms for 1 000 devices with a year of 15-minute polls;
#     this database has 10 000 devices polled three times a working day).
# The raw output goes to benches/results/web.txt.
#
#   bash benches/web.sh                 # the figures in benches/README.md
#   DURATION=10s bash benches/web.sh    # a shorter load
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-30s}
MIDDLE=A7PU000005000

# shellcheck source=benches/lib.sh
source benches/lib.sh
need wrk || install wrk
need curl || install curl

bench_setup web

results_header "DURATION=$DURATION" "wrk: $(wrk --version 2>&1 | head -1)"

log ""
log "## data (cargo bench --bench telleverk -- api_seed)"
cargo bench --quiet --bench telleverk -- api_seed 2>"$WORK/seed.err" | tee "$WORK/seed.txt" >> "$RESULTS" \
    || { cat "$WORK/seed.err"; exit 1; }
SEED_CONFIG=$(sed -n 's/^config: //p' "$WORK/seed.txt")
[ -f "$SEED_CONFIG" ] || { echo "api_seed wrote no config:"; cat "$WORK/seed.err"; exit 1; }

PORT=$(free_port)
"$BIN" token new --name bench --role viewer > "$WORK/token.txt"
TOKEN=$(grep -o 'tlv_[0-9a-f]*' "$WORK/token.txt" | head -1)
CONFIG=$WORK/web.toml
{
    cat "$SEED_CONFIG"
    printf '\n[http]\nlisten = "127.0.0.1:%s"\n\n' "$PORT"
    sed -n '/^\[\[http.token\]\]/,$p' "$WORK/token.txt"
} > "$CONFIG"
BASE=http://127.0.0.1:$PORT

"$BIN" serve --config "$CONFIG" > "$WORK/serve.log" 2>&1 &
CHILD=$!
for _ in $(seq 6000); do
    curl -sf "$BASE/healthz" >/dev/null 2>&1 && break
    kill -0 "$CHILD" 2>/dev/null || { echo "telleverk serve stopped:"; cat "$WORK/serve.log"; exit 1; }
    sleep 0.05
done
curl -sf "$BASE/healthz" >/dev/null || { echo "no /healthz:"; cat "$WORK/serve.log"; exit 1; }

# Log in as a browser does: the form, then the cookie.
COOKIE=$(curl -s -o /dev/null -D - --data-urlencode "token=$TOKEN" -d "next=/" "$BASE/login" \
    | sed -n 's/^set-cookie: \(telleverk_session=[0-9a-f]*\).*/\1/ip' | tr -d '\r')
[ -n "$COOKIE" ] || { echo "no session cookie"; exit 1; }
log ""
log "## the fleet page"
plain=$(curl -s -b "$COOKIE" -o "$WORK/fleet.html" -w '%{size_download}' "$BASE/")
gz=$(curl -s -b "$COOKIE" -H 'Accept-Encoding: gzip' -o "$WORK/fleet.gz" -w '%{size_download}' "$BASE/")
grep -q 'id="fleet"' "$WORK/fleet.html" || { echo "not the fleet page"; head -c 400 "$WORK/fleet.html"; exit 1; }
log "/ (the first of $(grep -o 'Page 1 of [0-9]*' "$WORK/fleet.html") pages): $plain bytes, $gz bytes gzipped (target < 150 000)"

wrk_run() {
    local label=$1 path=$2 connections=${3:-16} cpu_before
    log ""
    log "## wrk: $label"
    log "command: wrk -t1 -c$connections -d$DURATION --latency -H \"Cookie: <session>\" -H \"Accept-Encoding: gzip\" $BASE$path"
    log "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
    cpu_before=$(cpu_of "$CHILD")
    wrk -t1 -c"$connections" -d"$DURATION" --latency -H "Cookie: $COOKIE" -H "Accept-Encoding: gzip" "$BASE$path" > "$WORK/wrk.txt"
    tee -a "$RESULTS" < "$WORK/wrk.txt"
    log "server CPU during the run: $(calc "$(cpu_of "$CHILD") - $cpu_before") s"
    if grep -q 'Non-2xx' "$WORK/wrk.txt"; then echo "wrk saw error answers"; exit 1; fi
}
wrk -t1 -c16 -d5s -H "Cookie: $COOKIE" "$BASE/" >/dev/null
wrk_run "the fleet's first page, one connection (server time)" "/" 1
wrk_run "the fleet's first page, 16 connections" "/"
wrk_run "page 100 of the fleet, 16 connections" "/?page=100"

# times LABEL PATH N: N fetches, min / median / max.
times() {
    local label=$1 path=$2 n=$3
    : > "$WORK/times"
    for _ in $(seq "$n"); do
        read -r code secs < <(curl -s -b "$COOKIE" -H 'Accept-Encoding: gzip' -o "$WORK/page" \
            -w '%{http_code} %{time_total}\n' "$BASE$path")
        [ "$code" = 200 ] || { echo "$label: HTTP $code"; exit 1; }
        echo "$secs" >> "$WORK/times"
    done
    sort -n "$WORK/times" | awk -v l="$label" -v n="$n" \
        '{t[NR] = $1} END {printf "%s: min %.3f s, median %.3f s, max %.3f s of %d\n", l, t[1], t[int((n + 1) / 2)], t[n], n}' \
        | tee -a "$RESULTS"
}
log ""
log "## one page at a time (curl, gzip)"
times "device page /devices/$MIDDLE" "/devices/$MIDDLE" 20
times "contract page /contracts/FLEET (10 000 devices)" "/contracts/FLEET" 3
log "peak RSS: $(mb_of "$CHILD" VmHWM) MB; now $(mb_of "$CHILD" RssAnon) MB anonymous, $(mb_of "$CHILD" RssFile) MB of mapped files (the database: the system's cache)"
