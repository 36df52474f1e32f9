# Helpers the bench scripts share: source it from the repository's root.

# need CMD: whether CMD is installed.
need() { command -v "$1" >/dev/null 2>&1; }
# install PACKAGE...: from Debian's apt (as root, or through sudo), without
# starting any service a package ships.
install() {
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -qq
    printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
    $sudo chmod +x /usr/sbin/policy-rc.d
    local status=0
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null || status=$?
    $sudo rm -f /usr/sbin/policy-rc.d
    return $status
}

# bench_setup NAME: builds the release binary ($BIN), makes $WORK (removed
# on exit) and sets $RESULTS to benches/results/NAME.txt. On exit the
# process in $CHILD, if any, is killed with SIGKILL, not SIGINT: a clean
# stop of `serve` would store the collector's unfinished round into a
# database a later run reuses.
bench_setup() {
    export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
    cargo build --release --quiet
    BIN=$CARGO_TARGET_DIR/release/telleverk
    RESULTS=benches/results/$1.txt
    mkdir -p benches/results
    WORK=$(mktemp -d)
    CHILD=""
    trap bench_cleanup EXIT
}
bench_cleanup() {
    if [ -n "${CHILD:-}" ]; then kill -KILL "$CHILD" 2>/dev/null || true; fi
    rm -rf "$WORK"
}

# results_header SETTINGS [LINE...]: starts $RESULTS with what makes runs
# comparable — the script, date, commit (marked when the tree has changes),
# nproc and CPU, the command with SETTINGS, and any further LINEs — and
# prints it.
results_header() {
    local settings=$1 commit line
    shift
    commit="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
    git diff --quiet HEAD -- . ':!benches/results' 2>/dev/null || commit="$commit (with uncommitted changes)"
    {
        echo "# $0 — $(date -u +%Y-%m-%dT%H:%M:%SZ)"
        echo "commit: $commit"
        echo "nproc: $(nproc); cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
        echo "command: bash $0 ($settings)"
        for line in "$@"; do echo "$line"; done
    } > "$RESULTS"
    cat "$RESULTS"
}

# free_port: a TCP port on 127.0.0.1 free a moment ago.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# cpu_of PID: the user + system CPU seconds the process used so far.
cpu_of() { awk '{printf "%.2f", ($14 + $15) / 100}' "/proc/$1/stat"; }
# mb_of PID KEY: a /proc/PID/status figure (VmHWM, VmRSS) in MB.
mb_of() { awk -v key="$2:" '$1 == key {printf "%.1f", $2 / 1000}' "/proc/$1/status"; }
# log TEXT: printed and appended to $RESULTS.
log() { echo "$*" | tee -a "$RESULTS"; }
# calc EXPR: bc's answer to two decimals.
calc() { printf '%.2f' "$(echo "$*" | bc -l)"; }
