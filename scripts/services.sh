#!/usr/bin/env bash
# Run switchboard's backing services on 127.0.0.1 without Docker:
#   Redis    127.0.0.1:6379   Debian's redis-server (apt-get installs it if missing)
#   Kafka    127.0.0.1:9092   Apache Kafka single-node KRaft, jars from Maven Central, on Java 17+
#                             (and 127.0.0.1:9096: the same broker, SASL/PLAIN required, user
#                             switchboard, password switchboard-secret)
#   MongoDB  127.0.0.1:27017  FerretDB (MongoDB wire protocol), built with Go, on one of two backends
#                             (FERRETDB_BACKEND):
#              postgresql     (default) Debian's PostgreSQL (apt-get installs it if missing), a
#                             cluster of this script's own on 127.0.0.1:55432, started and stopped
#                             with mongo (never the system service)
#              sqlite         SQLite files, no other process; history reads scan the whole
#                             collection (about 10x slower here, docs/real-services.md)
#
# Usage: scripts/services.sh <command> [--cluster] [service...]
#   service: redis | kafka | mongo, or a node of the clustered services: kafka-1..3 | redis-1..6
#   --cluster (no service names): the clustered services instead of the single ones: Kafka with
#           3 brokers (127.0.0.1:19092-19094) and a Redis Cluster of 3 primaries + 3 replicas
#           (127.0.0.1:7001-7006), and the store (mongo) as today; they run beside the single
#           ones (scripts/services/cluster.sh). `up --cluster` prints the environment for them.
#   up     [svc...]         start (fetching/building on first use) and wait until each answers;
#                           running ones are left alone
#   down   [--wipe] [svc...] stop
#   kill   [svc...]         SIGKILL (a crash), data kept: the next `up` of it restarts on its data
#   status [svc...]         print state; exit 1 if any of them is not running
#   reset                   stop everything and delete all state (data, logs)
#   env                     print `export` lines for the app: eval "$(scripts/services.sh env)"
#   kafka-class CLASS [ARG...]  run a Kafka tool class on the cached classpath, e.g.
#                           kafka-class org.apache.kafka.tools.TopicCommand --bootstrap-server 127.0.0.1:9092 --list
# No service names means all three (with --cluster: every cluster node and mongo).
#
# Data policy (so failure tests can stop and restart a single service):
#   - `up` starts a service on FRESH, empty data,
#   - except right after `down <svc>` naming it explicitly: that leaves a keep-data marker, so
#     `down kafka; up kafka` restarts Kafka on its old log (topics, messages and committed
#     offsets survive) and `down mongo; up mongo` keeps FerretDB's data (the SQLite databases, or
#     the PostgreSQL cluster).
#   - `down` with no service names is a full down and deletes the data; `down --wipe svc`
#     deletes that service's data too. Services whose processes died without a `down` (e.g. the
#     machine's session ended) start fresh.
#   - Redis keeps an append-only file fsynced on every write (--appendonly yes --appendfsync
#     always), so that a SIGKILLed Redis restarted on its data has every write it acknowledged.
#   - `kill <svc>` is a crash: SIGKILL (for mongo, FerretDB and its PostgreSQL), and like an
#     explicit `down` it leaves the keep-data marker.
#   - The PostgreSQL cluster is a throwaway test database: fsync, synchronous commit and full-page
#     writes are off (a crash of the machine may lose it; the next fresh `up` makes a new one).
#
# Downloads, builds and runtime state live outside the repo, in
#   ${SWITCHBOARD_SERVICES_HOME:-$HOME/.cache/switchboard-services}
#     kafka-<version>/libs/   broker + tools jars           ferretdb-<version>/ferretdb  binary
#     state/<svc>/            pid file, log, data dir (state/mongo/data/postgresql: the cluster;
#                             state/postgres/: its server's pid file and log)
# Overrides: SWITCHBOARD_SERVICES_STATE (the state dir; a second set of services, e.g. for crash
#   experiments beside a running set, needs its own and its own ports: REDIS_PORT, KAFKA_PORT,
#   KAFKA_CONTROLLER_PORT, MONGO_PORT, POSTGRESQL_PORT), KAFKA_VERSION (one version; default tries 4.1.2, then 4.0.2, then 3.9.1),
#   FERRETDB_VERSION (default v1.24.2), KAFKA_HEAP (default 512m), FERRETDB_BACKEND
#   (postgresql | sqlite; default postgresql), POSTGRESQL_PORT (default 55432), POSTGRESQL_BIN
#   (a directory with initdb and postgres; default the newest /usr/lib/postgresql/*/bin).
# PostgreSQL refuses to run as root: as root the script runs initdb and postgres in a user
# namespace as the `postgres` user (unshare), so that the cluster can stay under a home directory
# that user cannot enter, or else as `postgres` itself (setpriv) when the state dir allows it.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SUPPORT_DIR="$SCRIPT_DIR/services"
SERVICES_HOME="${SWITCHBOARD_SERVICES_HOME:-$HOME/.cache/switchboard-services}"
STATE_DIR="${SWITCHBOARD_SERVICES_STATE:-$SERVICES_HOME/state}"

KAFKA_CANDIDATES="${KAFKA_VERSION:-4.1.2 4.0.2 3.9.1}"
FERRETDB_VERSION="${FERRETDB_VERSION:-v1.24.2}"
KAFKA_HEAP="${KAFKA_HEAP:-512m}"
FERRETDB_BACKEND="${FERRETDB_BACKEND:-postgresql}"
case "$FERRETDB_BACKEND" in
  postgresql | sqlite) ;;
  postgres | pg) FERRETDB_BACKEND=postgresql ;;
  *) printf '[services] ERROR: FERRETDB_BACKEND=%s: expected postgresql or sqlite\n' "$FERRETDB_BACKEND" >&2 && exit 1 ;;
esac

HOST=127.0.0.1
REDIS_PORT="${REDIS_PORT:-6379}"
KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
# A second listener that requires SASL/PLAIN (user switchboard, password switchboard-secret), for
# the test of switchboard's KAFKA_SASL_* settings; the apps use the plain one.
KAFKA_SASL_PORT="${KAFKA_SASL_PORT:-9096}"
MONGO_PORT="${MONGO_PORT:-27017}"
POSTGRESQL_PORT="${POSTGRESQL_PORT:-55432}"

ALL_SERVICES=(redis kafka mongo)

say() { printf '[services] %s\n' "$*"; }
die() {
  printf '[services] ERROR: %s\n' "$*" >&2
  exit 1
}

# --- small helpers -----------------------------------------------------------------------

port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

# The pid file alone is not trusted: a reused pid must also run the expected program.
pid_of() { # <svc> -> prints pid if that service's process is alive
  local svc="$1" pidfile pid pattern
  pidfile="$(svc_dir "$svc")/pid"
  [[ -s "$pidfile" ]] || return 1
  pid="$(<"$pidfile")"
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  case "$svc" in
    redis) pattern='redis-server' ;;
    kafka | kafka-*) pattern='kafka.Kafka' ;;
    redis-*) pattern='redis-server' ;;
    mongo) pattern='ferretdb' ;;
    postgres) pattern='/postgres -D' ;;
  esac
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$pattern" || return 1
  echo "$pid"
}

svc_dir() { echo "$STATE_DIR/$1"; }
svc_port() {
  case "$1" in
    redis) echo "$REDIS_PORT" ;;
    kafka) echo "$KAFKA_PORT" ;;
    mongo) echo "$MONGO_PORT" ;;
    postgres) echo "$POSTGRESQL_PORT" ;;
    kafka-* | redis-*) cluster_port "$1" ;;
  esac
}

port_owner() { # best-effort description of whoever listens on a port
  ss -ltnpH "sport = :$1" 2>/dev/null | sed -n 's/.*users:((\("[^"]*",pid=[0-9]*\).*/\1/p' | head -n1
}

show_log_tail() {
  local log="$1"
  [[ -f "$log" ]] || return 0
  printf '[services] --- last lines of %s ---\n' "$log" >&2
  tail -n 25 "$log" >&2 || true
}

wait_ready() { # <svc> <timeout-seconds> <check-command...>
  local svc="$1" timeout="$2" deadline
  shift 2
  deadline=$((SECONDS + timeout))
  until "$@"; do
    if ! pid_of "$svc" >/dev/null; then
      show_log_tail "$(svc_dir "$svc")/$svc.log"
      die "$svc exited during startup (log: $(svc_dir "$svc")/$svc.log)"
    fi
    if ((SECONDS >= deadline)); then
      show_log_tail "$(svc_dir "$svc")/$svc.log"
      die "$svc not ready after ${timeout}s (log: $(svc_dir "$svc")/$svc.log)"
    fi
    sleep 0.2
  done
}

# Detached from the caller's session, so services outlive the shell/CI step that started them.
spawn() { # <svc> <command...>: pid file written by the process itself, then exec
  local dir
  dir="$(svc_dir "$1")"
  shift
  # 9>&- : the daemon must not inherit (and so hold forever) this script's lock.
  # shellcheck disable=SC2016 # $$ and $@ belong to the inner bash
  setsid bash -c 'echo $$ >"$1/pid"; shift; exec "$@"' spawn "$dir" "$@" \
    >"$dir/$(basename "$dir").log" 2>&1 </dev/null 9>&- &
  # Wait for the pid file so that a `status` right after `up` sees the process.
  local i
  for ((i = 0; i < 50; i++)); do
    [[ -s "$dir/pid" ]] && return 0
    sleep 0.05
  done
}

need_cmd() { # <command> <hint>
  command -v "$1" >/dev/null 2>&1 || die "'$1' not found: $2"
}

# Fresh data unless the previous stop was an explicit single-service `down`.
prepare_data() { # <svc> <data-dir> -> returns 0 if data was kept
  local dir data="$2"
  dir="$(svc_dir "$1")"
  if [[ -f "$dir/keep-data" && -d "$data" ]]; then
    rm -f "$dir/keep-data"
    say "$1: reusing data from the previous run ($data)"
    return 0
  fi
  rm -rf "$data" "$dir/keep-data"
  mkdir -p "$data"
  return 1
}

check_port_free() { # <svc>
  local port ports
  ports="$(svc_port "$1")"
  [[ "$1" == kafka ]] && ports+=" $KAFKA_CONTROLLER_PORT $KAFKA_SASL_PORT"
  for port in $ports; do
    if port_open "$port"; then
      die "$1: port $HOST:$port is already in use by a process this script did not start ($(port_owner "$port")); stop it first"
    fi
  done
}

# --- Debian packages ---------------------------------------------------------------------

apt_install() { # <svc> <package...>: installs Debian packages (as root), first use only
  local svc="$1"
  shift
  command -v apt-get >/dev/null 2>&1 ||
    die "$svc: $* not found and apt-get is unavailable: install it by hand"
  [[ "$(id -u)" == 0 ]] || die "$svc: $* not found: run 'sudo apt-get install -y $*' (needs root)"
  say "$svc: installing Debian's $* (first run only)..."
  # Keep the packages' init scripts from starting a system-wide server (Redis on our port, or
  # Debian's own PostgreSQL cluster).
  local policy=/usr/sbin/policy-rc.d created_policy=0
  if [[ ! -e "$policy" ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && created_policy=1
  fi
  local rc=0
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null 2>&1 ||
    { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null; } ||
    rc=$?
  ((created_policy)) && rm -f "$policy"
  ((rc == 0)) || die "$svc: 'apt-get install $*' failed (exit $rc)"
}

# --- Redis -------------------------------------------------------------------------------

ensure_redis() {
  command -v redis-server >/dev/null 2>&1 && return 0
  apt_install redis redis-server
  command -v redis-server >/dev/null 2>&1 || die "redis: redis-server still missing after apt-get install"
}

redis_ping() { [[ "$(redis-cli -h "$HOST" -p "$REDIS_PORT" ping 2>/dev/null)" == PONG ]]; }

start_redis() {
  local dir
  dir="$(svc_dir redis)"
  mkdir -p "$dir"
  rm -f "$dir/pid"
  prepare_data redis "$dir/data" || true
  : >"$dir/redis.log"
  redis-server --port "$REDIS_PORT" --bind "$HOST" --save "" --appendonly yes --appendfsync always \
    --daemonize yes --pidfile "$dir/pid" --logfile "$dir/redis.log" --dir "$dir/data" >/dev/null 9>&-
  # the daemon writes its pid file a moment after redis-server returns: until then it is not "exited"
  local tries=0
  until [[ -s "$dir/pid" ]] || ((tries >= 50)); do sleep 0.1; tries=$((tries + 1)); done
  wait_ready redis 20 redis_ping
}

# --- Kafka -------------------------------------------------------------------------------

KAFKA_LIBS=""
KAFKA_RUNNING_VERSION=""

java_version() { java -version 2>&1 | sed -n '1s/.*version "\([^"]*\)".*/\1/p'; }
java_major() { java_version | sed 's/[^0-9].*//'; }

# Class-data sharing: the first broker run dumps the classes it loaded into an archive when it
# exits; later JVMs map it and start 1-2 s faster. Keyed by the JDK version, as an archive only
# fits the JDK that wrote it (a stale one is ignored by the JVM, never fatal).
kafka_cds_archive() { echo "$SERVICES_HOME/kafka-$KAFKA_RUNNING_VERSION/cds-java-$(java_version).jsa"; }
kafka_cds_opts() { # [dump]: with "dump", ask for an archive if there is none yet
  local jsa
  jsa="$(kafka_cds_archive)"
  # Written under another name, so that no JVM maps a half-written archive.
  [[ -s "$jsa.new" ]] && ! pid_of kafka >/dev/null && mv -f "$jsa.new" "$jsa"
  if [[ -s "$jsa" ]]; then
    echo "-XX:SharedArchiveFile=$jsa -Xlog:cds=off -Xlog:cds+dynamic=off"
  elif [[ "${1:-}" == dump ]]; then
    echo "-XX:ArchiveClassesAtExit=$jsa.new -Xlog:cds=off -Xlog:cds+dynamic=off"
  fi
}

ensure_java() {
  need_cmd java "Kafka needs a Java 17+ runtime (e.g. apt-get install -y openjdk-17-jre-headless)"
  local major
  major="$(java_major)"
  [[ -n "$major" && "$major" -ge 17 ]] || die "Kafka needs Java 17+, but 'java' is version ${major:-unknown}"
}

ensure_kafka() {
  ensure_java
  local v
  for v in $KAFKA_CANDIDATES; do
    if [[ -f "$SERVICES_HOME/kafka-$v/.complete" ]]; then
      KAFKA_LIBS="$SERVICES_HOME/kafka-$v/libs"
      KAFKA_RUNNING_VERSION="$v"
      return 0
    fi
  done
  need_cmd mvn "fetching Kafka's jars needs Maven (e.g. apt-get install -y maven)"
  for v in $KAFKA_CANDIDATES; do
    local home="$SERVICES_HOME/kafka-$v"
    say "kafka: fetching Apache Kafka $v + log4j2 jars from Maven Central (first run only)..."
    rm -rf "$home"
    mkdir -p "$home"
    # The pom is copied so that Maven writes nothing into the repo.
    cp "$SUPPORT_DIR/kafka-pom.xml" "$home/pom.xml"
    if (cd "$home" && mvn -q -B -Dkafka.version="$v" dependency:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$home/libs" >"$home/mvn.log" 2>&1); then
      touch "$home/.complete"
      KAFKA_LIBS="$home/libs"
      KAFKA_RUNNING_VERSION="$v"
      say "kafka: $(find "$home/libs" -name '*.jar' | wc -l) jars in $home/libs"
      return 0
    fi
    say "kafka: could not fetch Kafka $v (see $home/mvn.log), trying the next version"
  done
  die "kafka: no Kafka version out of '$KAFKA_CANDIDATES' could be fetched with Maven"
}

kafka_java() { # runs a Kafka class from the cached classpath
  local cds
  read -r -a cds <<<"$(kafka_cds_opts)"
  java ${cds[@]+"${cds[@]}"} -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
    -Dlog4j2.configurationFile="$SUPPORT_DIR/kafka-tools-log4j2.properties" \
    -cp "$KAFKA_LIBS/*" "$@"
}

write_kafka_config() { # <file> <data-dir>
  cat >"$1" <<EOF
# Written by scripts/services.sh on every start; edit the script, not this file.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$HOST:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://$HOST:$KAFKA_PORT,SASL_PLAINTEXT://$HOST:$KAFKA_SASL_PORT,CONTROLLER://$HOST:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$HOST:$KAFKA_PORT,SASL_PLAINTEXT://$HOST:$KAFKA_SASL_PORT,CONTROLLER://$HOST:$KAFKA_CONTROLLER_PORT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT
sasl.enabled.mechanisms=PLAIN
listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_switchboard="switchboard-secret";
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$2
num.partitions=3
default.replication.factor=1
min.insync.replicas=1
auto.create.topics.enable=true
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# The default 3000 ms would delay every first consumer-group join.
group.initial.rebalance.delay.ms=0
# Internal topics are created on first use; 50 partitions each (the default) keep a fresh broker
# answering "coordinator is loading" for a second or more on 2 cores.
offsets.topic.num.partitions=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.num.partitions=1
EOF
}

random_cluster_id() { # 16 random bytes, base64url without padding, as Kafka's Uuid prints them
  local id
  while :; do
    id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')"
    [[ "$id" != -* ]] && echo "$id" && return 0 # Kafka rejects ids that look like options
  done
}

kafka_ready() { port_open "$KAFKA_PORT" && grep -q 'Kafka Server started' "$(svc_dir kafka)/kafka.log"; }

# One request over bash's /dev/tcp, for a few of Kafka's API calls whose v1 responses start with
# correlation id, throttle time and error code; succeeds when that error code is 0.
kafka_request_ok() { # <api-key> <body-hex>
  local body size reply
  # header: api key, version 1, correlation id 1, client id "sb"
  body="$(printf '%04x' "$1")00010000000100027362$2"
  size="$(printf '%08x' $((${#body} / 2)))"
  reply="$(
    exec 3<>"/dev/tcp/$HOST/$KAFKA_PORT" || exit 1
    # shellcheck disable=SC2001 # hex pairs to \xNN escapes
    printf '%b' "$(sed 's/../\\x&/g' <<<"$size$body")" >&3
    # size(4) correlation id(4) throttle(4) error code(2)
    timeout 3 od -An -tu1 -N14 <&3
  )" 2>/dev/null || return 1
  read -r -a reply <<<"$reply"
  ((${#reply[@]} == 14 && reply[12] == 0 && reply[13] == 0))
}

# A fresh broker creates __consumer_offsets and __transaction_state, and fetches its first block
# of producer ids, on first use, and answers "coordinator is loading" until then. Asking for them
# here (FindCoordinator for a group and for a transactional id, InitProducerId as an idempotent
# producer does) moves that wait into `up`, out of the app's first test.
kafka_warm_up() {
  local key_hex request deadline=$((SECONDS + 20))
  key_hex="$(printf 'switchboard-warmup' | od -An -tx1 | tr -d ' \n')"
  key_hex="$(printf '%04x' $((${#key_hex} / 2)))$key_hex"
  # FindCoordinator v1: key, key_type; InitProducerId v1: null transactional id, timeout 30 s
  for request in "10 ${key_hex}00" "10 ${key_hex}01" "22 ffff00007530"; do
    # shellcheck disable=SC2086 # api key and body, split on purpose
    until kafka_request_ok $request; do
      if ((SECONDS >= deadline)); then
        say "kafka: warning: coordinators not ready yet (clients will retry)"
        return 0
      fi
      sleep 0.2
    done
  done
}

start_kafka() {
  local dir data
  dir="$(svc_dir kafka)"
  data="$dir/data"
  mkdir -p "$dir"
  rm -f "$dir/pid"
  write_kafka_config "$dir/server.properties" "$data"
  if ! prepare_data kafka "$data" || [[ ! -f "$data/meta.properties" ]]; then
    rm -rf "$data"
    mkdir -p "$data"
    kafka_java kafka.tools.StorageTool format -t "$(random_cluster_id)" \
      -c "$dir/server.properties" >"$dir/format.log" 2>&1 ||
      {
        show_log_tail "$dir/format.log"
        die "kafka: formatting the log directory failed"
      }
  fi
  local cds
  read -r -a cds <<<"$(kafka_cds_opts dump)"
  # Serial GC and a modest heap: a small dev broker on 2 cores, started many times a day.
  spawn kafka java ${cds[@]+"${cds[@]}"} -Xms128m -Xmx"$KAFKA_HEAP" -XX:+UseSerialGC -XX:+ExitOnOutOfMemoryError \
    -Djava.awt.headless=true -Dlog4j2.configurationFile="$SUPPORT_DIR/kafka-log4j2.properties" \
    -cp "$KAFKA_LIBS/*" kafka.Kafka "$dir/server.properties"
}

# --- MongoDB (FerretDB) ------------------------------------------------------------------

FERRETDB_BIN=""

ensure_ferretdb() {
  local home="$SERVICES_HOME/ferretdb-$FERRETDB_VERSION"
  FERRETDB_BIN="$home/ferretdb"
  [[ -x "$FERRETDB_BIN" ]] && return 0
  need_cmd go "building FerretDB needs the Go toolchain (Go 1.24 or newer) on PATH"
  say "mongo: building FerretDB $FERRETDB_VERSION from the Go module proxy (first run only, takes minutes)..."
  mkdir -p "$home"
  local json src
  # GOFLAGS from the caller (e.g. -mod=vendor) must not leak into this unrelated build.
  json="$(cd "$home" && GOFLAGS='' GOTOOLCHAIN=local go mod download -json "github.com/FerretDB/FerretDB@$FERRETDB_VERSION")" ||
    die "mongo: 'go mod download github.com/FerretDB/FerretDB@$FERRETDB_VERSION' failed"
  src="$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' <<<"$json")"
  [[ -d "$src" ]] || die "mongo: go mod download gave no module directory"
  # The module zip lacks build/version/version.txt, without which the binary panics at start.
  rm -rf "$home/src"
  cp -r "$src" "$home/src"
  chmod -R u+w "$home/src"
  mkdir -p "$home/src/build/version"
  echo "$FERRETDB_VERSION" >"$home/src/build/version/version.txt"
  (cd "$home/src" && GOFLAGS='' GOTOOLCHAIN=local go build -o "$home/ferretdb.tmp" ./cmd/ferretdb) >"$home/build.log" 2>&1 || {
    show_log_tail "$home/build.log"
    die "mongo: building FerretDB failed (log: $home/build.log)"
  }
  mv "$home/ferretdb.tmp" "$FERRETDB_BIN"
  rm -rf "$home/src"
  say "mongo: built $FERRETDB_BIN"
}

# --- PostgreSQL (FerretDB's postgresql backend) ---------------------------------------------
# A cluster of the script's own: initdb'd into state/mongo/data/postgresql (so mongo's data policy
# covers it), served on $HOST:$POSTGRESQL_PORT only (no Unix socket), pid file and log in
# state/postgres/. It is part of the mongo service: started before FerretDB, stopped after it.

PG_BIN=""
PG_AS=()    # prefix that runs initdb/postgres as a user PostgreSQL accepts (empty unless root)
PG_OWNER="" # uid:gid the cluster directory must belong to (setpriv only)

find_pg_bin() { # prints a directory holding initdb and postgres
  local d found=""
  if [[ -n "${POSTGRESQL_BIN:-}" ]]; then
    [[ -x "$POSTGRESQL_BIN/initdb" && -x "$POSTGRESQL_BIN/postgres" ]] || return 1
    echo "$POSTGRESQL_BIN"
    return 0
  fi
  # Debian keeps one directory per major version, off PATH; the newest wins.
  while read -r d; do
    [[ -x "$d/initdb" && -x "$d/postgres" ]] && found="$d"
  done < <(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V)
  if [[ -z "$found" ]] && command -v initdb >/dev/null 2>&1; then
    d="$(dirname "$(readlink -f "$(command -v initdb)")")"
    [[ -x "$d/postgres" ]] && found="$d"
  fi
  [[ -n "$found" ]] && echo "$found"
}

pg_major() { "$PG_BIN/postgres" -V | sed -n 's/^postgres (PostgreSQL) \([0-9]*\).*/\1/p'; }

# PostgreSQL will not run as root. As root, run it as the `postgres` user (Debian's package creates
# it): in a user namespace that maps our uid to postgres's, which keeps every file owned by root
# (so the cluster can live under /root, which postgres could not enter); or, where user namespaces
# are not allowed (some containers), as postgres itself, if it can reach the state dir.
pg_choose_user() {
  PG_AS=()
  PG_OWNER=""
  [[ "$(id -u)" == 0 ]] || return 0
  local uid gid
  if ! uid="$(id -u postgres 2>/dev/null)" || ! gid="$(id -g postgres 2>/dev/null)"; then
    die "mongo: PostgreSQL refuses to run as root, and there is no 'postgres' user to run it as"
  fi
  mkdir -p "$(svc_dir mongo)"
  if unshare --user --map-user="$uid" --map-group="$gid" true 2>/dev/null; then
    PG_AS=(unshare --user --map-user="$uid" --map-group="$gid")
  elif setpriv --reuid="$uid" --regid="$gid" --clear-groups test -x "$(svc_dir mongo)" 2>/dev/null; then
    PG_AS=(setpriv --reuid="$uid" --regid="$gid" --clear-groups)
    PG_OWNER="$uid:$gid"
  else
    die "mongo: PostgreSQL refuses to run as root, user namespaces are not allowed here, and the" \
      "postgres user cannot enter $(svc_dir mongo): set SWITCHBOARD_SERVICES_HOME to a directory" \
      "it can reach, or use FERRETDB_BACKEND=sqlite"
  fi
}

ensure_postgresql() {
  if ! PG_BIN="$(find_pg_bin)"; then
    [[ -z "${POSTGRESQL_BIN:-}" ]] || die "mongo: POSTGRESQL_BIN=$POSTGRESQL_BIN holds no initdb and postgres"
    apt_install mongo postgresql
    PG_BIN="$(find_pg_bin)" || die "mongo: PostgreSQL's initdb and postgres still missing after apt-get install"
  fi
  pg_choose_user
}

pg_ready() { "$PG_BIN/pg_isready" -q -h "$HOST" -p "$POSTGRESQL_PORT" -U postgres -d postgres -t 1; }

pg_psql() { "$PG_BIN/psql" -X -q -At -h "$HOST" -p "$POSTGRESQL_PORT" -U postgres "$@"; }

start_postgres() { # <cluster-dir>: a kept cluster is reused, else a new one is made
  local cluster="$1" dir major
  dir="$(svc_dir postgres)"
  mkdir -p "$dir"
  rm -f "$dir/pid"
  check_port_free postgres
  major="$(pg_major)"
  # A cluster only opens with the major version that wrote it (POSTGRESQL_BIN may have changed).
  if [[ ! -f "$cluster/PG_VERSION" || "$(<"$cluster/PG_VERSION")" != "$major" ]]; then
    rm -rf "$cluster"
    mkdir -p "$cluster"
    [[ -z "$PG_OWNER" ]] || chown "$PG_OWNER" "$cluster"
    # -N: no fsync of the new files (a throwaway cluster, like the settings below).
    ${PG_AS[@]+"${PG_AS[@]}"} "$PG_BIN/initdb" -D "$cluster" -U postgres --auth=trust -E UTF8 \
      --locale=C --no-instructions -N >"$dir/initdb.log" 2>&1 </dev/null 9>&- || {
      show_log_tail "$dir/initdb.log"
      die "mongo: initdb of a PostgreSQL $major cluster in $cluster failed"
    }
  fi
  # -k '': no Unix socket (its default directory belongs to the system's PostgreSQL).
  spawn postgres ${PG_AS[@]+"${PG_AS[@]}"} "$PG_BIN/postgres" -D "$cluster" -p "$POSTGRESQL_PORT" \
    -k '' -c listen_addresses="$HOST" -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
    -c max_connections=250
  wait_ready postgres 30 pg_ready
  if [[ "$(pg_psql -d postgres -c "SELECT 1 FROM pg_database WHERE datname = 'ferretdb'")" != 1 ]]; then
    pg_psql -d postgres -c 'CREATE DATABASE ferretdb' >/dev/null ||
      die "mongo: could not create the ferretdb database in PostgreSQL (log: $dir/postgres.log)"
  fi
}

ferretdb_backend() { # <pid>: the --handler a running FerretDB was started with
  tr '\0' '\n' <"/proc/$1/cmdline" 2>/dev/null | sed -n 's/^--handler=//p'
}

# FerretDB on PostgreSQL without its PostgreSQL is not a working mongo.
mongo_running() {
  local pid
  pid="$(pid_of mongo)" || return 1
  [[ "$(ferretdb_backend "$pid")" != postgresql ]] || pid_of postgres >/dev/null || return 1
  echo "$pid"
}

start_mongo() {
  local dir backend_args=()
  dir="$(svc_dir mongo)"
  mkdir -p "$dir"
  # A FerretDB whose PostgreSQL died, or a PostgreSQL whose FerretDB died: stopped before the
  # data policy decides (they died without a `down`, so it is fresh data).
  if pid_of mongo >/dev/null; then stop_service mongo; fi
  if pid_of postgres >/dev/null; then stop_service postgres; fi
  rm -f "$dir/pid"
  check_port_free mongo
  prepare_data mongo "$dir/data" || true
  mkdir -p "$dir/data/state"
  case "$FERRETDB_BACKEND" in
    sqlite)
      mkdir -p "$dir/data/sqlite"
      backend_args=(--handler=sqlite --sqlite-url="file:$dir/data/sqlite/")
      ;;
    postgresql)
      start_postgres "$dir/data/postgresql"
      # A pool of 200 (FerretDB's default is 50): FerretDB 1.24 can deadlock once every pooled
      # connection is taken while it creates a database's metadata under its registry lock
      # (docs/known-limits.md); the suites and failover tests reach 50 at once.
      backend_args=(--handler=postgresql --postgresql-url="postgres://postgres@$HOST:$POSTGRESQL_PORT/ferretdb?pool_max_conns=200")
      ;;
  esac
  # FERRETDB_DEBUG_ADDR: FerretDB's debug HTTP listener (metrics, pprof goroutine dumps), off by
  # default (FerretDB's own default would take 127.0.0.1:8088 in every private set).
  spawn mongo "$FERRETDB_BIN" "${backend_args[@]}" \
    --listen-addr="$HOST:$MONGO_PORT" --state-dir="$dir/data/state" --telemetry=disable \
    --debug-addr="${FERRETDB_DEBUG_ADDR:--}"
}

mongo_ready() { port_open "$MONGO_PORT"; }

# --- clustered services (up --cluster) --------------------------------------------------

# shellcheck source=services/cluster.sh
source "$SUPPORT_DIR/cluster.sh"

# --- commands ----------------------------------------------------------------------------

stop_service() { # <svc>
  local svc="$1" pid timeout=15 deadline signal=TERM
  [[ "$svc" == kafka* ]] && timeout=40 # a controlled shutdown flushes and closes every log
  [[ "$svc" == postgres ]] && signal=INT # "fast" shutdown: TERM would wait for clients to leave
  if ! pid="$(pid_of "$svc")"; then
    rm -f "$(svc_dir "$svc")/pid"
    say "$svc: not running"
    return 0
  fi
  say "$svc: stopping (pid $pid)..."
  kill "-$signal" "$pid" 2>/dev/null || true
  deadline=$((SECONDS + timeout))
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS >= deadline)); then
      say "$svc: still running after ${timeout}s, killing it"
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.2
  done
  rm -f "$(svc_dir "$svc")/pid"
  say "$svc: stopped"
}

print_env_hint() {
  say "point the app at them with:"
  echo "KAFKA_BROKERS=$HOST:$KAFKA_PORT REDIS_URL=redis://$HOST:$REDIS_PORT MONGO_URL=mongodb://$HOST:$MONGO_PORT"
}

svc_running() { # <svc> -> prints the pid if it runs (for mongo: with its backend)
  if [[ "$1" == mongo ]]; then mongo_running; else pid_of "$1"; fi
}

cmd_up() {
  local svc pid pending=() nodes=() kafka_nodes=0
  # Clustered nodes (scripts/services/cluster.sh) start together, the others as before.
  for svc in "$@"; do
    if is_cluster_node "$svc"; then
      nodes+=("$svc")
      [[ "$svc" == kafka-* ]] && kafka_nodes=1
    fi
  done
  if ((${#nodes[@]})); then
    ((kafka_nodes)) && ensure_kafka
    [[ " ${nodes[*]}" == *" redis-"* ]] && ensure_redis
    cluster_up "${nodes[@]}"
    if ((kafka_nodes)); then (KAFKA_PORT="$(cluster_port kafka-1)"; kafka_warm_up); fi
    local rest=()
    for svc in "$@"; do is_cluster_node "$svc" || rest+=("$svc"); done
    if ((${#rest[@]})); then cmd_up_single "${rest[@]}"; fi
    say "point the app at the cluster with:"
    cluster_env
    return
  fi
  cmd_up_single "$@"
}

cmd_up_single() {
  local svc pid pending=()
  # Fetch/build/install everything first, so a missing tool fails before anything starts.
  for svc in "$@"; do
    svc_running "$svc" >/dev/null && continue
    case "$svc" in
      redis) ensure_redis ;;
      kafka) ensure_kafka ;;
      mongo)
        ensure_ferretdb
        if [[ "$FERRETDB_BACKEND" == postgresql ]]; then ensure_postgresql; fi
        ;;
    esac
  done
  for svc in "$@"; do
    if pid="$(svc_running "$svc")"; then
      local note=""
      if [[ "$svc" == mongo ]]; then
        local backend
        backend="$(ferretdb_backend "$pid")"
        note=", FerretDB on $backend"
        [[ "$backend" == "$FERRETDB_BACKEND" ]] ||
          note+="; FERRETDB_BACKEND=$FERRETDB_BACKEND applies from the next start: 'scripts/services.sh down mongo' first"
      fi
      say "$svc: already running (pid $pid) on $HOST:$(svc_port "$svc")$note"
      continue
    fi
    if [[ "$svc" == mongo ]] && pid="$(pid_of mongo)"; then
      say "mongo: FerretDB (pid $pid) runs without its PostgreSQL: restarting it on fresh data"
      stop_service mongo
    fi
    check_port_free "$svc"
    case "$svc" in
      redis) start_redis ;;
      kafka) start_kafka ;;
      mongo) start_mongo ;;
    esac
    pending+=("$svc")
  done
  # Kafka's JVM and FerretDB come up side by side; now wait for each to answer.
  for svc in ${pending[@]+"${pending[@]}"}; do
    case "$svc" in
      kafka)
        wait_ready kafka 90 kafka_ready
        kafka_warm_up
        ;;
      mongo) wait_ready mongo 30 mongo_ready ;;
    esac
    local what="$svc"
    [[ "$svc" == kafka ]] && what="kafka $KAFKA_RUNNING_VERSION"
    if [[ "$svc" == mongo ]]; then
      what="mongo (FerretDB $FERRETDB_VERSION on $FERRETDB_BACKEND"
      [[ "$FERRETDB_BACKEND" == postgresql ]] &&
        what+=": PostgreSQL $(pg_major) pid $(pid_of postgres) on $HOST:$POSTGRESQL_PORT"
      what+=")"
    fi
    say "$what: up (pid $(pid_of "$svc")) on $HOST:$(svc_port "$svc")"
  done
  ((CLUSTER)) || print_env_hint
}

cmd_down() { # <explicit: 0|1> <wipe: 0|1> <svc...>
  local explicit="$1" wipe="$2" svc
  shift 2
  for svc in "$@"; do
    stop_service "$svc"
    # FerretDB's PostgreSQL goes down with it (after it: no client left to wait for).
    if [[ "$svc" == mongo ]] && pid_of postgres >/dev/null; then stop_service postgres; fi
    local dir
    dir="$(svc_dir "$svc")"
    if ((wipe)) || ((!explicit)); then
      rm -rf "$dir/data" "$dir/keep-data"
    elif [[ -d "$dir" ]]; then
      touch "$dir/keep-data" # the next `up` of this service reuses its data
    fi
  done
  # the Kafka cluster's id goes with the last of its nodes' data
  local node
  for node in "${CLUSTER_KAFKA[@]}"; do [[ -d "$(svc_dir "$node")/data" ]] && return 0; done
  rm -f "$STATE_DIR/kafka-cluster.id"
}

cmd_kill() { # <svc...>: a crash, data kept
  local svc pid
  for svc in "$@"; do
    local procs=("$svc")
    [[ "$svc" == mongo ]] && procs+=(postgres)
    for p in "${procs[@]}"; do
      if pid="$(pid_of "$p")"; then
        kill -KILL "$pid" 2>/dev/null || true
        while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
        rm -f "$(svc_dir "$p")/pid"
        say "$p: killed (pid $pid, SIGKILL)"
      else
        say "$p: not running"
      fi
    done
    [[ -d "$(svc_dir "$svc")" ]] && touch "$(svc_dir "$svc")/keep-data" # the next `up` reuses its data
  done
}

cmd_status() {
  local svc pid pgpid port down=0
  for svc in "$@"; do
    port="$(svc_port "$svc")"
    if pid="$(pid_of "$svc")"; then
      local note=""
      if [[ "$svc" == mongo ]]; then
        note=" FerretDB on $(ferretdb_backend "$pid")"
        if [[ "$note" == *postgresql ]]; then
          if pgpid="$(pid_of postgres)"; then
            note+=" (PostgreSQL pid $pgpid, $HOST:$POSTGRESQL_PORT)"
          else
            printf '%-6s broken   pid %-8s %s:%s%s, but its PostgreSQL is not running\n' \
              "$svc" "$pid" "$HOST" "$port" "$note"
            down=1
            continue
          fi
        fi
      fi
      if port_open "$port"; then
        printf '%-6s running  pid %-8s %s:%s%s\n' "$svc" "$pid" "$HOST" "$port" "$note"
      else
        printf '%-6s starting pid %-8s %s:%s (not answering yet)\n' "$svc" "$pid" "$HOST" "$port"
        down=1
      fi
    elif port_open "$port"; then
      printf '%-6s foreign  %s:%s is held by a process this script did not start (%s)\n' \
        "$svc" "$HOST" "$port" "$(port_owner "$port")"
      down=1
    else
      local orphan=""
      if [[ "$svc" == mongo ]] && pgpid="$(pid_of postgres)"; then
        orphan=" (its PostgreSQL, pid $pgpid, still runs: 'scripts/services.sh down mongo' stops it)"
      fi
      printf '%-6s stopped%s\n' "$svc" "$orphan"
      down=1
    fi
  done
  return "$down"
}

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'
}

SERVICES=()
CLUSTER=0
# Services named on the command line, normalised into SERVICES; none means all.
parse_services() {
  local s
  if (($# == 0)); then
    if ((CLUSTER)); then set -- "${CLUSTER_NODES[@]}" mongo; else set -- "${ALL_SERVICES[@]}"; fi
  fi
  for s in "$@"; do
    if is_cluster_node "$s"; then SERVICES+=("$s"); continue; fi
    case "$s" in
      redis | kafka) SERVICES+=("$s") ;;
      mongo | mongodb | ferretdb) SERVICES+=(mongo) ;;
      *) die "unknown service '$s' (expected: redis, kafka, mongo, or a cluster node kafka-1..3, redis-1..6)" ;;
    esac
  done
}

main() {
  local cmd="${1:-}"
  (($#)) && shift
  if [[ "$cmd" == kafka-class ]]; then
    (($#)) || die "usage: scripts/services.sh kafka-class CLASS [ARG...]"
    ensure_kafka
    kafka_java "$@"
    return
  fi
  local wipe=0 explicit=0 args=()
  local a
  for a in "$@"; do
    case "$a" in
      --wipe) wipe=1 ;;
      --cluster) CLUSTER=1 ;;
      -*) die "unknown option '$a'" ;;
      *) args+=("$a") ;;
    esac
  done
  ((${#args[@]})) && explicit=1
  parse_services ${args[@]+"${args[@]}"}

  case "$cmd" in
    up | down | kill | reset)
      mkdir -p "$STATE_DIR"
      # One up/down at a time: parallel test runners may all call `up`.
      exec 9>"$STATE_DIR/.lock"
      flock 9
      ;;
  esac

  case "$cmd" in
    up) cmd_up "${SERVICES[@]}" ;;
    down) cmd_down "$explicit" "$wipe" "${SERVICES[@]}" ;;
    kill) cmd_kill "${SERVICES[@]}" ;;
    status) cmd_status "${SERVICES[@]}" ;;
    reset)
      cmd_down 0 1 "${ALL_SERVICES[@]}" "${CLUSTER_NODES[@]}"
      rm -f "$STATE_DIR/kafka-cluster.id"
      for s in "${CLUSTER_NODES[@]}"; do rm -rf "${STATE_DIR:?}/$s"; done
      rm -rf "${STATE_DIR:?}"/redis "${STATE_DIR:?}"/kafka "${STATE_DIR:?}"/mongo "${STATE_DIR:?}"/postgres
      say "all state under $STATE_DIR deleted (cached downloads and builds kept)"
      ;;
    env)
      if ((CLUSTER)); then
        cluster_env | tr ' ' '\n' | sed 's/^/export /'
        return
      fi
      echo "export KAFKA_BROKERS=$HOST:$KAFKA_PORT"
      echo "export REDIS_URL=redis://$HOST:$REDIS_PORT"
      echo "export MONGO_URL=mongodb://$HOST:$MONGO_PORT"
      ;;
    -h | --help | help) usage ;;
    *)
      usage >&2
      exit 2
      ;;
  esac
}

main "$@"
