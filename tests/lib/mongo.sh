# mongo.sh: the project's MongoDB test server (mno-test-mongod) for tests; sourced by env.sh.
#   mongod_start DIR [server options...]   starts the server in the background (files in DIR: pid,
#                     port, log), waits until it listens, exports MNO_TEST_MONGO_URI
#                     (mongodb://127.0.0.1:PORT) and remembers DIR for mongod_stop
#   mongod_stop [DIR] stops the server started in DIR (default: the one mongod_start started):
#                     SIGTERM, wait up to 10 s, then SIGKILL. Safe to call twice.
#   mongod_start_extra DIR [server options...]  starts a SEPARATE instance (e.g. with --fault-*
#                     options) and prints its URI; MNO_TEST_MONGO_URI is left alone. Stop it with
#                     mongod_stop DIR.
#   mongo_uri_db URI NAME   prints URI with its database part set to NAME (options kept)
#   mongo_newdb NAME  drops database NAME on $MNO_TEST_MONGO_URI (our server or a real one) and
#                     prints a URI for it
#   mongo_cmd URI DB JSON   runs one command (Extended JSON), prints the reply; status 1 on ok:0
# Programs come from $MNO_TESTBIN (tests/run exports it), else build/rel/tests.

_mno_mongo_testbin() {
  if [ -n "${MNO_TESTBIN:-}" ]; then
    printf '%s\n' "$MNO_TESTBIN"
  else
    printf '%s\n' "$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/rel/tests"
  fi
}

# _mno_mongod_launch DIR opts...: starts one instance; prints its port; status 1 on failure.
_mno_mongod_launch() {
  local dir=$1; shift
  local bin i pid
  bin=$(_mno_mongo_testbin)/mno-test-mongod
  if [ ! -x "$bin" ]; then
    echo "mongo.sh: $bin not built (make tests)" >&2
    return 1
  fi
  mkdir -p "$dir" || return 1
  rm -f "$dir/port" "$dir/pid"
  "$bin" --port-file "$dir/port" "$@" >"$dir/stdout" 2>"$dir/log" </dev/null &
  pid=$!
  echo "$pid" >"$dir/pid"
  for i in $(seq 1 200); do
    if [ -s "$dir/port" ]; then
      cat "$dir/port"
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "mongo.sh: mno-test-mongod exited at start:" >&2
      cat "$dir/log" >&2
      return 1
    fi
    sleep 0.05
  done
  echo "mongo.sh: mno-test-mongod did not start within 10 s (see $dir/log)" >&2
  kill -KILL "$pid" 2>/dev/null
  return 1
}

mongod_start() {
  local dir=$1; shift
  local port
  port=$(_mno_mongod_launch "$dir" "$@") || return 1
  _MNO_MONGOD_DIR=$dir
  export MNO_TEST_MONGO_URI="mongodb://127.0.0.1:$port"
  return 0
}

mongod_start_extra() {
  local dir=$1; shift
  local port
  port=$(_mno_mongod_launch "$dir" "$@") || return 1
  printf 'mongodb://127.0.0.1:%s\n' "$port"
}

mongod_stop() {
  local dir=${1:-${_MNO_MONGOD_DIR:-}}
  local pid i
  [ -n "$dir" ] && [ -f "$dir/pid" ] || return 0
  pid=$(cat "$dir/pid")
  rm -f "$dir/pid"
  [ -n "$pid" ] || return 0
  if kill -TERM "$pid" 2>/dev/null; then
    for i in $(seq 1 200); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.05
    done
    if kill -0 "$pid" 2>/dev/null; then
      echo "mongo.sh: mno-test-mongod ($pid) ignored SIGTERM; killing it" >&2
      kill -KILL "$pid" 2>/dev/null
    fi
  fi
  wait "$pid" 2>/dev/null || true   # its status (143 after SIGTERM) must not trip a caller's set -e
  [ "$dir" = "${_MNO_MONGOD_DIR:-}" ] && _MNO_MONGOD_DIR=
  return 0
}

mongo_uri_db() {
  local uri=$1 name=$2 base opts="" rest hosts
  case $uri in
    *\?*) base=${uri%%\?*}; opts="?${uri#*\?}" ;;
    *) base=$uri ;;
  esac
  rest=${base#*://}
  hosts=${rest%%/*}
  printf '%s://%s/%s%s\n' "${base%%://*}" "$hosts" "$name" "$opts"
}

mongo_cmd() {
  "$(_mno_mongo_testbin)/mongod-command" "$@"
}

mongo_newdb() {
  local name=$1
  if [ -z "${MNO_TEST_MONGO_URI:-}" ]; then
    echo "mongo.sh: MNO_TEST_MONGO_URI is not set" >&2
    return 1
  fi
  mongo_cmd "$MNO_TEST_MONGO_URI" "$name" '{"dropDatabase": 1}' >/dev/null || return 1
  mongo_uri_db "$MNO_TEST_MONGO_URI" "$name"
}
