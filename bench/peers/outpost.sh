#!/usr/bin/env bash
# Hookdeck Outpost, the peer bench/peers.py measures hookstream against: installed, built and run on this machine
# (Debian 12, no systemd, as root). Everything listens on or talks to 127.0.0.1 only, telemetry off (outpost.env).
#
#   outpost.sh install      apt packages if missing (postgresql, redis-server, rabbitmq-server), the PG role and db
#   outpost.sh build        Outpost's source through the Go module proxy, built into the cache (no-op when built)
#   outpost.sh infra-start  Postgres, Redis, RabbitMQ in the background     outpost.sh infra-stop
#   outpost.sh reset        empty state: a new database, Redis db flushed, Outpost's queues deleted (server stopped)
#   outpost.sh start        migrations, then outpost-server in the background until /healthz answers
#   outpost.sh stop | status
#
# The Go caches are the project's (~/.cache/hookstream/go, as tests/support/k8s.py uses them); the binaries go to
# ~/.cache/hookstream/outpost/<version>/bin; the server's working dir, log and Redis's files to $OUTPOST_RUN.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${HOOKSTREAM_CACHE:-$HOME/.cache/hookstream}"
OUTPOST_VERSION="${OUTPOST_VERSION:-v1.1.0}"  # the one version this machine's module proxy serves
OUTPOST_HOME="${OUTPOST_HOME:-$CACHE/outpost/$OUTPOST_VERSION}"
OUTPOST_RUN="${OUTPOST_RUN:-$OUTPOST_HOME/run}"  # Outpost auto-loads ./.env and ./.outpost.yaml: keep none here
PG_VER="${PG_VER:-15}"
AS_POSTGRES=(runuser -u postgres --)  # no sudo on the box
QUEUES=(outpost-delivery outpost-log outpost-delivery.dlq outpost-log.dlq)

load_env() { set -a; . "$HERE/outpost.env"; set +a; }

wait_http() {  # url seconds
  for _ in $(seq 1 "$(( $2 * 4 ))"); do curl -fsS -o /dev/null "$1" 2>/dev/null && return 0; sleep 0.25; done
  echo "timeout waiting for $1" >&2; return 1
}

wait_redis() {
  for _ in $(seq 1 40); do redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 && return 0; sleep 0.25; done
  echo "timeout waiting for redis" >&2; return 1
}

server_pid() { cat "$OUTPOST_RUN/outpost-server.pid" 2>/dev/null || true; }

case "${1:-}" in
install)
  missing=()
  command -v pg_ctlcluster >/dev/null || missing+=(postgresql)
  command -v redis-server >/dev/null || missing+=(redis-server)
  command -v rabbitmq-server >/dev/null || missing+=(rabbitmq-server)
  command -v curl >/dev/null || missing+=(curl)
  if [ "${#missing[@]}" -gt 0 ]; then
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
  fi
  # RabbitMQ binds every interface unless told; its Debian wrapper drops the environment, so this file it is.
  ENV_CONF=/etc/rabbitmq/rabbitmq-env.conf
  grep -q '^NODE_IP_ADDRESS=127.0.0.1' "$ENV_CONF" 2>/dev/null || cat >> "$ENV_CONF" <<'CONF'
NODE_IP_ADDRESS=127.0.0.1
export ERL_EPMD_ADDRESS=127.0.0.1
SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
CONF
  pg_ctlcluster "$PG_VER" main start 2>/dev/null || true
  if ! "${AS_POSTGRES[@]}" psql -tAc "SELECT 1 FROM pg_roles WHERE rolname = 'outpost'" | grep -q 1; then
    "${AS_POSTGRES[@]}" psql -v ON_ERROR_STOP=1 -qc "CREATE ROLE outpost LOGIN PASSWORD 'outpost'"
    "${AS_POSTGRES[@]}" psql -v ON_ERROR_STOP=1 -qc "CREATE DATABASE outpost OWNER outpost"
    "${AS_POSTGRES[@]}" psql -v ON_ERROR_STOP=1 -qc "ALTER SYSTEM SET max_connections = 300"
    pg_ctlcluster "$PG_VER" main restart
  fi
  ;;
build)
  if [ -x "$OUTPOST_HOME/bin/outpost-server" ] && "$OUTPOST_HOME/bin/outpost" --version | grep -q "$OUTPOST_VERSION"; then
    exit 0
  fi
  # `go install pkg@version` also asks the proxy for the module's version list, which it refuses here (403):
  # download the one module, then build it like its build/.goreleaser.yaml does.
  export GOMODCACHE="$CACHE/go/mod" GOCACHE="$CACHE/go/build" GOFLAGS=-buildvcs=false CGO_ENABLED=0
  DIR=$(cd / && go mod download -json "github.com/hookdeck/outpost@$OUTPOST_VERSION" | sed -n 's/.*"Dir": "\(.*\)",/\1/p')
  rm -rf "$OUTPOST_HOME/src"; mkdir -p "$OUTPOST_HOME/bin"
  cp -r "$DIR" "$OUTPOST_HOME/src"; chmod -R u+w "$OUTPOST_HOME/src"
  cd "$OUTPOST_HOME/src"
  LDF="-s -w -X github.com/hookdeck/outpost/internal/version.version=$OUTPOST_VERSION"
  go build -tags nomsgpack -ldflags "$LDF" -o "$OUTPOST_HOME/bin/outpost" ./cmd/outpost
  go build -tags nomsgpack -ldflags "$LDF" -o "$OUTPOST_HOME/bin/outpost-server" ./cmd/outpost-server
  "$OUTPOST_HOME/bin/outpost" --version
  ;;
infra-start)
  pg_ctlcluster "$PG_VER" main start 2>/dev/null || true
  if ! redis-cli -h 127.0.0.1 ping >/dev/null 2>&1; then
    mkdir -p "$OUTPOST_RUN/redis"
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --appendonly yes --dir "$OUTPOST_RUN/redis" \
      --logfile "$OUTPOST_RUN/redis/redis.log" --pidfile "$OUTPOST_RUN/redis/redis.pid"
  fi
  if ! rabbitmqctl -q status >/dev/null 2>&1; then
    rabbitmq-server -detached  # the wrapper switches to the rabbitmq user; prints "Still booting" once
  fi
  # await_startup needs the node registered first; on a busy machine that takes a while
  for _ in $(seq 1 120); do rabbitmqctl -q await_startup >/dev/null 2>&1 && break; sleep 1; done
  rabbitmqctl -q await_startup
  wait_redis
  ;;
infra-stop)
  "$0" stop
  # a broker still booting refuses `stop`: ask again until its VM is gone
  for _ in $(seq 1 60); do
    pgrep -u rabbitmq -x beam.smp >/dev/null || break
    rabbitmqctl -q stop >/dev/null 2>&1 || sleep 1
  done
  redis-cli -h 127.0.0.1 shutdown 2>/dev/null || true
  pg_ctlcluster "$PG_VER" main stop 2>/dev/null || true
  # epmd (Erlang's port mapper) outlives the broker; it was started for it
  epmd -kill >/dev/null 2>&1 || true
  ;;
reset)
  "$0" stop
  load_env
  "${AS_POSTGRES[@]}" psql -v ON_ERROR_STOP=1 -qc "DROP DATABASE IF EXISTS outpost WITH (FORCE)"
  "${AS_POSTGRES[@]}" psql -v ON_ERROR_STOP=1 -qc "CREATE DATABASE outpost OWNER outpost"
  redis-cli -h 127.0.0.1 -n "$REDIS_DATABASE" FLUSHDB >/dev/null  # tenants, idempotency keys, migration state
  for q in "${QUEUES[@]}"; do rabbitmqctl -q delete_queue "$q" >/dev/null 2>&1 || true; done
  ;;
start)
  load_env; mkdir -p "$OUTPOST_RUN"; cd "$OUTPOST_RUN"
  "$OUTPOST_HOME/bin/outpost" migrate apply --yes > migrate.log 2>&1 || { tail -20 migrate.log; exit 1; }
  nohup "$OUTPOST_HOME/bin/outpost-server" >> outpost.log 2>&1 &
  echo $! > outpost-server.pid
  wait_http "http://127.0.0.1:$API_PORT/healthz" 60
  ;;
stop)
  PID=$(server_pid)
  if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
    kill "$PID"
    for _ in $(seq 1 80); do kill -0 "$PID" 2>/dev/null || break; sleep 0.25; done
  fi
  rm -f "$OUTPOST_RUN/outpost-server.pid"
  ;;
status)
  load_env
  pg_lsclusters
  redis-cli -h 127.0.0.1 ping || true
  rabbitmqctl -q list_queues name messages_ready messages_unacknowledged 2>/dev/null || echo "rabbitmq down"
  curl -sS "http://127.0.0.1:$API_PORT/healthz" || echo "outpost-server down"; echo
  ;;
*)
  sed -n '2,14p' "$0"; exit 2
  ;;
esac
