#!/usr/bin/env bash
# The local stack: Apache Kafka (KRaft), Apicurio Registry, Redis and the SES emulator, on
# loopback. `stack.sh up` starts what is not already running and waits until each answers;
# `stack.sh down` stops exactly what `up` started (it records their pids); `stack.sh status`.
# `stack.sh up kafka` (any of kafka, registry, redis, ses) starts only those; `stack.sh stop
# kafka` stops one but keeps its data, so the next `up kafka` resumes the same log (tests of a
# broker outage use it on a private broker).
#
# Downloads (Maven Central) are cached in $KAIROS_CACHE (default ~/.cache/kairos) and ~/.m2,
# so only the first run fetches. Runtime state and pid files live in .stack/ (KAIROS_STACK_DIR),
# logs in logs/stack/ (KAIROS_STACK_LOGS). Ports: KAFKA_PORT, KAFKA_CONTROLLER_PORT,
# REGISTRY_PORT, REDIS_PORT, SES_PORT.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${KAIROS_CACHE:-$HOME/.cache/kairos}
STATE=${KAIROS_STACK_DIR:-$ROOT/.stack}
LOGS=${KAIROS_STACK_LOGS:-$ROOT/logs/stack}
KAFKA_VERSION=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$ROOT/infra/kafka/pom.xml")
APICURIO_VERSION=${APICURIO_VERSION:-3.0.9}
KAFKA_PORT=${KAFKA_PORT:-9092}
KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-9093}
REGISTRY_PORT=${REGISTRY_PORT:-8081}
REDIS_PORT=${REDIS_PORT:-6379}
SES_PORT=${SES_PORT:-8005}
JAVA=${JAVA:-java}

log() { printf '[stack] %s\n' "$*" >&2; }
die() { printf '[stack] error: %s\n' "$*" >&2; exit 1; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_for NAME SECONDS COMMAND...: polls COMMAND until it succeeds.
wait_for() {
  local name=$1 seconds=$2; shift 2
  local deadline=$((SECONDS + seconds))
  until "$@"; do
    if ((SECONDS >= deadline)); then
      die "$name did not answer within ${seconds}s; see its log in $LOGS"
    fi
    sleep 0.5
  done
}

pidfile() { echo "$STATE/$1.pid"; }

# running NAME: true when NAME was started by us and its process is still alive.
running() {
  local f; f=$(pidfile "$1")
  [[ -f $f ]] && kill -0 "$(cat "$f")" 2>/dev/null
}

# start NAME LOGFILE COMMAND...: starts COMMAND in its own session and records its pid.
start() {
  local name=$1 logfile=$2; shift 2
  setsid "$@" >>"$logfile" 2>&1 < /dev/null &
  echo $! >"$(pidfile "$name")"
}

fetch_kafka() {
  local dir=$CACHE/kafka-$KAFKA_VERSION
  if [[ ! -f $dir/.complete ]]; then
    log "fetching Apache Kafka $KAFKA_VERSION jars from Maven Central into $dir"
    rm -rf "$dir"; mkdir -p "$dir"
    mvn -B -q -f "$ROOT/infra/kafka/pom.xml" dependency:copy-dependencies \
      -DoutputDirectory="$dir/libs" >"$LOGS/fetch-kafka.log" 2>&1 \
      || die "could not fetch Kafka jars with Maven; see $LOGS/fetch-kafka.log"
    touch "$dir/.complete"
  fi
  echo "$dir"
}

fetch_apicurio() {
  local dir=$CACHE/apicurio-$APICURIO_VERSION
  if [[ ! -f $dir/.complete ]]; then
    log "fetching Apicurio Registry $APICURIO_VERSION from Maven Central into $dir"
    rm -rf "$dir"; mkdir -p "$dir"
    mvn -B -q dependency:copy -Dartifact="io.apicurio:apicurio-registry-app:$APICURIO_VERSION:zip:all" \
      -DoutputDirectory="$dir" >"$LOGS/fetch-apicurio.log" 2>&1 \
      || die "could not fetch Apicurio Registry with Maven; see $LOGS/fetch-apicurio.log"
    (cd "$dir" && unzip -q ./*.zip && rm -f ./*.zip) || die "could not unpack the Apicurio zip in $dir"
    touch "$dir/.complete"
  fi
  echo "$dir"
}

up_kafka() {
  if running kafka; then log "kafka already running (pid $(cat "$(pidfile kafka)"))"; return; fi
  if port_open "$KAFKA_PORT"; then
    log "something already listens on 127.0.0.1:$KAFKA_PORT; using it as Kafka (not managed by us)"
    return
  fi
  local dist data conf
  dist=$(fetch_kafka)
  data=$STATE/kafka-data
  conf=$STATE/kafka-server.properties
  sed -e "s#@KAFKA_PORT@#$KAFKA_PORT#g" -e "s#@CONTROLLER_PORT@#$KAFKA_CONTROLLER_PORT#g" \
      -e "s#@DATA_DIR@#$data#g" "$ROOT/infra/kafka/server.properties.in" >"$conf"
  if [[ ! -f $data/meta.properties ]]; then
    mkdir -p "$data"
    "$JAVA" -cp "$dist/libs/*" -Dlog4j2.configurationFile="$ROOT/infra/kafka/log4j2.properties" \
      -Dkairos.kafka.log="$LOGS/kafka.log" kafka.tools.StorageTool format \
      -t "$(cat /proc/sys/kernel/random/uuid)" -c "$conf" >>"$LOGS/kafka.log" 2>&1 \
      || die "formatting Kafka storage in $data failed; see $LOGS/kafka.log"
  fi
  log "starting Kafka $KAFKA_VERSION (KRaft) on 127.0.0.1:$KAFKA_PORT"
  # IPv4 sockets: the listeners show as 127.0.0.1 in `ss -ltn`, not as [::ffff:127.0.0.1].
  # The GC log (a line per pause; wall time, epoch ms, tags) is what `make bench` reads to give
  # each latency row the broker's pauses within it (bench/machine-load.ts). Kafka's own launcher
  # also sets -XX:MaxGCPauseMillis=20: measured here, no better (docs/benchmarks.md).
  start kafka "$LOGS/kafka.out" "$JAVA" -Xms256m -Xmx1g -XX:+UseG1GC \
    "-Xlog:gc:file=$LOGS/kafka-gc.log:time,timemillis,tags:filecount=5,filesize=20M" \
    -Djava.awt.headless=true -Djava.net.preferIPv4Stack=true \
    -Dlog4j2.configurationFile="$ROOT/infra/kafka/log4j2.properties" -Dkairos.kafka.log="$LOGS/kafka.log" \
    -cp "$dist/libs/*" kafka.Kafka "$conf"
}

up_registry() {
  if running registry; then log "registry already running (pid $(cat "$(pidfile registry)"))"; return; fi
  if port_open "$REGISTRY_PORT"; then
    log "something already listens on 127.0.0.1:$REGISTRY_PORT; using it as the registry (not managed by us)"
    return
  fi
  local dist
  dist=$(fetch_apicurio)
  log "starting Apicurio Registry $APICURIO_VERSION (in-memory) on 127.0.0.1:$REGISTRY_PORT"
  start registry "$LOGS/registry.log" "$JAVA" -Xms128m -Xmx512m -Djava.net.preferIPv4Stack=true \
    -Dquarkus.http.host=127.0.0.1 -Dquarkus.http.port="$REGISTRY_PORT" \
    -Dapicurio.storage.kind=sql -Dapicurio.storage.sql.kind=h2 \
    -jar "$dist"/apicurio-registry-app-*-runner.jar
}

up_redis() {
  if port_open "$REDIS_PORT"; then log "redis answers on 127.0.0.1:$REDIS_PORT"; return; fi
  command -v redis-server >/dev/null || die "no Redis on 127.0.0.1:$REDIS_PORT and no redis-server to start one (apt-get install redis-server)"
  log "starting redis-server on 127.0.0.1:$REDIS_PORT (no persistence)"
  start redis "$LOGS/redis.log" redis-server --bind 127.0.0.1 --port "$REDIS_PORT" \
    --save '' --appendonly no --dir "$STATE"
}

up_ses() {
  if running ses; then log "SES emulator already running (pid $(cat "$(pidfile ses)"))"; return; fi
  if port_open "$SES_PORT"; then
    log "something already listens on 127.0.0.1:$SES_PORT; using it as the SES endpoint (not managed by us)"
    return
  fi
  [[ -f $ROOT/node_modules/aws-ses-v2-local/dist/cli.js ]] || die "aws-ses-v2-local is not installed; run npm ci first"
  local node_bin
  node_bin=$("$ROOT/infra/node.sh") || die "no Node.js 24 for the SES emulator (infra/node.sh)"
  log "starting aws-ses-v2-local on 127.0.0.1:$SES_PORT"
  start ses "$LOGS/ses.log" "$node_bin/node" "$ROOT/node_modules/aws-ses-v2-local/dist/cli.js" \
    --host 127.0.0.1 --port "$SES_PORT"
}

http_ok() { curl -sf -o /dev/null "$1"; }

COMPONENTS=(redis ses registry kafka)

# components NAME...: checks the names (all components when none), prints them one a line.
components() {
  local name
  (($#)) || set -- "${COMPONENTS[@]}"
  for name in "$@"; do
    [[ " ${COMPONENTS[*]} " == *" $name "* ]] || die "unknown component \"$name\"; expected any of: ${COMPONENTS[*]}"
    echo "$name"
  done
}

# cmd_up [NAME...]: starts the named components (all by default), e.g. a private broker for a
# test with `KAFKA_PORT=... KAIROS_STACK_DIR=... stack.sh up kafka`.
cmd_up() {
  local wanted name
  wanted=$(components "$@") || exit 1
  command -v "$JAVA" >/dev/null || die "java not found; Kafka and Apicurio need Java 17 or later"
  command -v mvn >/dev/null || die "mvn not found; the stack fetches Kafka and Apicurio with Maven"
  mkdir -p "$STATE" "$LOGS" "$CACHE"
  for name in $wanted; do "up_$name"; done
  for name in $wanted; do
    case $name in
      redis) wait_for redis 20 port_open "$REDIS_PORT" ;;
      ses) wait_for "SES emulator" 30 http_ok "http://127.0.0.1:$SES_PORT/store" ;;
      registry) wait_for registry 120 http_ok "http://127.0.0.1:$REGISTRY_PORT/apis/ccompat/v7/subjects" ;;
      kafka) wait_for kafka 120 port_open "$KAFKA_PORT" ;;
    esac
  done
  if (($#)); then log "up: $(echo $wanted)"; return; fi
  log "stack is up: kafka 127.0.0.1:$KAFKA_PORT, registry http://127.0.0.1:$REGISTRY_PORT/apis/ccompat/v7, redis 127.0.0.1:$REDIS_PORT, ses http://127.0.0.1:$SES_PORT"
}

# stop NAME: TERM the process group we started, then KILL it if it has not gone in 20 s.
stop() {
  local name=$1 f pid
  f=$(pidfile "$name")
  [[ -f $f ]] || return 0
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    log "stopping $name (pid $pid)"
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}

cmd_down() {
  # Kafka first, so the consumers of the others do not see a half-stopped stack.
  for name in kafka registry ses redis; do stop "$name"; done
  rm -rf "$STATE/kafka-data"
  log "stack is down"
}

cmd_status() {
  for name in kafka registry ses redis; do
    if running "$name"; then echo "$name: running (pid $(cat "$(pidfile "$name")"))"
    else echo "$name: not started by us"; fi
  done
}

case "${1:-}" in
  up) shift; cmd_up "$@" ;;
  down) cmd_down ;;
  # Stops components but keeps their data (unlike down): `up NAME` resumes where they were.
  stop)
    shift
    (($#)) || die "usage: infra/stack.sh stop NAME... (any of: ${COMPONENTS[*]})"
    names=$(components "$@") || exit 1
    for name in $names; do stop "$name"; done ;;
  status) cmd_status ;;
  fetch) mkdir -p "$LOGS" "$CACHE"; fetch_kafka >/dev/null; fetch_apicurio >/dev/null ;;
  *) echo "usage: infra/stack.sh up [NAME...]|stop NAME...|down|status|fetch" >&2; exit 2 ;;
esac
