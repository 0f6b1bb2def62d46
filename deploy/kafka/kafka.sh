#!/usr/bin/env bash
# A real Apache Kafka broker for development and tests: KRaft, one combined broker/controller
# node on 127.0.0.1, its classpath resolved from Maven Central into a cache outside the repo.
#   kafka.sh fetch | start | stop | kill | restart-keep-data | status
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/pom.xml")
cache=${INJURYLEDGER_CACHE:-$HOME/.cache/injuryledger}
pom_hash=$(sha256sum "$here/pom.xml" | cut -c1-8)
home="$cache/kafka-$version-$pom_hash"  # a changed pom resolves anew
port=${KAFKA_PORT:-19092}
controller_port=${KAFKA_CONTROLLER_PORT:-19093}
data=${KAFKA_DATA_DIR:-$cache/kafka-data-$port}
run="$cache/kafka-run-$port"
pidfile="$run/kafka.pid"
python=${PYTHON:-$here/../../.venv/bin/python}
start_timeout_s=${KAFKA_START_TIMEOUT_S:-120}

need() {
  command -v java >/dev/null || { echo "kafka.sh: java is not installed (Kafka 4 needs Java 17)" >&2; exit 3; }
  command -v mvn >/dev/null || { echo "kafka.sh: mvn is not installed (it resolves Kafka from Maven Central)" >&2; exit 3; }
}

fetch() {
  need
  if [ -f "$home/.complete" ]; then return 0; fi
  mkdir -p "$home"
  echo "kafka.sh: resolving Apache Kafka $version from Maven Central into $home" >&2
  mvn -q -B -f "$here/pom.xml" dependency:copy-dependencies -DoutputDirectory="$home/libs" -DincludeScope=runtime
  touch "$home/.complete"
}

running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

write_config() {
  mkdir -p "$run"
  cat > "$run/server.properties" <<CONF
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$controller_port
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$data
num.partitions=4
auto.create.topics.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=8
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
log.flush.interval.messages=1
CONF
  cat > "$run/log4j2.properties" <<CONF
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = $run/broker.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.file.ref = file
logger.kafka.name = kafka
logger.kafka.level = INFO
CONF
}

java_run() {
  java -Xms256m -Xmx512m -XX:+UseG1GC -Dlog4j2.configurationFile="$run/log4j2.properties" \
    -cp "$home/libs/*" "$@"
}

format() {
  rm -rf "$data"
  mkdir -p "$data"
  local cluster_id
  cluster_id=$(java_run kafka.tools.StorageTool random-uuid)
  java_run kafka.tools.StorageTool format -t "$cluster_id" -c "$run/server.properties" --standalone >/dev/null
}

launch() {
  nohup java -Xms256m -Xmx512m -XX:+UseG1GC -Dlog4j2.configurationFile="$run/log4j2.properties" \
    -cp "$home/libs/*" kafka.Kafka "$run/server.properties" >"$run/stdout.log" 2>&1 &
  echo $! > "$pidfile"
  wait_ready
}

wait_ready() {
  # Ready means: a produce with acks=all is acknowledged.
  if ! "$python" - "$port" "$start_timeout_s" <<'PY'
import sys, time
from kafka import KafkaProducer
port, timeout_s = sys.argv[1], int(sys.argv[2])
deadline = time.monotonic() + timeout_s
while True:
    try:
        p = KafkaProducer(bootstrap_servers=f"127.0.0.1:{port}", acks="all", request_timeout_ms=5000,
                          max_block_ms=5000)
        p.send("injuryledger.healthcheck", b"ping").get(timeout=10)
        p.close()
        sys.exit(0)
    except Exception as exc:  # not up yet
        if time.monotonic() > deadline:
            print(f"kafka.sh: no produce acknowledged within {timeout_s}s: {exc}", file=sys.stderr)
            sys.exit(1)
        time.sleep(0.5)
PY
  then
    echo "--- broker log (tail) ---" >&2
    tail -n 40 "$run/broker.log" "$run/stdout.log" >&2 || true
    stop
    exit 1
  fi
}

start() {
  fetch
  if running; then wait_ready; return 0; fi
  write_config
  format
  launch
  echo "kafka.sh: Apache Kafka $version on 127.0.0.1:$port (pid $(cat "$pidfile"))" >&2
}

restart_keep_data() {
  fetch
  if running; then return 0; fi
  write_config
  launch
}

stop() {
  running || { rm -f "$pidfile"; return 0; }
  local pid; pid=$(cat "$pidfile")
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$pidfile"
}

kill_now() {
  running || return 0
  kill -KILL "$(cat "$pidfile")" 2>/dev/null || true
  sleep 0.5
  rm -f "$pidfile"
}

case "${1:-}" in
  fetch) fetch ;;
  start) start ;;
  stop) stop ;;
  kill) kill_now ;;
  restart-keep-data) restart_keep_data ;;
  status) running && echo "running (pid $(cat "$pidfile"))" || { echo "stopped"; exit 1; } ;;
  *) echo "usage: kafka.sh fetch|start|stop|kill|restart-keep-data|status" >&2; exit 2 ;;
esac
