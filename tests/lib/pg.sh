# pg.sh: a private, throwaway PostgreSQL cluster for the tests (sourced by tests/lib/env.sh).
#   pg_start DIR   initdb in DIR/data, start on a free port, listening on 127.0.0.1 and on a
#                  unix socket in DIR; wait until ready; export
#                    MNO_TEST_PG_URI       postgresql://postgres@127.0.0.1:PORT/postgres (trust)
#                    MNO_TEST_PGHOST       127.0.0.1
#                    MNO_TEST_PGPORT       PORT
#                    MNO_TEST_PGSOCKET     DIR (the unix socket directory)
#                    MNO_TEST_PG_PASSWORD  the password of role mno_secret (scram-sha-256 on TCP)
#                    MNO_TEST_PG_SECRET_URI postgresql://mno_secret:PASSWORD@127.0.0.1:PORT/postgres
#                  (tests use the last two to check that a credential never reaches a message)
#   pg_stop        stop the cluster started by pg_start (fast mode); safe to call twice
#   pg_newdb NAME  (re)create database NAME, print its URI (needs only the exported variables)
# Run as root, initdb and postgres run as the `postgres` OS user (runuser, else su).
# Settings favour speed over durability: the cluster is thrown away after the run.

_mno_pg_bindir() {
  local d
  if [ -n "${MNO_PG_BINDIR:-}" ]; then echo "$MNO_PG_BINDIR"; return 0; fi
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -V -r); do
    [ -x "$d/initdb" ] && { echo "$d"; return 0; }
  done
  d=$(dirname "$(command -v initdb 2>/dev/null || echo /nonexistent/initdb)")
  [ -x "$d/initdb" ] && { echo "$d"; return 0; }
  return 1
}

# _mno_pg_as CMD...: runs CMD as the postgres OS user when we are root, else as ourselves.
_mno_pg_as() {
  if [ "$(id -u)" -ne 0 ]; then "$@"; return; fi
  if command -v runuser >/dev/null 2>&1; then
    runuser -u postgres -- "$@"
  else
    local q; printf -v q '%q ' "$@"
    su -s /bin/sh postgres -c "$q"
  fi
}

# _mno_pg_free_port: prints a TCP port nobody listens on (a candidate; pg_start retries).
_mno_pg_free_port() {
  local p i
  for i in $(seq 1 50); do
    p=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
    if ! ss -Htln "sport = :$p" 2>/dev/null | grep -q .; then
      [ -e "/tmp/.s.PGSQL.$p" ] && continue
      echo "$p"; return 0
    fi
  done
  return 1
}

pg_start() {
  local dir=$1 bin port try log
  [ -n "$dir" ] || { echo "pg_start: missing directory" >&2; return 1; }
  bin=$(_mno_pg_bindir) || { echo "pg_start: no PostgreSQL binaries (initdb) found under /usr/lib/postgresql/*/bin" >&2; return 1; }
  mkdir -p "$dir" || return 1
  dir=$(cd "$dir" && pwd)
  log=$dir/postgres.log
  if [ "$(id -u)" -eq 0 ]; then
    # the postgres user must reach DIR: let it traverse every ancestor (o+x only, no read)
    local a=$(dirname "$dir")
    while [ "$a" != "/" ]; do
      if ! runuser -u postgres -- test -x "$a" 2>/dev/null; then chmod o+x "$a" || return 1; fi
      a=$(dirname "$a")
    done
    chown postgres: "$dir" || return 1
  fi
  if [ ! -s "$dir/data/PG_VERSION" ]; then
    _mno_pg_as "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 \
      --no-sync >"$dir/initdb.log" 2>&1 \
      || _mno_pg_as "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C \
      --no-sync >"$dir/initdb.log" 2>&1 \
      || { echo "pg_start: initdb failed (see $dir/initdb.log)" >&2; tail -5 "$dir/initdb.log" >&2; return 1; }
    # scram for the password role over TCP first, then trust for everything local
    _mno_pg_as sh -c "cat >'$dir/data/pg_hba.conf'" <<'EOF'
# mno-migrate test cluster: mno_secret must give its password; everything else is trusted
host    all  mno_secret  127.0.0.1/32  scram-sha-256
host    all  mno_secret  ::1/128       scram-sha-256
local   all  all                       trust
host    all  all         127.0.0.1/32  trust
host    all  all         ::1/128       trust
EOF
    _mno_pg_as sh -c "cat >>'$dir/data/postgresql.conf'" <<EOF

# mno-migrate test cluster: throwaway, so speed over durability
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 64MB
max_connections = 60
max_wal_size = 1GB
checkpoint_timeout = 30min
wal_level = minimal
max_wal_senders = 0
password_encryption = scram-sha-256
log_min_messages = warning
log_min_error_statement = panic
log_line_prefix = '%m [%p] '
EOF
  fi
  for try in 1 2 3 4 5; do
    port=$(_mno_pg_free_port) || { echo "pg_start: no free port" >&2; return 1; }
    if _mno_pg_as "$bin/pg_ctl" -D "$dir/data" -l "$log" -w -t 60 -s \
         -o "-p $port -k $dir" start >/dev/null 2>&1; then
      break
    fi
    port=""
    # a port taken between the check and the start: try another one
    grep -q 'could not bind\|Address already in use\|could not create.*socket' "$log" 2>/dev/null || break
  done
  if [ -z "$port" ]; then
    echo "pg_start: postgres did not start (see $log)" >&2; tail -5 "$log" >&2 2>/dev/null; return 1
  fi
  _MNO_PG_DIR=$dir
  _MNO_PG_BIN=$bin
  local i
  for i in $(seq 1 100); do
    "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres -d postgres && break
    sleep 0.1
  done
  "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres -d postgres \
    || { echo "pg_start: server not ready on port $port (see $log)" >&2; pg_stop; return 1; }
  export MNO_TEST_PGHOST=127.0.0.1
  export MNO_TEST_PGPORT=$port
  export MNO_TEST_PGSOCKET=$dir
  export MNO_TEST_PG_URI="postgresql://postgres@127.0.0.1:$port/postgres"
  export MNO_TEST_PG_PASSWORD="Secr3t-pw-$port"
  export MNO_TEST_PG_SECRET_URI="postgresql://mno_secret:Secr3t-pw-$port@127.0.0.1:$port/postgres"
  psql -X -q -v ON_ERROR_STOP=1 -d "$MNO_TEST_PG_URI" \
    -c "CREATE ROLE mno_secret LOGIN SUPERUSER PASSWORD '$MNO_TEST_PG_PASSWORD'" >/dev/null \
    || { echo "pg_start: could not create role mno_secret" >&2; pg_stop; return 1; }
  return 0
}

pg_stop() {
  local dir=${_MNO_PG_DIR:-} bin=${_MNO_PG_BIN:-}
  [ -n "$dir" ] || return 0
  if [ -f "$dir/data/postmaster.pid" ]; then
    _mno_pg_as "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 60 -s stop >/dev/null 2>&1 \
      || _mno_pg_as "$bin/pg_ctl" -D "$dir/data" -m immediate -w -s stop >/dev/null 2>&1
  fi
  _MNO_PG_DIR=
  return 0
}

pg_newdb() {
  local name=$1 q
  [ -n "$name" ] && [ -n "${MNO_TEST_PG_URI:-}" ] || { echo "pg_newdb: no database name or no MNO_TEST_PG_URI" >&2; return 1; }
  q=${name//\"/\"\"}
  PGOPTIONS='-c client_min_messages=warning' psql -X -q -v ON_ERROR_STOP=1 -d "$MNO_TEST_PG_URI" \
    -c "DROP DATABASE IF EXISTS \"$q\" WITH (FORCE)" -c "CREATE DATABASE \"$q\" TEMPLATE template0 ENCODING 'UTF8'" >/dev/null \
    || { echo "pg_newdb: could not create database $name" >&2; return 1; }
  echo "postgresql://postgres@${MNO_TEST_PGHOST:-127.0.0.1}:${MNO_TEST_PGPORT}/$name"
}
