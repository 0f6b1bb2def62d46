#!/usr/bin/env bash
# The machine's PostgreSQL (Debian's cluster) for development and tests: start it, make the
# role injuryledger/injuryledger and the databases, check password login over TCP.
#   postgres.sh start [DB...] | stop | restart | drop-create DB... | drop DB... | status
# Run as root or postgres: admin commands use the postgres OS user's peer login on the socket.
# Exit codes: 0 done, 1 failed, 2 usage, 3 PostgreSQL not installed / no cluster on the port.
set -euo pipefail
user=injuryledger
password=injuryledger
port=5432  # the services' and tests' URLs say 127.0.0.1:5432
default_dbs=(injuryledger_enrollment injuryledger_levy injuryledger_claims injuryledger_payments)
# The distributed runtime holds ~25 connections per test cluster; several runs share the server.
max_connections=300

missing() { echo "postgres.sh: $*" >&2; exit 3; }

pick_cluster() {  # sets $version and $name: the cluster on $port, whatever its version
  command -v pg_lsclusters >/dev/null || missing "PostgreSQL is not installed (apt-get install postgresql)"
  read -r version name < <(pg_lsclusters --no-header | awk -v p="$port" '$3 == p {print $1, $2; exit}') || true
  [ -n "${name:-}" ] || missing "no PostgreSQL cluster on port $port (see pg_lsclusters)"
}

as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

psql_admin() {
  as_postgres env PGOPTIONS="-c client_min_messages=warning" psql -v ON_ERROR_STOP=1 -qAt -p "$port" -d postgres "$@"
}

is_up() { pg_ctlcluster "$version" "$name" status >/dev/null 2>&1; }

wait_ready() {
  for _ in $(seq 1 120); do
    if pg_isready -q -h 127.0.0.1 -p "$port"; then return 0; fi
    sleep 0.5
  done
  echo "postgres.sh: PostgreSQL $version/$name accepts no connections on 127.0.0.1:$port" >&2
  tail -n 20 "/var/log/postgresql/postgresql-$version-$name.log" >&2 || true
  exit 1
}

valid_names() {
  for db in "$@"; do
    [[ $db =~ ^[a-z_][a-z0-9_]{0,62}$ ]] || { echo "postgres.sh: not a plain database name: $db" >&2; exit 2; }
  done
}

ensure_role_and_dbs() {
  # ALTER every time: a role made earlier by hand gets the password and rights the tests expect.
  # Two runs altering the role at the same moment fail with "tuple concurrently updated": retry.
  local attempt
  for attempt in 1 2 3 4 5; do
    psql_admin -c "DO \$\$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname='$user') THEN
                   CREATE ROLE $user; END IF; END\$\$;" \
               -c "ALTER ROLE $user LOGIN SUPERUSER PASSWORD '$password'" && break
    [ "$attempt" -lt 5 ] || return 1
    sleep "0.$((RANDOM % 9 + 1))"
  done
  for db in "$@"; do
    if [ -z "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname='$db'")" ]; then
      # Another run may create it at the same moment: only a database still missing is an error.
      psql_admin -c "CREATE DATABASE $db OWNER $user" 2>/dev/null ||
        [ -n "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname='$db'")" ]
    fi
  done
}

# Password login over TCP is what the services use; Debian's pg_hba allows scram-sha-256 on
# 127.0.0.1, but a machine changed by hand may not: say so plainly rather than fail in a test.
check_login() {
  if ! PGPASSWORD=$password PGCONNECT_TIMEOUT=10 psql -qAt -h 127.0.0.1 -p "$port" -U "$user" -d postgres \
       -c "SELECT 1" >/dev/null; then
    echo "postgres.sh: $user cannot log in with its password on 127.0.0.1:$port; pg_hba.conf says:" >&2
    grep -E '^\s*host' "/etc/postgresql/$version/$name/pg_hba.conf" >&2 || true
    exit 1
  fi
}

# max_connections needs a restart: set it persistently, restart only a server we just started
# (nobody is connected yet); a server already in use takes it at its next restart.
tune() {
  local now; now=$(psql_admin -c "SHOW max_connections")
  [ "$now" -ge "$max_connections" ] && return 0
  psql_admin -c "ALTER SYSTEM SET max_connections = $max_connections"
  if [ "$1" = started ]; then
    pg_ctlcluster "$version" "$name" restart -m fast
    wait_ready
  else
    echo "postgres.sh: max_connections is $now; $max_connections from the next restart" >&2
  fi
}

start() {
  pick_cluster
  valid_names "$@"
  local state=running
  if ! is_up; then pg_ctlcluster "$version" "$name" start; state=started; fi
  wait_ready
  tune "$state"
  if [ $# -eq 0 ]; then set -- "${default_dbs[@]}"; fi
  ensure_role_and_dbs "$@"
  check_login
}

case "${1:-}" in
  start) shift; start "$@" ;;
  stop) pick_cluster; if is_up; then pg_ctlcluster "$version" "$name" stop -m fast; fi ;;
  restart) pick_cluster; pg_ctlcluster "$version" "$name" restart -m fast; wait_ready ;;
  drop-create)
    shift; pick_cluster; valid_names "$@"; wait_ready
    for db in "$@"; do psql_admin -c "DROP DATABASE IF EXISTS $db WITH (FORCE)"; done
    ensure_role_and_dbs "$@" ;;
  drop)  # one psql for all of them: a test run drops a few hundred at its end
    shift; pick_cluster; valid_names "$@"; wait_ready
    drops=(); for db in "$@"; do drops+=(-c "DROP DATABASE IF EXISTS $db WITH (FORCE)"); done
    [ "$#" -eq 0 ] || psql_admin "${drops[@]}" ;;
  status) pick_cluster; pg_lsclusters --no-header | awk -v p="$port" '$3 == p'; is_up ;;
  *) echo "usage: postgres.sh start [DB...]|stop|restart|drop-create DB...|drop DB...|status" >&2; exit 2 ;;
esac
