# env.sh: the shared test environment, sourced by tests/run, bats suites, scripts/demo, bench/run.
# Contract (every suite relies on it):
#   mno_env_start DIR   starts a private PostgreSQL cluster (tests/lib/pg.sh) and, unless
#                       MNO_TEST_MONGO_URI is already set (a real MongoDB server), the
#                       project's MongoDB test server (tests/lib/mongo.sh); exports
#                       MNO_TEST_PG_URI   superuser URI of the cluster's "postgres" database
#                       MNO_TEST_MONGO_URI  mongodb:// URI of the server (no database part)
#                       MNO_TEST_MONGOD=1 when that server is the project's test server
#   mno_env_stop        stops what mno_env_start started (safe to call twice)
#   pg_newdb NAME       creates database NAME (dropping any old one), prints its URI
#   mongo_newdb NAME    prints a URI for database NAME on the mongo server (dropped first)
#   mno_shm_sweep       removes /dev/shm/mongoc-PID files of processes that are gone (see below)
_mno_env_lib=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[ -f "$_mno_env_lib/pg.sh" ] && . "$_mno_env_lib/pg.sh"
[ -f "$_mno_env_lib/mongo.sh" ] && . "$_mno_env_lib/mongo.sh"

mno_env_start() {
  local dir=$1
  mkdir -p "$dir"
  if declare -F pg_start >/dev/null; then
    pg_start "$dir/pg" || return 1
  fi
  if [ -z "${MNO_TEST_MONGO_URI:-}" ] && declare -F mongod_start >/dev/null; then
    mongod_start "$dir/mongod" || return 1
    export MNO_TEST_MONGOD=1
  fi
  return 0
}

mno_env_stop() {
  declare -F mongod_stop >/dev/null && mongod_stop
  declare -F pg_stop >/dev/null && pg_stop
  return 0
}

# libmongoc (Debian's, initialised automatically at load) makes /dev/shm/mongoc-PID and, when
# that name is already taken, prints "Falling back to malloc for counters." on stderr before
# main() runs. A process killed by a signal leaves its file behind; with pids recycled
# (pid_max 32768) a later tool given that pid would print the line. tests/run sweeps before
# every suite so that exact-stderr assertions hold.
mno_shm_sweep() {
  local f p
  for f in /dev/shm/mongoc-*; do
    [ -e "$f" ] || continue
    p=${f##*/mongoc-}
    case $p in ''|*[!0-9]*) continue ;; esac
    [ -d "/proc/$p" ] || rm -f "$f" 2>/dev/null
  done
  return 0
}
