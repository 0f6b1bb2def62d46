#!/usr/bin/env bash
# make run-distributed: PostgreSQL (one database per service, one for the gateway), a Kafka broker, the four services
# and the gateway on http://127.0.0.1:8000 — the same contract as the embedded `make run`.
# SIGTERM or SIGINT (Ctrl-C) stops the launcher and its processes gracefully, then the Kafka
# broker if this script started it (a broker that was already running is left running).
# Environment: KAFKA_PORT (19092) and what the launcher reads (README, "Stopping it").
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHON=${PYTHON:-.venv/bin/python}
suffix=${INJURYLEDGER_DB_SUFFIX:-}
bash deploy/postgres.sh start "injuryledger_enrollment$suffix" "injuryledger_levy$suffix" \
  "injuryledger_claims$suffix" "injuryledger_payments$suffix" "injuryledger_gateway$suffix"
export INJURYLEDGER_KAFKA_BOOTSTRAP=${INJURYLEDGER_KAFKA_BOOTSTRAP:-127.0.0.1:${KAFKA_PORT:-19092}}
started_kafka=false
if ! bash deploy/kafka/kafka.sh status >/dev/null 2>&1; then started_kafka=true; fi
stop_kafka() { if $started_kafka; then bash deploy/kafka/kafka.sh stop || true; fi; }
trap stop_kafka EXIT
bash deploy/kafka/kafka.sh start
"$PYTHON" -m libs.runtime.launcher &
launcher=$!
# Pass a stop on to the launcher (it ignores a second one, e.g. the Ctrl-C it got itself) and
# wait until it has stopped its processes; `wait` returns early when a trapped signal arrives.
trap 'kill -TERM "$launcher" 2>/dev/null || true' TERM INT
status=0
while true; do
  wait "$launcher" && status=0 || status=$?
  kill -0 "$launcher" 2>/dev/null || break
done
exit "$status"
