#!/usr/bin/env bash
# make bench: every benchmark, each against its named peer in the same run; results in bench/results/.
#   deploy/bench.sh [bench/SCRIPT.py ...]   (no argument: all of them)
# Every benchmark runs even when one before it failed; at the end a summary says which passed,
# which were skipped (exit 3: a server they need is missing) and which failed and why (the last
# line of their output), and only then does the script exit non-zero if any failed.
# Environment: BENCH_PYTHON (.venv/bin/python); BENCH_TIMEOUT_S, the limit per benchmark (3600);
# each script's own size settings (see its docstring).
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${BENCH_PYTHON:-.venv/bin/python}
export PYTHON=$PY
timeout_s=${BENCH_TIMEOUT_S:-3600}
SKIPPED=3

if bash deploy/postgres.sh start; then export BENCH_PG_ADMIN_URL=1; fi
# Stop the broker after only if this run started it: a broker already running is someone else's.
kafka_was_running=0
bash deploy/kafka/kafka.sh status >/dev/null 2>&1 && kafka_was_running=1
if bash deploy/kafka/kafka.sh start; then
  export INJURYLEDGER_TEST_KAFKA=127.0.0.1:${KAFKA_PORT:-19092}
  if [ "$kafka_was_running" -eq 0 ]; then trap 'bash deploy/kafka/kafka.sh stop || true' EXIT; fi
fi

if [ "$#" -gt 0 ]; then benches=("$@"); else
  benches=(bench/spine_appends.py bench/spine_projection.py $(ls bench/bench_*.py 2>/dev/null)); fi

logs=$(mktemp -d "${TMPDIR:-/tmp}/injuryledger-bench.XXXXXX")
passed=() skipped=() failed=()
for bench in "${benches[@]}"; do
  name=$(basename "$bench" .py)
  echo "== $bench"
  start=$SECONDS
  timeout --kill-after=30 "$timeout_s" "$PY" "$bench" 2>&1 | tee "$logs/$name.log"
  status=${PIPESTATUS[0]}
  took="$((SECONDS - start)) s"
  # Why: the last exception line of a traceback (the lines after it may be an SQL echo), else the last line.
  why=$(grep -E '^[A-Za-z_][A-Za-z0-9_.]*(Error|Exception|Exit|Interrupt)[A-Za-z]*(:|$)' "$logs/$name.log" | tail -n 1)
  [ -n "$why" ] || why=$(grep -v '^[[:space:]]*$' "$logs/$name.log" | tail -n 1)
  why=$(printf '%s' "$why" | cut -c1-300)
  if [ "$status" -eq 0 ]; then passed+=("$bench ($took)")
  elif [ "$status" -eq "$SKIPPED" ]; then skipped+=("$bench: $why")
  elif [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then failed+=("$bench: timed out after ${timeout_s} s")
  else failed+=("$bench (exit $status, $took): $why"); fi
done

$PY bench/report.py || failed+=("bench/report.py: could not print the results")

echo
echo "== make bench: ${#passed[@]} passed, ${#skipped[@]} skipped, ${#failed[@]} failed (full output in $logs)"
for line in "${passed[@]}"; do echo "  passed   $line"; done
for line in "${skipped[@]}"; do echo "  skipped  $line"; done
for line in "${failed[@]}"; do echo "  FAILED   $line"; done
[ "${#failed[@]}" -eq 0 ]
