#!/usr/bin/env bash
# The long fuzz run (issue 14): every fuzz target — the `fuzz_*` proptest
# tests beside the untrusted parsers (profile evaluation and supplies of any
# SNMP answers, profile files, the readings CSV, the config file, the API's
# query parameters) — in release, with the cases split evenly between them.
#
#   bash benches/fuzz.sh                  # 10 million cases in all
#   FUZZ_CASES=100000 bash benches/fuzz.sh
#
# `cargo test` runs the same targets at proptest's 256 cases each (a few
# seconds in debug). Each target is its own process, FUZZ_LANES (nproc) at a
# time, so its seconds are its own wall time beside one other; one that
# panics fails with the input proptest shrank it to (printed), and the run
# goes on with the others. The raw output goes to benches/results/fuzz.txt with the
# commit, date, nproc and command line.
set -euo pipefail
cd "$(dirname "$0")/.."

CASES=${FUZZ_CASES:-10000000}
TARGETS=(
    profile::fuzz::fuzz_evaluating_any_answers_never_panics
    collector::fuzz::fuzz_building_supplies_from_any_rows_never_panics
    profile::fuzz::fuzz_loading_any_profile_file_never_panics
    import::fuzz::fuzz_parsing_any_bytes_as_readings_never_panics
    import::fuzz::fuzz_parsing_hostile_rows_never_panics
    config::fuzz::fuzz_loading_a_mutated_example_config_never_panics
    config::fuzz::fuzz_loading_any_config_text_never_panics
    http::fuzz::fuzz_parsing_any_parameter_never_panics
    http::fuzz::fuzz_decoding_any_query_string_never_panics
    invoice_check::fuzz::fuzz_reading_any_text_as_an_invoice_never_panics
    invoice_check::fuzz::fuzz_reading_and_checking_hostile_cells_never_panics
    invoice_check::fuzz::fuzz_checking_mutated_invoices_never_panics
)
PER=$(( (CASES + ${#TARGETS[@]} - 1) / ${#TARGETS[@]} ))

LANES=${FUZZ_LANES:-$(nproc)}

cargo test --release --lib --no-run --quiet 2>/dev/null
work=$(mktemp -d)
report=$work/report

# One target: its line of the table in $work/N, its output in $work/N.log.
run_target() {
    local n=$1 target=$2 start seconds panics=0
    start=$(date +%s.%N)
    PROPTEST_CASES=$PER cargo test --release --lib --quiet "$target" -- --exact \
        >"$work/$n.log" 2>&1 || panics=1
    seconds=$(echo "$(date +%s.%N) - $start" | bc)
    printf '%-72s %12d %8s %9.1f\n' "$target" "$PER" "$panics" "$seconds" >"$work/$n"
}

start_all=$(date +%s.%N)
for n in "${!TARGETS[@]}"; do
    while [ "$(jobs -rp | wc -l)" -ge "$LANES" ]; do wait -n; done
    run_target "$n" "${TARGETS[$n]}" &
done
wait
printf '%-72s %12s %8s %9s\n' target cases panics seconds >"$report"
total_cases=0 total_panics=0
for n in "${!TARGETS[@]}"; do
    cat "$work/$n" >>"$report"
    panics=$(awk '{print $3}' "$work/$n")
    [ "$panics" = 0 ] || cat "$work/$n.log" >&2
    total_cases=$((total_cases + PER))
    total_panics=$((total_panics + panics))
done
seconds=$(echo "$(date +%s.%N) - $start_all" | bc)
printf '%-72s %12d %8d %9.1f\n' total "$total_cases" "$total_panics" "$seconds" >>"$report"
if [ "$total_panics" -gt 0 ]; then
    echo "(a target with a panic stops at its first one: proptest shrinks it and" \
        "fails; its cases count those planned)" >>"$report"
fi
cat "$report"
{
    echo "bench: fuzz"
    echo "commit: $(git rev-parse --short HEAD)"
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "nproc: $(nproc)"
    echo "command: FUZZ_CASES=$CASES FUZZ_LANES=$LANES bash benches/fuzz.sh"
    echo
    cat "$report"
} >benches/results/fuzz.txt
rm -rf "$work"
echo "raw output written to benches/results/fuzz.txt" >&2
