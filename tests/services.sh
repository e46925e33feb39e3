#!/usr/bin/env bash
# Bring up what the test suite needs: PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379.
# Reuse running ones, start installed ones, install them with apt-get when run as root; otherwise
# stop with a message that says exactly what to do. Prints the TEST_* variables to export.
#
#   bash tests/services.sh                 PostgreSQL and Redis, as above
#   bash tests/services.sh --cluster       also a private 3-master Redis Cluster on free ports
#                                          (TEST_REDIS_CLUSTER_URL, TEST_REDIS_CLUSTER_DIR)
#   bash tests/services.sh stop-cluster DIR   stop the cluster started with --cluster
set -euo pipefail

PGHOST=127.0.0.1 PGPORT=5432 REDISPORT=6379
say() { echo "services: $*" >&2; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {
  for _ in $(seq 1 60); do port_open "$1" && return 0; sleep 0.5; done
  return 1
}

# --- stop-cluster DIR: shut down the nodes a --cluster run started (tests/run.sh does it on exit).
if [ "${1:-}" = stop-cluster ]; then
  dir=${2:?usage: services.sh stop-cluster DIR}
  pids=()
  for f in "$dir"/*/redis.pid; do
    [ -f "$f" ] && pids+=("$(cat "$f")")
  done
  [ ${#pids[@]} -gt 0 ] && kill "${pids[@]}" 2>/dev/null || true
  # A node writes its last log lines while it exits: removing the folder before it is gone
  # races with those writes ("Directory not empty"), so wait for every node first (at most 10 s).
  for _ in $(seq 1 50); do
    alive=0
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.2
  done
  rm -rf "$dir" 2>/dev/null || { sleep 0.5; rm -rf "$dir"; }
  exit 0
fi
want_cluster=0
[ "${1:-}" = --cluster ] && want_cluster=1

need_root() {
  say "$1 is not installed and this is not root, so I cannot install it."
  say "Install it (Debian/Ubuntu: sudo apt-get install -y postgresql redis-server), start it on"
  say "127.0.0.1 (PostgreSQL :5432 with a 'postgres' role, Redis :6379), or point the tests at"
  say "running ones with TEST_DATABASE_URL=postgresql://... and TEST_REDIS_URL=redis://..."
  exit 1
}

apt_updated=0
apt_install() {
  [ "$(id -u)" = 0 ] || need_root "$1"
  if [ "$apt_updated" = 0 ]; then DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2; apt_updated=1; fi
  say "installing $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2
}

# --- PostgreSQL -------------------------------------------------------------------------
if [ -z "${TEST_DATABASE_URL:-}" ]; then
  if ! port_open $PGPORT; then
    if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
      apt_install postgresql
    fi
    say "starting PostgreSQL"
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    if command -v pg_ctlcluster >/dev/null; then
      pg_ctlcluster --skip-systemctl-redirect "$version" main start >&2 || pg_ctlcluster "$version" main start >&2
    fi
    wait_port $PGPORT || { say "PostgreSQL did not come up on $PGHOST:$PGPORT"; exit 1; }
  fi
  url="postgresql://postgres@$PGHOST:$PGPORT/postgres"
  if command -v psql >/dev/null && ! psql "$url" -tAc 'SELECT 1' >/dev/null 2>&1; then
    # A stock Debian cluster wants a password over TCP; as root we give the postgres role one.
    if [ "$(id -u)" = 0 ]; then
      runuser -u postgres -- psql -qc "ALTER ROLE postgres PASSWORD 'postgres'" >&2
      url="postgresql://postgres:postgres@$PGHOST:$PGPORT/postgres"
    else
      say "cannot log in to PostgreSQL as 'postgres' over TCP; set TEST_DATABASE_URL"; exit 1
    fi
  fi
  echo "export TEST_DATABASE_URL=$url"
fi

# --- Redis ------------------------------------------------------------------------------
if [ -z "${TEST_REDIS_URL:-}" ]; then
  if ! port_open $REDISPORT; then
    command -v redis-server >/dev/null || apt_install redis-server
    say "starting Redis"
    mkdir -p /tmp/messenger-redis
    redis-server --daemonize yes --bind 127.0.0.1 --port $REDISPORT --save "" --appendonly no \
      --dir /tmp/messenger-redis --logfile /tmp/messenger-redis/redis.log >&2
    wait_port $REDISPORT || { say "Redis did not come up on 127.0.0.1:$REDISPORT"; exit 1; }
  fi
  echo "export TEST_REDIS_URL=redis://127.0.0.1:$REDISPORT/0"
fi

# --- Redis Cluster (only with --cluster) ------------------------------------------------
# Three masters without replicas, each in its own directory (nodes.conf survives a restart, so a
# restarted master takes its slots back), on free ports, from the installed redis-server.
# cluster-require-full-coverage no: with one master down the other shards keep serving, which
# is what the shard-restart test exercises.
if [ "$want_cluster" = 1 ] && [ -z "${TEST_REDIS_CLUSTER_URL:-}" ]; then
  command -v redis-cli >/dev/null || apt_install redis-server
  dir=$(mktemp -d /tmp/messenger-redis-cluster.XXXXXX)
  ports=$(python3 -c '
import socket
# A cluster node also listens on port + 10000 (its bus): both must be free.
found, held = [], []
while len(found) < 3:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    held.append(s)
    port = s.getsockname()[1]
    if port + 10000 > 65535:
        continue
    bus = socket.socket()
    try:
        bus.bind(("127.0.0.1", port + 10000))
    except OSError:
        continue
    held.append(bus)
    found.append(port)
print(" ".join(map(str, found)))
')
  set -- $ports
  [ $# -ge 3 ] || { say "no free ports for the Redis Cluster"; exit 1; }
  nodes=()
  for port in "$1" "$2" "$3"; do
    mkdir -p "$dir/$port"
    # start.sh also lets a test restart this master (tests/test_redis_cluster.py).
    cat >"$dir/$port/start.sh" <<EOF
exec redis-server --daemonize yes --bind 127.0.0.1 --port $port --save "" --appendonly no \\
  --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 2000 \\
  --cluster-require-full-coverage no --dir $dir/$port --pidfile $dir/$port/redis.pid \\
  --logfile $dir/$port/redis.log
EOF
    bash "$dir/$port/start.sh" >&2
    nodes+=("127.0.0.1:$port")
  done
  for port in "$1" "$2" "$3"; do
    wait_port "$port" || { say "Redis Cluster node :$port did not come up"; exit 1; }
  done
  redis-cli --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes >/dev/null 2>&1 ||
    { say "redis-cli --cluster create failed"; bash "$0" stop-cluster "$dir"; exit 1; }
  for _ in $(seq 1 60); do
    redis-cli -p "$1" cluster info 2>/dev/null | grep -q 'cluster_state:ok' && break
    sleep 0.2
  done
  echo "export TEST_REDIS_CLUSTER_URL=redis+cluster://$(IFS=,; echo "${nodes[*]}")"
  echo "export TEST_REDIS_CLUSTER_DIR=$dir"
fi
