#!/usr/bin/env bash
# make run-distributed: PostgreSQL (one database per service), a Kafka broker, the four services
# and the gateway on http://127.0.0.1:8000 — the same contract as the embedded `make run`.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHON=.venv/bin/python
bash deploy/postgres.sh start injuryledger_enrollment injuryledger_levy injuryledger_claims injuryledger_payments
bash deploy/kafka/kafka.sh start
trap 'bash deploy/kafka/kafka.sh stop || true' EXIT
.venv/bin/python -m libs.runtime.launcher
