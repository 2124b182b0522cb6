#!/usr/bin/env bats
# 08-mongod.bats: the MongoDB test server's command line: options, port reporting, refusals
# (exit 2 with a message), fault options by environment, verbose log, clean stop on SIGTERM.
# (Its protocol and storage are tested through libmongoc by tests/unit/test_mongod.c.)

setup_file() {
  export MNO_TOP=${MNO_TOP:-$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}
  export MNO_TESTBIN=${MNO_TESTBIN:-$MNO_TOP/build/rel/tests}
}

setup() {
  . "$MNO_TOP/tests/lib/env.sh"
  srv=$MNO_TESTBIN/mno-test-mongod
  d=$BATS_TEST_TMPDIR
}

# start_srv NAME [options...]: starts an instance in the background (files $d/NAME.*), waits for
# its port file; sets pid and port.
start_srv() {
  local name=$1; shift
  "$srv" --port-file "$d/$name.port" "$@" >"$d/$name.out" 2>"$d/$name.err" </dev/null &
  pid=$!
  for _ in $(seq 1 200); do
    [ -s "$d/$name.port" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  port=$(cat "$d/$name.port")
}

# stop_srv: SIGTERM, then the exit status of the server in $stop_status.
stop_srv() {
  kill -TERM "$pid"
  stop_status=0
  wait "$pid" || stop_status=$?
}

@test "mongod: --help prints the usage with every option" {
  run "$srv" --help
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" == "usage: mno-test-mongod [options]" ]]
  for o in --port --bind --port-file --verbose --fault-drop-after-docs --fault-drop-on --fault-fail-on --fault-delay-ms; do
    [[ "$output" == *"$o"* ]]
  done
}

@test "mongod: reports a free port first on stdout and in the port file, serves it, stops with 0 on SIGTERM" {
  start_srv a
  [[ "$port" =~ ^[0-9]+$ ]]
  [ "$(head -1 "$d/a.out")" = "port $port" ]
  run mongo_cmd "mongodb://127.0.0.1:$port" admin '{"ping": 1}'
  [ "$status" -eq 0 ]
  [[ "$output" == *'"ok" : { "$numberDouble" : "1.0" }'* ]]
  stop_srv
  [ "$stop_status" -eq 0 ]
  [ ! -s "$d/a.err" ]
}

@test "mongod: --port N listens there; the same port again is refused with exit 2" {
  start_srv a
  stop_srv
  start_srv b --port "$port"
  [ "$(cat "$d/b.port")" = "$port" ]
  run "$srv" --port "$port"
  [ "$status" -eq 2 ]
  [[ "$output" == "mno-test-mongod: cannot listen on 127.0.0.1:$port: Address already in use" ]]
  stop_srv
  [ "$stop_status" -eq 0 ]
}

@test "mongod: bad options and arguments exit 2 naming the option and value" {
  run "$srv" --port 70000
  [ "$status" -eq 2 ]
  [ "$output" = "mno-test-mongod: invalid port '70000'" ]
  run "$srv" --bind nowhere
  [ "$status" -eq 2 ]
  [ "$output" = "mno-test-mongod: invalid bind address 'nowhere'" ]
  run "$srv" --fault-drop-on insert
  [ "$status" -eq 2 ]
  [ "$output" = "mno-test-mongod: invalid --fault-drop-on 'insert'" ]
  run "$srv" --fault-drop-on insert:2:later
  [ "$status" -eq 2 ]
  [ "$output" = "mno-test-mongod: invalid --fault-drop-on 'insert:2:later'" ]
  run "$srv" --fault-fail-on find:1
  [ "$status" -eq 2 ]
  [ "$output" = "mno-test-mongod: invalid --fault-fail-on 'find:1'" ]
  run "$srv" --fault-drop-after-docs -3
  [ "$status" -eq 2 ]
  [ "$output" = "mno-test-mongod: invalid --fault-drop-after-docs '-3'" ]
  run "$srv" --fault-delay-ms 1s
  [ "$status" -eq 2 ]
  [ "$output" = "mno-test-mongod: invalid --fault-delay-ms '1s'" ]
  run "$srv" extra
  [ "$status" -eq 2 ]
  [ "$output" = "mno-test-mongod: unexpected argument 'extra'" ]
  run "$srv" --port-file /nonexistent/dir/port
  [ "$status" -eq 2 ]
  [[ "$output" == "mno-test-mongod: cannot write port file '/nonexistent/dir/port': No such file or directory" ]]
}

@test "mongod: a bad fault variable in the environment exits 2 naming it" {
  MNO_MONGOD_FAULT_DELAY_MS=soon run "$srv"
  [ "$status" -eq 2 ]
  [ "$output" = "mno-test-mongod: invalid MNO_MONGOD_FAULT_DELAY_MS 'soon'" ]
  MNO_MONGOD_FAULT_FAIL_ON=ping:0:2 run "$srv"
  [ "$status" -eq 2 ]
  [ "$output" = "mno-test-mongod: invalid MNO_MONGOD_FAULT_FAIL_ON 'ping:0:2'" ]
}

@test "mongod: the mnoFault command arms, reports and clears faults, on admin only" {
  start_srv a
  uri="mongodb://127.0.0.1:$port"
  run mongo_cmd "$uri" admin '{"mnoFault": 1, "failOn": "ping:2:2:second ping fails", "dropAfterDocs": 7}'
  [ "$status" -eq 0 ]
  [[ "$output" == *'"failOn" : "ping:2:2"'* ]]
  [[ "$output" == *'"dropAfterDocs" : { "$numberLong" : "7" }'* ]]
  run mongo_cmd "$uri" admin '{"ping": 1}'
  [ "$status" -eq 0 ]
  run mongo_cmd "$uri" admin '{"ping": 1}'
  [ "$status" -eq 1 ]
  [[ "$output" == *"mongod-command: second ping fails (domain 17, code 2)"* ]]
  run mongo_cmd "$uri" admin '{"mnoFault": 1, "clear": true}'
  [ "$status" -eq 0 ]
  [[ "$output" != *dropAfterDocs* ]]
  run mongo_cmd "$uri" other '{"mnoFault": 1}'
  [ "$status" -eq 1 ]
  [[ "$output" == *"mnoFault may only be run against the admin database. (domain 17, code 13)"* ]]
  run mongo_cmd "$uri" admin '{"mnoFault": 1, "dropOn": "nonsense"}'
  [ "$status" -eq 1 ]
  [[ "$output" == *"mnoFault: invalid or unknown field 'dropOn' (domain 17, code 2)"* ]]
  stop_srv
  [ "$stop_status" -eq 0 ]
}

@test "mongod: --verbose logs each command with its database" {
  start_srv a --verbose
  run mongo_cmd "mongodb://127.0.0.1:$port" mno_cli_mongod '{"count": "c"}'
  [ "$status" -eq 0 ]
  stop_srv
  [ "$stop_status" -eq 0 ]
  grep -q '^mno-test-mongod: mno_cli_mongod.count { "count" : "c", "\$db" : "mno_cli_mongod"' "$d/a.err"
}

@test "mongod: SIGTERM with clients connected and a delayed reply pending still stops cleanly" {
  start_srv a --fault-delay-ms 300
  mongo_cmd "mongodb://127.0.0.1:$port" admin '{"ping": 1}' >/dev/null &
  client=$!
  sleep 0.1
  stop_srv
  [ "$stop_status" -eq 0 ]
  wait "$client" || true
}
