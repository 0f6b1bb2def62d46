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
# Two pytest-xdist workers (INJURYLEDGER_TEST_WORKERS; 0 or 1: one process, as before): much of
# the suite waits on servers (a consistency wait, a service's start, a consumer's poll), so a
# second worker fills that time on a two-core machine. Each worker has its own distributed
# cluster (databases, topics and ports of its own: tests/harness/cluster.py); --dist loadfile
# keeps a module's tests on one worker, in order (the stop tests share one deployment). The tests
# that restart a server every run shares (marker restarts_shared_server) and those that need one
# process (marker one_process: the fuzz test's cases share one node id, which xdist cannot hand
# out) run after, in one plain pytest run.
workers=${INJURYLEDGER_TEST_WORKERS:-2}
if [ "$workers" -le 1 ]; then
  $PY -m pytest -q "$@" || status=$?
  # pytest's 5 means no test ran: that is a failure, never a pass.
  if [ "$status" -eq 5 ]; then echo "no tests ran"; exit 1; fi
  exit $status
fi
# A caller's own -m (`deploy/test.sh -m "not kafka"`) is combined with each run's: pytest keeps
# only the last -m it is given, so passed on as is it would replace the split below.
chosen=""; args=()
while [ "$#" -gt 0 ]; do
  case "$1" in
    -m|--markexpr) chosen="${chosen:+$chosen and }($2)"; shift 2 ;;
    --markexpr=*) chosen="${chosen:+$chosen and }(${1#--markexpr=})"; shift ;;
    -m*) chosen="${chosen:+$chosen and }(${1#-m})"; shift ;;
    *) args+=("$1"); shift ;;
  esac
done
set -- ${args[@]+"${args[@]}"}
mine() { echo "${chosen:+$chosen and }($1)"; }
parallel=0; alone=0
$PY -m pytest -q -n "$workers" --dist loadfile -m "$(mine "not restarts_shared_server and not one_process")" "$@" || parallel=$?
# Only the files that name a marker are collected again (collecting the whole suite costs a
# minute: the fuzz test builds its cases then), unless the caller chose what to run.
if [ "$#" -eq 0 ]; then set -- $(grep -rlE --include='test_*.py' 'restarts_shared_server|one_process' tests); fi
$PY -m pytest -q -m "$(mine "restarts_shared_server or one_process")" "$@" || alone=$?
# 5 means no test ran: a pass only where the other run ran some (a selection of one kind alone).
if [ "$parallel" -eq 5 ] && [ "$alone" -eq 5 ]; then echo "no tests ran"; exit 1; fi
for s in "$parallel" "$alone"; do [ "$s" -eq 0 ] || [ "$s" -eq 5 ] || status=$s; done
exit $status
