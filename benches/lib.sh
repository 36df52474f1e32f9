# Helpers the bench scripts share; source it after RESULTS is set.
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
