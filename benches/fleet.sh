#!/usr/bin/env bash
# Fleet poll benchmark (issue 3): one poll round of a simulated bizhub fleet
# (`telleverk simulate` on loopback, 50 ms reply delay) by telleverk, by
# net-snmp's tools through `xargs -P 256`, and by Debian's
# prometheus-snmp-exporter scraped with curl in parallel.
#
#   bash benches/fleet.sh          # the figures in benches/README.md
#   DEVICES_BIG=2000 bash benches/fleet.sh   # a shorter run
#
# Why these sizes: 1 000 devices is a large customer; 10 000 is the target the
# issue sets for one telleverk (< 5 s wall at concurrency 1 024, < 150 MB RSS).
# Each telleverk round is a fresh `poll --once` process: cold profile cache,
# the first round into an empty database, and (second line) a round into a
# database that already holds the fleet. The raw output goes to
# benches/results/fleet.txt with the commit, date, nproc and command line.
set -euo pipefail
cd "$(dirname "$0")/.."

DEVICES_SMALL=${DEVICES_SMALL:-1000}
DEVICES_BIG=${DEVICES_BIG:-10000}
DELAY=${DELAY:-50ms}

# shellcheck source=benches/lib.sh
source benches/lib.sh
need snmpget && need snmpbulkwalk || install snmp
need prometheus-snmp-exporter || install prometheus-snmp-exporter
need curl || install curl
export MIBS=

cargo build --release --quiet
BIN=$PWD/target/release/telleverk
RESULTS=benches/results/fleet.txt
mkdir -p benches/results
WORK=$(mktemp -d)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM if "'"$1"'"=="udp" else socket.SOCK_STREAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

results_header "DEVICES_SMALL=$DEVICES_SMALL DEVICES_BIG=$DEVICES_BIG DELAY=$DELAY" "net.core.rmem_max: $(cat /proc/sys/net/core/rmem_max)"

# Starts a simulator; sets SIM_PID, SIM_PORT and SIM_CONFIG.
start_sim() {
    local n=$1; shift
    SIM_PORT=$(free_port udp)
    SIM_CONFIG=$WORK/sim-$n.toml
    rm -f "$SIM_CONFIG"
    "$BIN" simulate --devices "$n" --listen "127.0.0.1:$SIM_PORT" --delay "$DELAY" \
        --write-config "$SIM_CONFIG" "$@" >"$WORK/sim.log" 2>&1 &
    SIM_PID=$!
    PIDS+=("$SIM_PID")
    for _ in $(seq 100); do [ -s "$SIM_CONFIG" ] && return; sleep 0.1; done
    echo "the simulator did not start:"; cat "$WORK/sim.log"; exit 1
}
stop_sim() { kill -INT "$SIM_PID"; wait "$SIM_PID" 2>/dev/null || true; }

# One telleverk round: label, devices, concurrency, fresh|warm.
telleverk_round() {
    local label=$1 n=$2 conc=$3 db=$4
    sed -e "s/^concurrency = .*/concurrency = $conc/" \
        -e "s|^path = .*|path = \"$WORK/bench.db\"|" "$SIM_CONFIG" > "$WORK/bench.toml"
    [ "$db" = fresh ] && rm -f "$WORK"/bench.db*
    local sim_before start end round
    sim_before=$(cpu_of "$SIM_PID")
    start=$(date +%s.%N)
    round=$("$BIN" poll --once --config "$WORK/bench.toml" | grep -E '^(round:|[0-9]+ of)' | tr '\n' ' ')
    end=$(date +%s.%N)
    log "telleverk${label:+ ($label)}: $n devices, concurrency $conc, $db db: process wall $(calc "$end - $start") s; $round; simulator CPU $(calc "$(cpu_of "$SIM_PID") - $sim_before") s"
}

SCALARS="1.3.6.1.2.1.1.1.0 1.3.6.1.2.1.1.2.0 1.3.6.1.4.1.18334.1.1.1.1.6.2.1.0 1.3.6.1.2.1.25.3.2.1.3.1
1.3.6.1.2.1.43.5.1.1.17.1 1.3.6.1.2.1.25.3.2.1.5.1 1.3.6.1.2.1.25.3.5.1.1.1 1.3.6.1.2.1.25.3.5.1.2.1
1.3.6.1.2.1.43.10.2.1.4.1.1 1.3.6.1.4.1.18334.1.1.1.5.7.2.1.1.0 1.3.6.1.4.1.18334.1.1.1.5.7.2.1.3.0
1.3.6.1.4.1.18334.1.1.1.5.7.2.1.5.0"
for col in 5 7; do for c in 1 2 3 4; do for f in 1 2; do
    SCALARS="$SCALARS 1.3.6.1.4.1.18334.1.1.1.5.7.2.2.1.$col.$c.$f"
done; done; done
SUPPLIES=1.3.6.1.2.1.43.11.1.1
COLORANTS=1.3.6.1.2.1.43.12.1.1.4.1

communities() { grep '^community = ' "$SIM_CONFIG" | cut -d'"' -f2; }

# net-snmp: per device one snmpget (all scalars) and two snmpbulkwalks
# (supplies table, colorants), 256 devices at a time.
netsnmp_round() {
    local n=$1 sim_before start end
    communities > "$WORK/communities"
    cat > "$WORK/one.sh" <<EOF
#!/bin/sh
snmpget -v2c -c "\$1" -t 2 -r 1 -On 127.0.0.1:$SIM_PORT $(echo $SCALARS) >/dev/null
snmpbulkwalk -v2c -c "\$1" -t 2 -r 1 -On 127.0.0.1:$SIM_PORT $SUPPLIES >/dev/null
snmpbulkwalk -v2c -c "\$1" -t 2 -r 1 -On 127.0.0.1:$SIM_PORT $COLORANTS >/dev/null
EOF
    chmod +x "$WORK/one.sh"
    sim_before=$(cpu_of "$SIM_PID")
    local TIMEFORMAT="%R %U %S"
    local times
    times=$( { time xargs -P 256 -n 1 "$WORK/one.sh" < "$WORK/communities" 2>"$WORK/netsnmp.err"; } 2>&1 ) || true
    read -r wall user sys <<<"$times"
    log "net-snmp: $n devices, xargs -P 256 (3 processes per device): wall $wall s, CPU $(calc "$user + $sys") s (user $user, sys $sys); errors $(wc -l < "$WORK/netsnmp.err"); simulator CPU $(calc "$(cpu_of "$SIM_PID") - $sim_before") s"
}

# prometheus-snmp-exporter 0.21: one module per device (0.21 keeps the
# community in the module), numeric OIDs written by hand.
exporter_config() {
    local module
    module=$(cat <<'EOF'
  version: 2
  timeout: 2s
  retries: 1
  max_repetitions: 25
  get:
GETS
  walk:
  - 1.3.6.1.2.1.43.11.1.1.3
  - 1.3.6.1.2.1.43.11.1.1.5
  - 1.3.6.1.2.1.43.11.1.1.6
  - 1.3.6.1.2.1.43.11.1.1.8
  - 1.3.6.1.2.1.43.11.1.1.9
  - 1.3.6.1.2.1.43.12.1.1.4
  metrics:
  - {name: sysDescr, oid: 1.3.6.1.2.1.1.1, type: DisplayString}
  - {name: kmModel, oid: 1.3.6.1.4.1.18334.1.1.1.1.6.2.1, type: DisplayString}
  - {name: hrDeviceDescr, oid: 1.3.6.1.2.1.25.3.2.1.3, type: DisplayString, indexes: [{labelname: hrDeviceIndex, type: gauge}]}
  - {name: hrDeviceStatus, oid: 1.3.6.1.2.1.25.3.2.1.5, type: gauge, indexes: [{labelname: hrDeviceIndex, type: gauge}]}
  - {name: hrPrinterStatus, oid: 1.3.6.1.2.1.25.3.5.1.1, type: gauge, indexes: [{labelname: hrDeviceIndex, type: gauge}]}
  - {name: hrPrinterDetectedErrorState, oid: 1.3.6.1.2.1.25.3.5.1.2, type: OctetString, indexes: [{labelname: hrDeviceIndex, type: gauge}]}
  - {name: prtGeneralSerialNumber, oid: 1.3.6.1.2.1.43.5.1.1.17, type: DisplayString, indexes: [{labelname: hrDeviceIndex, type: gauge}]}
  - {name: prtMarkerLifeCount, oid: 1.3.6.1.2.1.43.10.2.1.4, type: counter, indexes: [{labelname: hrDeviceIndex, type: gauge}, {labelname: marker, type: gauge}]}
  - {name: kmGeneralCounter, oid: 1.3.6.1.4.1.18334.1.1.1.5.7.2.1, type: gauge, indexes: [{labelname: counter, type: gauge}, {labelname: instance0, type: gauge}]}
  - {name: kmFunctionPages, oid: 1.3.6.1.4.1.18334.1.1.1.5.7.2.2.1.5, type: gauge, indexes: [{labelname: colour, type: gauge}, {labelname: function, type: gauge}]}
  - {name: kmFunctionLarge, oid: 1.3.6.1.4.1.18334.1.1.1.5.7.2.2.1.7, type: gauge, indexes: [{labelname: colour, type: gauge}, {labelname: function, type: gauge}]}
  - {name: prtMarkerSuppliesColorantIndex, oid: 1.3.6.1.2.1.43.11.1.1.3, type: gauge, indexes: [{labelname: hrDeviceIndex, type: gauge}, {labelname: supply, type: gauge}]}
  - {name: prtMarkerSuppliesType, oid: 1.3.6.1.2.1.43.11.1.1.5, type: gauge, indexes: [{labelname: hrDeviceIndex, type: gauge}, {labelname: supply, type: gauge}]}
  - {name: prtMarkerSuppliesDescription, oid: 1.3.6.1.2.1.43.11.1.1.6, type: DisplayString, indexes: [{labelname: hrDeviceIndex, type: gauge}, {labelname: supply, type: gauge}]}
  - {name: prtMarkerSuppliesMaxCapacity, oid: 1.3.6.1.2.1.43.11.1.1.8, type: gauge, indexes: [{labelname: hrDeviceIndex, type: gauge}, {labelname: supply, type: gauge}]}
  - {name: prtMarkerSuppliesLevel, oid: 1.3.6.1.2.1.43.11.1.1.9, type: gauge, indexes: [{labelname: hrDeviceIndex, type: gauge}, {labelname: supply, type: gauge}]}
  - {name: prtMarkerColorantValue, oid: 1.3.6.1.2.1.43.12.1.1.4, type: DisplayString, indexes: [{labelname: hrDeviceIndex, type: gauge}, {labelname: colorant, type: gauge}]}
EOF
)
    local gets=""
    for oid in $SCALARS; do gets="$gets  - $oid"$'\n'; done
    module=${module/GETS/${gets%$'\n'}}
    local i=0
    : > "$WORK/snmp.yml"
    while read -r c; do
        i=$((i + 1))
        { printf 'm%05d:\n' "$i"; echo "$module"; printf '  auth:\n    community: %s\n' "$c"; } >> "$WORK/snmp.yml"
    done < <(communities)
}

exporter_round() {
    local n=$1
    exporter_config
    prometheus-snmp-exporter --config.file="$WORK/snmp.yml" --dry-run >/dev/null 2>&1 \
        || { prometheus-snmp-exporter --config.file="$WORK/snmp.yml" --dry-run; exit 1; }
    local port
    port=$(free_port tcp)
    prometheus-snmp-exporter --config.file="$WORK/snmp.yml" --web.listen-address="127.0.0.1:$port" \
        --log.level=warn >"$WORK/exporter.log" 2>&1 &
    local pid=$!
    PIDS+=("$pid")
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/" >/dev/null && break; sleep 0.1; done
    seq -f 'm%05g' 1 "$n" | sed "s|.*|http://127.0.0.1:$port/snmp?target=127.0.0.1:$SIM_PORT\&module=&|" > "$WORK/urls"
    # A check that the exporter really reads the simulator.
    curl -sf "$(head -1 "$WORK/urls")" | grep -q '^kmFunctionPages{colour="1",function="1"}' \
        || { echo "the exporter returned no counters:"; curl -s "$(head -1 "$WORK/urls")" | head; exit 1; }
    local sim_before exp_before
    sim_before=$(cpu_of "$SIM_PID")
    exp_before=$(cpu_of "$pid")
    local TIMEFORMAT="%R %U %S"
    local times
    times=$( { time xargs -P 256 -n 1 curl -sS -f -o /dev/null < "$WORK/urls" 2>"$WORK/curl.err"; } 2>&1 ) || true
    read -r wall user sys <<<"$times"
    local rss
    rss=$(awk '/VmHWM/ {printf "%.1f", $2 / 1000}' "/proc/$pid/status")
    log "prometheus-snmp-exporter $(prometheus-snmp-exporter --version 2>&1 | awk 'NR==1 {print $3}'): $n devices, curl through xargs -P 256: wall $wall s, exporter CPU $(calc "$(cpu_of "$pid") - $exp_before") s, curl CPU $(calc "$user + $sys") s, exporter peak RSS $rss MB; failed scrapes $(wc -l < "$WORK/curl.err"); simulator CPU $(calc "$(cpu_of "$SIM_PID") - $sim_before") s"
    if [ -s "$WORK/curl.err" ]; then head -3 "$WORK/curl.err"; fi
    grep -m3 -i 'level=\(warn\|error\)' "$WORK/exporter.log" || true
    kill "$pid"
}

log ""
log "## quirks off (uniform $DELAY delay, every device healthy)"
start_sim "$DEVICES_SMALL" --no-quirks
telleverk_round "" "$DEVICES_SMALL" 1024 fresh
telleverk_round "" "$DEVICES_SMALL" 256 fresh
netsnmp_round "$DEVICES_SMALL"
exporter_round "$DEVICES_SMALL"
stop_sim

start_sim "$DEVICES_BIG" --no-quirks
telleverk_round "" "$DEVICES_BIG" 1024 fresh
telleverk_round "" "$DEVICES_BIG" 1024 warm
telleverk_round "" "$DEVICES_BIG" 256 fresh
stop_sim

log ""
log "## quirks on (in every 20 devices one slow at 1.5 s, one reset, one booting)"
start_sim "$DEVICES_BIG"
telleverk_round "quirks on" "$DEVICES_BIG" 1024 fresh
stop_sim
log ""
log "done; raw figures in $RESULTS"
