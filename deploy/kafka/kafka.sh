#!/usr/bin/env bash
# A real Apache Kafka broker for development and tests: KRaft, one combined broker/controller
# node on 127.0.0.1, its classpath resolved from Maven Central into a cache outside the repo.
#   kafka.sh fetch | start | stop | kill | restart-keep-data | status
# Environment: KAFKA_PORT (19092), KAFKA_CONTROLLER_PORT (KAFKA_PORT+1), KAFKA_DATA_DIR and
#   KAFKA_RUN_DIR (config, pid file, logs; both in the cache by default),
#   INJURYLEDGER_CACHE (~/.cache/injuryledger), PYTHON (.venv/bin/python, has kafka-python),
#   JAVA (java), MVN (mvn), KAFKA_START_TIMEOUT_S (120).
# Exit codes: 0 done, 1 failed, 2 usage, 3 Java 17+ or Maven missing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/pom.xml")
cache=${INJURYLEDGER_CACHE:-$HOME/.cache/injuryledger}
home="$cache/kafka-$version"
port=${KAFKA_PORT:-19092}
controller_port=${KAFKA_CONTROLLER_PORT:-$((port + 1))}
data=${KAFKA_DATA_DIR:-$cache/kafka-data-$port}
run=${KAFKA_RUN_DIR:-$cache/kafka-run-$port}
pidfile="$run/kafka.pid"
python=${PYTHON:-$here/../../.venv/bin/python}
java=${JAVA:-java}
mvn=${MVN:-mvn}
start_timeout_s=${KAFKA_START_TIMEOUT_S:-120}
jvm_opts=(-Xms256m -Xmx512m -XX:+UseG1GC -Dlog4j2.configurationFile="$run/log4j2.properties")

missing() { echo "kafka.sh: $*" >&2; exit 3; }

need() {
  command -v "$java" >/dev/null || missing "java is not installed (Apache Kafka 4 needs Java 17+)"
  local spec
  spec=$("$java" -XshowSettings:properties -version 2>&1 | sed -n 's/.*java.specification.version = //p')
  [ "${spec%%.*}" -ge 17 ] 2>/dev/null || missing "java $spec is too old (Apache Kafka 4 needs Java 17+)"
  command -v "$mvn" >/dev/null || missing "mvn is not installed (it resolves Apache Kafka from Maven Central)"
}

fetch() {
  need
  # The marker holds the pom's hash: a changed pom (another version) resolves anew.
  local want; want=$(sha256sum "$here/pom.xml" | cut -c1-16)
  if [ "$(cat "$home/.complete" 2>/dev/null)" = "$want" ]; then return 0; fi
  mkdir -p "$home"
  exec 9>"$home/.lock"
  flock 9  # two starts at once (two test runs) resolve once
  if [ "$(cat "$home/.complete" 2>/dev/null)" != "$want" ]; then
    echo "kafka.sh: resolving Apache Kafka $version from Maven Central into $home/libs" >&2
    rm -rf "$home/libs" "$home/.complete"
    # Maven's output is shown only when it fails (its -q still prints colour codes).
    if ! "$mvn" -q -B -f "$here/pom.xml" dependency:copy-dependencies \
         -DoutputDirectory="$home/libs" -DincludeScope=runtime >"$home/mvn.log" 2>&1; then
      cat "$home/mvn.log" >&2
      echo "kafka.sh: Maven could not resolve Apache Kafka $version (see above)" >&2
      exit 1
    fi
    echo "$want" > "$home/.complete"
  fi
  exec 9>&-
}

# A live broker process: a pid file survives reboots in the cache and the pid may be another
# program's by now; a killed but not yet reaped broker (zombie) has an empty command line.
is_broker() { tr '\0' ' ' 2>/dev/null < "/proc/$1/cmdline" | grep -q 'kafka\.Kafka'; }

running() {
  local pid
  pid=$(cat "$pidfile" 2>/dev/null) || return 1
  is_broker "$pid"
}

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; }

# Does the broker on the port acknowledge a produce with acks=all within $1 seconds?
accepts_produce() {
  "$python" - "$port" "$1" <<'PY'
import sys, time
from kafka import KafkaProducer
port, timeout_s = sys.argv[1], float(sys.argv[2])
deadline = time.monotonic() + timeout_s
while True:
    try:
        p = KafkaProducer(bootstrap_servers=f"127.0.0.1:{port}", acks="all", request_timeout_ms=5000,
                          max_block_ms=5000, bootstrap_timeout_ms=5000)
        try:
            p.send("injuryledger.healthcheck", key=b"kafka.sh", value=b"ping").get(timeout=10)
            p.flush(timeout=10)
        finally:
            p.close(timeout=5)
        sys.exit(0)
    except Exception as exc:  # not up yet
        if time.monotonic() > deadline:
            print(f"kafka.sh: no produce acknowledged on 127.0.0.1:{port} within {timeout_s:.0f}s: {exc!r}",
                  file=sys.stderr)
            sys.exit(1)
        time.sleep(0.5)
PY
}

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

format() {
  rm -rf "$data"
  mkdir -p "$data"
  local cluster_id
  cluster_id=$("$java" "${jvm_opts[@]}" -cp "$home/libs/*" kafka.tools.StorageTool random-uuid)
  # --standalone: this node alone is the controller quorum (KIP-853 dynamic quorum).
  "$java" "${jvm_opts[@]}" -cp "$home/libs/*" kafka.tools.StorageTool format \
    -t "$cluster_id" -c "$run/server.properties" --standalone >/dev/null
}

# Up: a produce acknowledged. Checked in short rounds so a broker that died is noticed at once.
ready() {
  local deadline=$((SECONDS + start_timeout_s)) why
  while ! why=$(accepts_produce 5 2>&1); do
    if ! running; then echo "kafka.sh: the broker exited while starting" >&2; return 1; fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "${why:-kafka.sh: no produce acknowledged} (waited ${start_timeout_s}s)" >&2
      return 1
    fi
  done
}

launch() {
  # setsid: its own session, so a Ctrl-C of the test run does not take the shared broker down.
  # All three streams redirected: a caller capturing our output must not wait for the broker.
  setsid "$java" "${jvm_opts[@]}" -cp "$home/libs/*" kafka.Kafka "$run/server.properties" \
    </dev/null >"$run/stdout.log" 2>&1 &
  echo $! > "$pidfile"
  if ! ready; then
    echo "--- broker log (tail) ---" >&2
    tail -n 40 "$run/broker.log" "$run/stdout.log" >&2 || true
    stop
    exit 1
  fi
  echo "kafka.sh: Apache Kafka $version on 127.0.0.1:$port (pid $(cat "$pidfile"), log $run/broker.log)" >&2
}

start() {
  fetch
  if running; then ready; return; fi
  if listening; then  # not ours (another cache, by hand): use it if it is a working broker
    if accepts_produce 15; then
      echo "kafka.sh: a broker not started from $run already answers on 127.0.0.1:$port; using it" >&2
      return 0
    fi
    echo "kafka.sh: 127.0.0.1:$port is taken by something that acknowledges no produce" >&2
    exit 1
  fi
  write_config
  format
  launch
}

restart_keep_data() {
  fetch
  if running; then ready; return; fi
  write_config
  if [ ! -f "$data/meta.properties" ]; then format; fi  # nothing to keep yet: a first start
  launch
}

gone() {  # wait up to $2 half-seconds for broker $1 to exit
  for _ in $(seq 1 "$2"); do is_broker "$1" || return 0; sleep 0.5; done
  return 1
}

stop() {
  running || { rm -f "$pidfile"; return 0; }
  local pid; pid=$(cat "$pidfile")
  kill -TERM "$pid" 2>/dev/null || true
  gone "$pid" 60 || { kill -KILL "$pid" 2>/dev/null || true; gone "$pid" 20 || true; }
  rm -f "$pidfile"
}

kill_now() {
  running || { rm -f "$pidfile"; return 0; }
  local pid; pid=$(cat "$pidfile")
  kill -KILL "$pid" 2>/dev/null || true
  gone "$pid" 20 || true  # the port and the data dir lock are free once it is gone
  rm -f "$pidfile"
}

case "${1:-}" in
  fetch) fetch ;;
  start) start ;;
  stop) stop ;;
  kill) kill_now ;;
  restart-keep-data) restart_keep_data ;;
  status) if running; then echo "running (pid $(cat "$pidfile"), 127.0.0.1:$port)"; else echo "stopped"; exit 1; fi ;;
  *) echo "usage: kafka.sh fetch|start|stop|kill|restart-keep-data|status" >&2; exit 2 ;;
esac
