#!/usr/bin/env bash
# Runs every test: starts PostgreSQL and a Kafka broker first, stops the broker after (if it started it).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
export PYTHON=$PY
status=0
if bash deploy/postgres.sh start; then export INJURYLEDGER_TEST_POSTGRES=1; else
  echo "!!! PostgreSQL could not be started: postgres tests will skip (CI fails them)"; fi
# Stop only a broker this script started: one already running is someone else's (a `make
# run-distributed`, another checkout's test run).
started_kafka=false
bash deploy/kafka/kafka.sh status >/dev/null 2>&1 || started_kafka=true
if bash deploy/kafka/kafka.sh start; then export INJURYLEDGER_TEST_KAFKA=127.0.0.1:${KAFKA_PORT:-19092}
  if $started_kafka; then trap 'bash deploy/kafka/kafka.sh stop || true' EXIT; fi
else
  echo "!!! Kafka could not be started: kafka tests will skip (CI fails them)"; fi
bash deploy/browser.sh || echo "!!! Chromium could not be installed: browser tests will skip (CI fails them)"
$PY -m pytest -q "$@" || status=$?
# pytest's 5 means no test ran: that is a failure, never a pass.
if [ "$status" -eq 5 ]; then echo "no tests ran"; exit 1; fi
exit $status
