#!/usr/bin/env bash
# Try the distributed mode on one machine: a PostgreSQL server (one database for Optuna,
# one for MLflow) and an `mlflow server` against it, both on 127.0.0.1 only.
#
#   scripts/local_cluster.sh up [N]      start both; print the commands for N workers (default 2)
#   scripts/local_cluster.sh status [N]  say what runs; print the commands again
#   scripts/local_cluster.sh down        stop both (the data stays in the cluster folder)
#
# Everything lives in $LOCAL_CLUSTER_DIR (default: .local_cluster/ in the repository).
# Ports: $PG_PORT (55432) and $MLFLOW_PORT (5055). The password of the `dtc` database user
# is made once and kept in a libpq password file, $LOCAL_CLUSTER_DIR/pgpass: clients find
# it through PGPASSFILE, so no URL, command line or MLflow param ever holds it.
# PostgreSQL refuses to run as root; run as root, the server runs as the `postgres` user.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIR=${LOCAL_CLUSTER_DIR:-$ROOT/.local_cluster}
PG_PORT=${PG_PORT:-55432}
MLFLOW_PORT=${MLFLOW_PORT:-5055}
DB_USER=dtc
EXPERIMENT=deep-text-clustering
PGDATA=$DIR/pgdata
PGPASS=$DIR/pgpass

die() { echo "local_cluster: $*" >&2; exit 1; }
is_root() { [ "$(id -u)" -eq 0 ]; }

# util-linux's runuser lives in /usr/sbin, which a non-login shell's PATH may lack.
runuser() {
  local bin
  bin=$(PATH="$PATH:/usr/sbin:/sbin" type -P runuser) || die "runuser not found (Debian's util-linux package)"
  "$bin" "$@"
}

mlflow_bin() {
  if [ -n "${MLFLOW_BIN:-}" ]; then echo "$MLFLOW_BIN"
  elif [ -x "$ROOT/.venv/bin/mlflow" ]; then echo "$ROOT/.venv/bin/mlflow"
  elif command -v mlflow >/dev/null 2>&1; then command -v mlflow
  else die "mlflow not found: run 'make venv' (or set MLFLOW_BIN)"
  fi
}

pg_bindir() {
  local dir=${PG_BINDIR:-}
  if [ -z "$dir" ]; then
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  fi
  if [ -z "$dir" ] && command -v pg_ctl >/dev/null 2>&1; then
    dir=$(dirname "$(command -v pg_ctl)")
  fi
  if [ -z "$dir" ] || [ ! -x "$dir/initdb" ] || [ ! -x "$dir/pg_ctl" ]; then
    die "PostgreSQL server programs (initdb, pg_ctl) not found: install Debian's postgresql package (apt-get install postgresql) or set PG_BINDIR"
  fi
  echo "$dir"
}

# Run a PostgreSQL server program as a user it accepts: `postgres` when we are root.
as_pg() {
  if is_root; then
    id postgres >/dev/null 2>&1 || die "running as root needs a 'postgres' user (Debian's postgresql package makes one)"
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# psql as the superuser over TCP; its password is in the same pgpass file.
psql_admin() {
  PGPASSFILE=$PGPASS "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres "$@"
}

pg_running() { [ -f "$PGDATA/PG_VERSION" ] && as_pg "$BIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; }

# A process that exists and has not exited (a zombie nobody reaped counts as gone).
alive() {
  local state
  state=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "${state#Z}" = "$state" ]
}

mlflow_pid() {
  local pid
  pid=$(cat "$DIR/mlflow.pid" 2>/dev/null || true)
  [ -n "$pid" ] && alive "$pid" && echo "$pid"
}

mlflow_healthy() { curl -fsS -m 3 "http://127.0.0.1:$MLFLOW_PORT/health" >/dev/null 2>&1; }

random_password() { od -An -N18 -tx1 /dev/urandom | tr -d ' \n'; }

init_cluster() {
  mkdir -p "$DIR"
  chmod 755 "$DIR"
  if is_root && ! runuser -u postgres -- test -x "$DIR"; then
    die "the postgres user cannot enter $DIR (a parent folder is private): set LOCAL_CLUSTER_DIR to a folder it can reach"
  fi
  local password superpw
  password=$(random_password)
  superpw=$(random_password)
  (
    umask 077
    printf '127.0.0.1:%s:*:%s:%s\n127.0.0.1:%s:*:postgres:%s\n' \
      "$PG_PORT" "$DB_USER" "$password" "$PG_PORT" "$superpw" >"$PGPASS"
    printf '%s\n' "$superpw" >"$DIR/superpw"
  )
  mkdir -p "$PGDATA"
  if is_root; then chown postgres: "$PGDATA" "$DIR/superpw"; fi
  if ! as_pg "$BIN/initdb" -D "$PGDATA" -U postgres --pwfile="$DIR/superpw" --auth=scram-sha-256 \
      -E UTF8 --locale=C >"$DIR/initdb.log" 2>&1; then
    rm -f "$DIR/superpw"
    cat "$DIR/initdb.log" >&2
    die "initdb failed"
  fi
  rm -f "$DIR/superpw"
}

start_postgres() {
  [ -f "$PGDATA/PG_VERSION" ] || init_cluster
  if ! pg_running; then
    touch "$DIR/postgres.log"
    if is_root; then chown postgres: "$DIR/postgres.log"; fi
    # TCP on 127.0.0.1 only and no Unix socket: nothing reaches it from outside this machine.
    # Every worker keeps pools for Optuna's storage and its heartbeat, and the MLflow server its
    # own: PostgreSQL's default of 100 connections ran out with a handful of workers on a loaded
    # machine (the distributed tests, 2026-11-28), so the cluster allows 300.
    if ! as_pg "$BIN/pg_ctl" -D "$PGDATA" -l "$DIR/postgres.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -c unix_socket_directories='' -c max_connections=300" \
        start >/dev/null; then
      tail -n 20 "$DIR/postgres.log" >&2
      die "PostgreSQL did not start (is port $PG_PORT taken? set PG_PORT)"
    fi
  fi
  local password db
  password=$(awk -F: -v u="$DB_USER" '$4 == u {print $5}' "$PGPASS")
  if [ -z "$(psql_admin -tAc "select 1 from pg_roles where rolname = '$DB_USER'")" ]; then
    psql_admin -c "create role $DB_USER login password '$password'"
  fi
  for db in optuna mlflow; do
    if [ -z "$(psql_admin -tAc "select 1 from pg_database where datname = '$db'")" ]; then
      psql_admin -c "create database $db owner $DB_USER"
    fi
  done
}

start_mlflow() {
  if mlflow_pid >/dev/null; then return; fi
  mkdir -p "$DIR/mlartifacts"
  local mlflow i
  mlflow=$(mlflow_bin)
  # In its own session, so that `down` stops the server and its workers by one group id.
  PGPASSFILE=$PGPASS setsid "$mlflow" server \
    --backend-store-uri "postgresql+psycopg2://$DB_USER@127.0.0.1:$PG_PORT/mlflow" \
    --artifacts-destination "$DIR/mlartifacts" \
    --host 127.0.0.1 --port "$MLFLOW_PORT" --workers 1 \
    >"$DIR/mlflow.log" 2>&1 </dev/null &
  echo $! >"$DIR/mlflow.pid"
  for i in $(seq 1 240); do
    if mlflow_healthy; then return; fi
    if ! mlflow_pid >/dev/null; then
      tail -n 20 "$DIR/mlflow.log" >&2
      die "mlflow server exited (is port $MLFLOW_PORT taken? set MLFLOW_PORT)"
    fi
    sleep 0.5
  done
  tail -n 20 "$DIR/mlflow.log" >&2
  die "mlflow server did not answer on 127.0.0.1:$MLFLOW_PORT within 120 s"
}

# Made here, once: `mlflow run --experiment-name` in workers that start together races to make it.
create_experiment() {
  curl -fsS -m 10 -X POST -H 'Content-Type: application/json' -d "{\"name\": \"$EXPERIMENT\"}" \
    "http://127.0.0.1:$MLFLOW_PORT/api/2.0/mlflow/experiments/create" >/dev/null 2>&1 || true
}

print_commands() {
  local n=${1:-2} i
  echo "PostgreSQL on 127.0.0.1:$PG_PORT (databases optuna and mlflow, user $DB_USER);" \
    "MLflow on http://127.0.0.1:$MLFLOW_PORT (UI too)"
  echo
  echo "$n workers on one study, from the repository with its venv active (on other machines:"
  echo "the same, with 127.0.0.1 replaced by this host and the pgpass file copied over):"
  echo
  echo "  cd $ROOT && source .venv/bin/activate"
  echo "  export PGPASSFILE=$PGPASS MLFLOW_TRACKING_URI=http://127.0.0.1:$MLFLOW_PORT"
  for i in $(seq 1 "$n"); do
    echo "  mlflow run . -e tune --env-manager local --experiment-name $EXPERIMENT" \
      "-P storage=postgresql://$DB_USER@127.0.0.1:$PG_PORT/optuna -P study_name=distributed -P n_trials=20 &"
  done
  echo "  wait"
  echo
  echo "Stop with: scripts/local_cluster.sh down"
}

stop_all() {
  local pid
  if pid=$(mlflow_pid); then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 40); do
      alive "$pid" || break
      sleep 0.25
    done
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  rm -f "$DIR/mlflow.pid"
  if pg_running; then as_pg "$BIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null; fi
  echo "local cluster stopped (data kept in $DIR)"
}

case "${1:-}" in
  up)
    BIN=$(pg_bindir)
    command -v curl >/dev/null 2>&1 || die "curl not found (apt-get install curl)"
    start_postgres
    start_mlflow
    create_experiment
    print_commands "${2:-2}"
    ;;
  status)
    BIN=$(pg_bindir)
    state=0
    if pg_running; then echo "postgres: running on 127.0.0.1:$PG_PORT ($PGDATA)"; else echo "postgres: stopped"; state=3; fi
    if mlflow_pid >/dev/null && mlflow_healthy; then echo "mlflow: running on http://127.0.0.1:$MLFLOW_PORT"
    else echo "mlflow: stopped"; state=3; fi
    if [ "$state" -eq 0 ]; then echo; print_commands "${2:-2}"; fi
    exit "$state"
    ;;
  down)
    BIN=$(pg_bindir)
    stop_all
    ;;
  *)
    echo "usage: $0 up [N_WORKERS] | status [N_WORKERS] | down" >&2
    exit 2
    ;;
esac
