#!/usr/bin/env bash
# The machine's PostgreSQL for development and tests: start it, make the role and databases.
#   postgres.sh start [DB...] | stop | restart | drop-create DB...
set -euo pipefail
user=injuryledger
password=injuryledger
default_dbs=(injuryledger_enrollment injuryledger_levy injuryledger_claims injuryledger_payments)

cluster() {
  command -v pg_lsclusters >/dev/null || { echo "postgres.sh: PostgreSQL is not installed" >&2; exit 3; }
  pg_lsclusters --no-header | awk 'NR==1 {print $1, $2}'
}

as_postgres() { runuser -u postgres -- "$@"; }

psql_admin() { as_postgres psql -v ON_ERROR_STOP=1 -qAt -h /var/run/postgresql "$@"; }

wait_ready() {
  for _ in $(seq 1 120); do
    if pg_isready -q -h 127.0.0.1 -p 5432; then return 0; fi
    sleep 0.5
  done
  echo "postgres.sh: PostgreSQL did not accept connections" >&2
  exit 1
}

ensure_role_and_dbs() {
  psql_admin -c "DO \$\$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname='$user') THEN
                 CREATE ROLE $user LOGIN SUPERUSER PASSWORD '$password'; END IF; END\$\$;"
  for db in "$@"; do
    if [ -z "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname='$db'")" ]; then
      psql_admin -c "CREATE DATABASE $db OWNER $user"
    fi
  done
}

start() {
  read -r version name < <(cluster)
  if ! pg_ctlcluster "$version" "$name" status >/dev/null 2>&1; then
    # A shared, noisy machine: a few more connections than the default for the test cluster.
    pg_ctlcluster "$version" "$name" start -- -o "-c max_connections=300 -c fsync=on" || pg_ctlcluster "$version" "$name" start
  fi
  wait_ready
  if [ $# -eq 0 ]; then set -- "${default_dbs[@]}"; fi
  ensure_role_and_dbs "$@"
}

case "${1:-}" in
  start) shift; start "$@" ;;
  stop) read -r version name < <(cluster); pg_ctlcluster "$version" "$name" stop -m fast || true ;;
  restart) read -r version name < <(cluster); pg_ctlcluster "$version" "$name" restart -m fast; wait_ready ;;
  drop-create) shift; for db in "$@"; do psql_admin -c "DROP DATABASE IF EXISTS $db WITH (FORCE)"; done; ensure_role_and_dbs "$@" ;;
  *) echo "usage: postgres.sh start [DB...]|stop|restart|drop-create DB..." >&2; exit 2 ;;
esac
