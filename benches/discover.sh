#!/usr/bin/env bash
# Discovery benchmark (issue 16 §2): `telleverk discover` over a /22 (1 022
# scanned addresses) where 40 simulated bizhubs answer and nothing listens
# at the rest, beside net-snmp's snmpget over the same addresses (256 at a
# time through xargs) and, when it installs from Debian, nmap's UDP scan
# with its snmp-info script.
#
#   bash benches/discover.sh
#   NMAP=0 bash benches/discover.sh      # without nmap
#
# All on loopback: 127.0.4.0/22, the simulator on 127.0.4.1-40 at one port.
# An address where nothing listens answers a datagram with ICMP port
# unreachable, which the unconnected socket discover shares does not see:
# those addresses cost their timeout (1 s), as a silent network does.
# Raw output, with commit, date and nproc, goes to
# benches/results/discover.txt.
set -euo pipefail
cd "$(dirname "$0")/.."

NMAP=${NMAP:-1}
RANGE=127.0.4.0/22
DEVICES=127.0.4.1-40
# shellcheck source=benches/lib.sh
source benches/lib.sh
bench_setup discover
need snmpget || install snmp
if [ "$NMAP" = 1 ] && ! need nmap; then install nmap || NMAP=0; fi
# Port 161 as on a real network (nmap sends its SNMP probe only there); a
# free high port when not root.
if [ "$(id -u)" = 0 ]; then PORT=${PORT:-161}; else
    PORT=${PORT:-$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}
fi
{
    echo "# benches/discover.sh — $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
    echo "nproc: $(nproc); load average: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "range: $RANGE (1 022 addresses), devices answering: $DEVICES (40), port $PORT"
} > "$RESULTS"
cat "$RESULTS"

"$BIN" simulate --addresses "$DEVICES" --listen "127.0.0.1:$PORT" --delay 0ms --no-quirks \
    > "$WORK/sim.log" 2>&1 &
CHILD=$!
for _ in $(seq 100); do grep -q "Ctrl-C stops" "$WORK/sim.log" 2>/dev/null && break; sleep 0.1; done
grep -q "Ctrl-C stops" "$WORK/sim.log" || { echo "the simulator did not start:"; cat "$WORK/sim.log"; exit 1; }

printf '[storage]\npath = "%s/d.db"\n\n[discovery]\ncommunities = ["public"]\nconcurrency = 256\ntimeout = "1s"\nretries = 0\n' \
    "$WORK" > "$WORK/discover.toml"
log ""
log "## telleverk discover (concurrency 256, timeout 1 s, no retry)"
START=$(date +%s.%N)
"$BIN" discover --config "$WORK/discover.toml" --port "$PORT" "$RANGE" > "$WORK/discover.out"
END=$(date +%s.%N)
head -1 "$WORK/discover.out" | tee -a "$RESULTS"
log "wall: $(calc "$END - $START") s"

log ""
log "## net-snmp snmpget, 256 at a time (xargs -P 256), timeout 1 s, no retry"
python3 -c '
import ipaddress, sys
for ip in ipaddress.ip_network(sys.argv[1]).hosts(): print(ip)' "$RANGE" > "$WORK/hosts"
START=$(date +%s.%N)
xargs -P 256 -I{} sh -c "snmpget -v2c -c public -t 1 -r 0 -Oqv {}:$PORT 1.3.6.1.2.1.43.5.1.1.17.1 2>/dev/null | sed 's/^/{} /'" \
    < "$WORK/hosts" > "$WORK/snmpget.out" || true
END=$(date +%s.%N)
log "found: $(grep -c . "$WORK/snmpget.out") answering (serial only); requests: $(wc -l < "$WORK/hosts")"
log "wall: $(calc "$END - $START") s"

if [ "$NMAP" = 1 ]; then
    log ""
    log "## nmap -sU -p $PORT --script snmp-info (timing T4)"
    START=$(date +%s.%N)
    nmap -n -sU -p "$PORT" -T4 --script snmp-info "$RANGE" > "$WORK/nmap.out" 2>&1 || true
    END=$(date +%s.%N)
    log "$(grep -E '^Nmap done' "$WORK/nmap.out" || tail -1 "$WORK/nmap.out")"
    log "open ports: $(grep -c "^$PORT/udp open " "$WORK/nmap.out" || true); snmp-info answers: $(grep -c "snmp-info" "$WORK/nmap.out" || true)"
    log "wall: $(calc "$END - $START") s"
fi
log ""
log "done; raw figures in $RESULTS"
