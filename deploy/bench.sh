#!/usr/bin/env bash
# make bench: every benchmark, each against its named peer in the same run; results in bench/results/.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
export PYTHON=$PY
if bash deploy/postgres.sh start; then export BENCH_PG_ADMIN_URL=1; fi
if bash deploy/kafka/kafka.sh start; then
  export INJURYLEDGER_TEST_KAFKA=127.0.0.1:${KAFKA_PORT:-19092}
  trap 'bash deploy/kafka/kafka.sh stop || true' EXIT
fi
for bench in bench/spine_appends.py bench/spine_projection.py $(ls bench/bench_*.py 2>/dev/null); do
  echo "== $bench"
  $PY "$bench"
done
$PY bench/report.py
