# Sourced by scripts/services.sh: the clustered services of `up --cluster`, beside the single ones
# (their own ports and state directories), each node a service of its own that can be killed and
# restarted on its data by itself (`kill kafka-2`, `up kafka-2`):
#   kafka-1..3   Kafka in KRaft mode, three combined broker+controller nodes, one cluster id,
#                brokers on 127.0.0.1:19092-19094, controllers on 19192-19194, replication
#                factor 3 (min.insync.replicas 2) for the internal topics
#   redis-1..6   a Redis Cluster of 3 primaries and 3 replicas on 127.0.0.1:7001-7006 (Debian's
#                redis-server 7, `redis-cli --cluster create`), each on an fsynced append-only file
# The store is the single one (mongo), as for the single services.

CLUSTER_KAFKA=(kafka-1 kafka-2 kafka-3)
CLUSTER_REDIS=(redis-1 redis-2 redis-3 redis-4 redis-5 redis-6)
CLUSTER_NODES=("${CLUSTER_KAFKA[@]}" "${CLUSTER_REDIS[@]}")
CLUSTER_KAFKA_PORT_BASE="${CLUSTER_KAFKA_PORT_BASE:-19091}"           # broker N on base + N
CLUSTER_CONTROLLER_PORT_BASE="${CLUSTER_CONTROLLER_PORT_BASE:-19191}" # controller N on base + N
CLUSTER_REDIS_PORT_BASE="${CLUSTER_REDIS_PORT_BASE:-7000}"            # node N on base + N
# Three JVMs beside everything else on a small machine: a small heap each.
CLUSTER_KAFKA_HEAP="${CLUSTER_KAFKA_HEAP:-320m}"

is_cluster_node() { [[ "$1" =~ ^(kafka|redis)-[1-9]$ ]]; }
node_index() { echo "${1##*-}"; }

cluster_port() { # <node>
  local n
  n="$(node_index "$1")"
  case "$1" in
    kafka-*) echo $((CLUSTER_KAFKA_PORT_BASE + n)) ;;
    redis-*) echo $((CLUSTER_REDIS_PORT_BASE + n)) ;;
  esac
}

cluster_brokers() {
  local node list=()
  for node in "${CLUSTER_KAFKA[@]}"; do list+=("$HOST:$(cluster_port "$node")"); done
  (IFS=,; echo "${list[*]}")
}

cluster_redis_nodes() {
  local node list=()
  for node in "${CLUSTER_REDIS[@]}"; do list+=("$HOST:$(cluster_port "$node")"); done
  (IFS=,; echo "${list[*]}")
}

# REDIS_WAIT_REPLICAS=1: every primary of this cluster has a replica, so the cache handler's writes
# wait for it and a primary's failover loses none (docs/real-services.md#cache-writes-and-replicas).
cluster_env() {
  echo "KAFKA_BROKERS=$(cluster_brokers) REDIS_CLUSTER_NODES=$(cluster_redis_nodes) REDIS_WAIT_REPLICAS=1 MONGO_URL=mongodb://$HOST:$MONGO_PORT"
}

# --- Kafka nodes -------------------------------------------------------------------------

write_cluster_kafka_config() { # <node> <file> <data-dir>
  local n voters="" i
  n="$(node_index "$1")"
  for i in 1 2 3; do voters+="${voters:+,}$i@$HOST:$((CLUSTER_CONTROLLER_PORT_BASE + i))"; done
  cat >"$2" <<EOF
# Written by scripts/services.sh on every start; edit scripts/services/cluster.sh, not this file.
process.roles=broker,controller
node.id=$n
controller.quorum.voters=$voters
listeners=PLAINTEXT://$HOST:$((CLUSTER_KAFKA_PORT_BASE + n)),CONTROLLER://$HOST:$((CLUSTER_CONTROLLER_PORT_BASE + n))
advertised.listeners=PLAINTEXT://$HOST:$((CLUSTER_KAFKA_PORT_BASE + n)),CONTROLLER://$HOST:$((CLUSTER_CONTROLLER_PORT_BASE + n))
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$3
num.partitions=3
default.replication.factor=3
min.insync.replicas=2
auto.create.topics.enable=false
offsets.topic.replication.factor=3
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
share.coordinator.state.topic.replication.factor=3
share.coordinator.state.topic.min.isr=2
group.initial.rebalance.delay.ms=0
offsets.topic.num.partitions=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.num.partitions=1
# A broker that dies is noticed, and its partitions led elsewhere, within a few seconds.
broker.session.timeout.ms=4000
broker.heartbeat.interval.ms=1000
controller.quorum.election.timeout.ms=1000
controller.quorum.fetch.timeout.ms=2000
# A restarted broker takes back the leadership it had, so load spreads again.
auto.leader.rebalance.enable=true
leader.imbalance.check.interval.seconds=10
EOF
}

start_cluster_kafka() { # <node>
  local node="$1" dir data id_file
  dir="$(svc_dir "$node")"
  data="$dir/data"
  id_file="$STATE_DIR/kafka-cluster.id"
  mkdir -p "$dir"
  rm -f "$dir/pid"
  write_cluster_kafka_config "$node" "$dir/server.properties" "$data"
  if ! prepare_data "$node" "$data" || [[ ! -f "$data/meta.properties" ]]; then
    rm -rf "$data"
    mkdir -p "$data"
    # every node of the cluster is formatted with the same cluster id
    [[ -s "$id_file" ]] || random_cluster_id >"$id_file"
    kafka_java kafka.tools.StorageTool format -t "$(<"$id_file")" -c "$dir/server.properties" \
      >"$dir/format.log" 2>&1 || {
      show_log_tail "$dir/format.log"
      die "$node: formatting the log directory failed"
    }
  fi
  spawn "$node" java -Xms96m -Xmx"$CLUSTER_KAFKA_HEAP" -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
    -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$SUPPORT_DIR/kafka-log4j2.properties" \
    -cp "$KAFKA_LIBS/*" kafka.Kafka "$dir/server.properties"
}

cluster_kafka_ready() { # <node>
  port_open "$(cluster_port "$1")" && grep -q 'Kafka Server started' "$(svc_dir "$1")/$1.log"
}

# --- Redis Cluster nodes -----------------------------------------------------------------

start_cluster_redis() { # <node>
  local node="$1" dir
  dir="$(svc_dir "$node")"
  mkdir -p "$dir"
  rm -f "$dir/pid"
  prepare_data "$node" "$dir/data" || true
  : >"$dir/$node.log"
  # nodes.conf (the node's identity and view of the cluster) and the AOF live in data/, so that a
  # node restarted on its data rejoins as itself.
  redis-server --port "$(cluster_port "$node")" --bind "$HOST" --cluster-enabled yes \
    --cluster-config-file nodes.conf --cluster-node-timeout 2000 --save "" \
    --appendonly yes --appendfsync always --daemonize yes \
    --pidfile "$dir/pid" --logfile "$dir/$node.log" --dir "$dir/data" >/dev/null 9>&-
}

cluster_redis_ping() { [[ "$(redis-cli -h "$HOST" -p "$(cluster_port "$1")" ping 2>/dev/null)" == PONG ]]; }
cluster_redis_ok() { redis-cli -h "$HOST" -p "$(cluster_port "$1")" cluster info 2>/dev/null | grep -q '^cluster_state:ok'; }
# In sync: a replica's link to its primary is up; a primary has a replica online. Until then a WAIT
# for one replica gets none (REDIS_WAIT_REPLICAS=1 holds the cache back) and CLUSTER SLOTS may list
# no replica: a fresh cluster is `ok` before its replicas have made their first sync.
cluster_redis_synced() {
  local info
  info="$(redis-cli -h "$HOST" -p "$(cluster_port "$1")" info replication 2>/dev/null | tr -d '\r')"
  case "$info" in
    *role:slave*) grep -q '^master_link_status:up' <<<"$info" ;;
    *role:master*) grep -q '^slave[0-9]*:.*state=online' <<<"$info" ;;
    *) return 1 ;;
  esac
}

# Creates the cluster when its nodes know no other (fresh data), then waits until every node says ok.
form_redis_cluster() {
  local first known
  first="$(cluster_port redis-1)"
  known="$(redis-cli -h "$HOST" -p "$first" cluster info 2>/dev/null | sed -n 's/^cluster_known_nodes:\([0-9]*\).*/\1/p')"
  if [[ "${known:-1}" -le 1 ]]; then
    local addrs=() node
    for node in "${CLUSTER_REDIS[@]}"; do addrs+=("$HOST:$(cluster_port "$node")"); done
    redis-cli --cluster create "${addrs[@]}" --cluster-replicas 1 --cluster-yes >"$STATE_DIR/redis-cluster-create.log" 2>&1 ||
      { show_log_tail "$STATE_DIR/redis-cluster-create.log"; die "redis cluster: create failed"; }
    say "redis cluster: created (3 primaries, 3 replicas, 16384 slots)"
  fi
  local node
  for node in "${CLUSTER_REDIS[@]}"; do
    pid_of "$node" >/dev/null || continue
    wait_ready "$node" 30 cluster_redis_ok "$node"
  done
  # only when all six run: with a node down its partner has no one to sync with
  local running=0
  for node in "${CLUSTER_REDIS[@]}"; do pid_of "$node" >/dev/null && running=$((running + 1)); done
  ((running == ${#CLUSTER_REDIS[@]})) || return 0
  for node in "${CLUSTER_REDIS[@]}"; do wait_ready "$node" 60 cluster_redis_synced "$node"; done
}

# --- up / down for nodes -----------------------------------------------------------------

cluster_up() { # <node...>: start those not running, then wait for each
  local node pending=() redis_started=0
  for node in "$@"; do
    if pid_of "$node" >/dev/null; then
      say "$node: already running (pid $(pid_of "$node")) on $HOST:$(cluster_port "$node")"
      continue
    fi
    port_open "$(cluster_port "$node")" &&
      die "$node: port $HOST:$(cluster_port "$node") is already in use by a process this script did not start ($(port_owner "$(cluster_port "$node")"))"
    case "$node" in
      kafka-*) start_cluster_kafka "$node" ;;
      redis-*) start_cluster_redis "$node"; redis_started=1 ;;
    esac
    pending+=("$node")
  done
  for node in ${pending[@]+"${pending[@]}"}; do
    case "$node" in
      kafka-*) wait_ready "$node" 120 cluster_kafka_ready "$node" ;;
      redis-*) wait_ready "$node" 20 cluster_redis_ping "$node" ;;
    esac
    say "$node: up (pid $(pid_of "$node")) on $HOST:$(cluster_port "$node")"
  done
  if ((redis_started)); then form_redis_cluster; fi
}
