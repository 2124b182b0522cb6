#!/usr/bin/env bats
# 46-restore-names.bats: names an archive must not get through (issue 18, items 3, 6, 7).
# MongoDB sections for admin, local and config are refused before anything is written (no
# data, no journal, no staging collection), whichever way the database was chosen; invalid
# collection names (connec.$cmd) are refused as such; NUL (\u0000) in any name or header field
# is refused with its exact message (record values keep theirs); control characters in names
# never forge a line of any tool's output, and a 10 KB tenant name is cut in messages.
# Against the test server or a real one (MNO_TEST_MONGO_URI): what the target holds is read
# back by a separate libmongoc client (mongodump-client).

setup_file() {
  export MNO_TOP=${MNO_TOP:-$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}
  export PATH="$MNO_BIN:$PATH"
  export MC="$MNO_TESTBIN/mongodump-client"
}

setup() {
  . "$MNO_TOP/tests/lib/env.sh"
  cd "$BATS_TEST_TMPDIR"
}

# mongo_archive OUT NS...: a sealed MongoDB archive, one section per NS with one document
# {_id: 1, n: "one"} each.
mongo_archive() {
  local out=$1 ns
  shift
  {
    echo '{"t":"header","format":"mnoa","version":1,"engine":"mongodb","source":"connec","tenant":"acme"}'
    for ns; do
      jq -cn --arg ns "$ns" '{t: "begin", ns: $ns, key: ["_id"], options: {}, indexes: []}'
      jq -cn --arg ns "$ns" '{t: "rec", ns: $ns, v: {_id: {"$numberInt": "1"}, n: "one"}}'
      jq -cn --arg ns "$ns" '{t: "end", ns: $ns, count: 0, sum: "00000000000000000000000000000000"}'
    done
    echo '{"t":"trailer","sections":0,"count":0,"sum":"00000000000000000000000000000000"}'
  } >"$out.raw"
  mno-cat --seal -o "$out" "$out.raw"
}

# The collections of database DB on the server, sorted, on one line.
colls_of() {
  "$MC" colls "$(mongo_uri_db "$MNO_TEST_MONGO_URI" "$1")" | sort | tr '\n' ' '
}

# nothing_in DB...: none of the databases holds a collection x, a journal or a staging collection.
nothing_in() {
  local db c
  for db; do
    c=$(colls_of "$db")
    case " $c" in
      *" x "* | *mno_restore_*) echo "$db holds: $c" >&2; return 1 ;;
    esac
  done
}

@test "restore mongo names: sections for admin, local and config are refused before anything is written" {
  local db
  for db in admin local config; do
    mno_restore_r46=$(mongo_newdb r46_first)
    mongo_archive "$db.mnoa" r46_first.ok "$db.x"
    run mno-restore --quiet --create --target "$MNO_TEST_MONGO_URI" "$db.mnoa"
    [ "$status" -eq 2 ]
    [ "$output" = "mno-restore: error: $db.mnoa:5: section $db.x: database '$db' (from the section's ns) is the server's own: a restore never writes into admin, local or config; give a database in the target uri to restore into" ]
    # the check pass refused it: not even the section before it was written
    [ -z "$(colls_of r46_first)" ]
    nothing_in admin local config
  done
}

@test "restore mongo names: the refusal holds from stdin, with --no-check-first, -j 2, --dry-run and in any letter case" {
  mongo_newdb r46_first >/dev/null
  mongo_archive a.mnoa ADMIN.x
  run mno-restore --quiet --create --target "$MNO_TEST_MONGO_URI" - <a.mnoa
  [ "$status" -eq 2 ]
  [ "$output" = "mno-restore: error: <stdin>:2: section ADMIN.x: database 'ADMIN' (from the section's ns) is the server's own: a restore never writes into admin, local or config; give a database in the target uri to restore into" ]
  mongo_archive c.mnoa config.x
  local msg="database 'config' (from the section's ns) is the server's own: a restore never writes into admin, local or config; give a database in the target uri to restore into"
  for opt in --no-check-first "-j 2"; do
    run mno-restore --quiet --create $opt --target "$MNO_TEST_MONGO_URI" c.mnoa
    [ "$status" -eq 2 ]
    [ "$output" = "mno-restore: error: c.mnoa:2: section config.x: $msg" ]
  done
  # the dry run reports it for the section, reads on, and fails with it
  run mno-restore --quiet --create --dry-run --target "$MNO_TEST_MONGO_URI" c.mnoa
  [ "$status" -eq 2 ]
  [ "${lines[1]}" = "config.x"$'\t'"1"$'\t'"would fail: $msg" ]
  [ "${lines[2]}" = "mno-restore: error: c.mnoa:2: section config.x: $msg" ]
  # streaming: the sections before it are restored (and journaled), as for any failing section
  mongo_archive s.mnoa r46_first.ok local.x
  run mno-restore --quiet --create --target "$MNO_TEST_MONGO_URI" - <s.mnoa
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "mno-restore: error: <stdin>:5: section local.x: database 'local' (from the section's ns) is the server's own: a restore never writes into admin, local or config; give a database in the target uri to restore into" ]
  [ "$(colls_of r46_first)" = "mno_restore_journal ok " ]
  nothing_in admin local config
}

@test "restore mongo names: a target uri naming admin is refused; naming another database takes admin.x into it" {
  mongo_archive a.mnoa connec.people
  run mno-restore --quiet --create --target "$(mongo_uri_db "$MNO_TEST_MONGO_URI" admin)" a.mnoa
  [ "$status" -eq 2 ]
  [ "$output" = "mno-restore: error: a.mnoa:2: section connec.people: database 'admin' (named by the target uri) is the server's own: a restore never writes into admin, local or config (give the database to restore into in the uri, and the one to authenticate against with ?authSource=admin)" ]
  nothing_in admin local config
  t=$(mongo_newdb r46_named)
  mongo_archive b.mnoa admin.x local.y
  run mno-restore --quiet --create --target "$t" b.mnoa
  [ "$status" -eq 0 ]
  [ "$(colls_of r46_named)" = "mno_restore_journal x y " ]
  [ "$("$MC" count "$t" x)" = 1 ]
  nothing_in admin local config
}

@test "restore mongo names: connec.\$cmd is refused as an invalid collection name, nothing written" {
  t=$(mongo_newdb r46_cmd)
  mongo_archive a.mnoa connec.ok 'connec.$cmd'
  run mno-restore --quiet --create --target "$t" a.mnoa
  [ "$status" -eq 2 ]
  [ "$output" = "mno-restore: error: a.mnoa:5: section connec.\$cmd: invalid collection name '\$cmd': a collection name cannot hold '\$'" ]
  [ -z "$(colls_of r46_cmd)" ]
  # streamed: the first section is restored, the second refused before it is begun
  run mno-restore --quiet --create --target "$t" - <a.mnoa
  [ "$status" -eq 2 ]
  [ "$output" = "mno-restore: error: <stdin>:5: section connec.\$cmd: invalid collection name '\$cmd': a collection name cannot hold '\$'" ]
  [ "$(colls_of r46_cmd)" = "mno_restore_journal ok " ]
}

@test "restore names: a first section failing says that no section was restored (no --resume hint)" {
  t=$(mongo_newdb r46_none)
  mongo_archive a.mnoa connec.people connec.orgs
  run mno-restore --quiet --target "$t" a.mnoa
  [ "$status" -eq 2 ]
  [ "${lines[1]}" = "mno-restore: section connec.people rolled back: nothing of it was written; no section was restored" ]
  [ "${#lines[@]}" -eq 2 ]
}

# header_archive OUT HEADER-JSON BEGIN-JSON REC-V-JSON: a postgresql archive of one section
# public.users (the begin line given), sealed by nothing: the reader refuses it before its sums.
raw_archive() {
  local out=$1 header=$2 begin=$3 rec=$4 ns=${5:-public.users}
  {
    echo "$header"
    echo "$begin"
    echo "{\"t\":\"rec\",\"ns\":\"$ns\",\"v\":$rec}"
    echo "{\"t\":\"end\",\"ns\":\"$ns\",\"count\":1,\"sum\":\"00000000000000000000000000000000\"}"
    echo '{"t":"trailer","sections":1,"count":1,"sum":"00000000000000000000000000000000"}'
  } >"$out"
}

H='{"t":"header","format":"mnoa","version":1,"engine":"postgresql","source":"mnohub","tenant":"acme"}'
B='{"t":"begin","ns":"public.users","columns":[{"name":"id","type":"integer"}],"key":["id"]}'

@test "names: NUL in a header field or a name is refused with its exact message, by every reader and --seal" {
  raw_archive f.raw '{"t":"header","format":"mnoa\u0000","version":1,"engine":"postgresql"}' "$B" '{"id":"1"}'
  run mno-cat --check f.raw
  [ "$status" -eq 2 ]
  [ "$output" = 'mno-cat: error: f.raw:1: NUL character (\u0000) in "format": names and header fields cannot hold one' ]
  # the ns of the issue: taken for public.users before; refused by --seal, --check, restore, verify
  raw_archive n.raw "$H" '{"t":"begin","ns":"public.users\u0000; DROP TABLE x","columns":[{"name":"id","type":"integer"}],"key":["id"]}' \
    '{"id":"1"}' 'public.users\u0000; DROP TABLE x'
  run mno-cat --seal -o n.mnoa n.raw
  [ "$status" -eq 2 ]
  [ "$output" = 'mno-cat: error: n.raw:2: NUL character (\u0000) in "ns": names and header fields cannot hold one' ]
  [ ! -e n.mnoa ]
  run mno-restore --quiet --create --target "$MNO_TEST_PG_URI" n.raw
  [ "$status" -eq 2 ]
  [ "$output" = 'mno-restore: error: n.raw:2: NUL character (\u0000) in "ns": names and header fields cannot hold one' ]
  run mno-verify --archive n.raw --target "$MNO_TEST_PG_URI"
  [ "$status" -eq 2 ]
  [ "$output" = 'mno-verify: error: n.raw:2: NUL character (\u0000) in "ns": names and header fields cannot hold one' ]
  # a record line's ns, inside the section
  raw_archive r.raw "$H" "$B" '{"id":"1"}' 'public.users\u0000x'
  run mno-cat --check r.raw
  [ "$status" -eq 2 ]
  [ "$output" = 'mno-cat: error: r.raw:3: section public.users: NUL character (\u0000) in "ns": names and header fields cannot hold one' ]
  # the other fields: engine, tenant, source, a column name, a key name (NUL in a JSON key is
  # refused by the JSON parser itself: "NUL byte in object key not supported")
  local cases=(
    '{"t":"header","format":"mnoa","version":1,"engine":"postgresql\u0000","tenant":"acme"}|'"$B"'|1|"engine"'
    '{"t":"header","format":"mnoa","version":1,"engine":"postgresql","tenant":"ac\u0000me"}|'"$B"'|1|"tenant"'
    '{"t":"header","format":"mnoa","version":1,"engine":"postgresql","source":"\u0000"}|'"$B"'|1|"source"'
    "$H"'|{"t":"begin","ns":"public.users","columns":[{"name":"id\u0000x","type":"integer"}],"key":["id"]}|2|"columns[0].name"'
    "$H"'|{"t":"begin","ns":"public.users","columns":[{"name":"id","type":"integer"}],"key":["id\u0000"]}|2|"key[0]"'
  )
  local c h b l w
  for c in "${cases[@]}"; do
    IFS='|' read -r h b l w <<<"$c"
    raw_archive c.raw "$h" "$b" '{"id":"1"}'
    run mno-cat --check c.raw
    [ "$status" -eq 2 ]
    [ "$output" = "mno-cat: error: c.raw:$l: NUL character (\\u0000) in $w: names and header fields cannot hold one" ] ||
      { echo "$c: $output" >&2; return 1; }
  done
}

@test "names: NUL inside a MongoDB record's string value stays allowed" {
  {
    echo '{"t":"header","format":"mnoa","version":1,"engine":"mongodb","source":"connec","tenant":"acme"}'
    echo '{"t":"begin","ns":"connec.people","key":["_id"],"options":{},"indexes":[]}'
    echo '{"t":"rec","ns":"connec.people","v":{"_id":{"$numberInt":"1"},"s":"a\u0000b"}}'
    echo '{"t":"end","ns":"connec.people","count":0,"sum":"00000000000000000000000000000000"}'
    echo '{"t":"trailer","sections":0,"count":0,"sum":"00000000000000000000000000000000"}'
  } >m.raw
  mno-cat --seal -o m.mnoa m.raw
  run mno-cat --check m.mnoa
  [ "$status" -eq 0 ]
  t=$(mongo_newdb r46_nulval)
  mno-restore --quiet --create --target "$t" m.mnoa
  # {_id: 1, s: "a\0b"} byte for byte: int32 _id, then the string with its NUL
  [ "$("$MC" hex "$t" people | cut -f2)" = 19000000105f69640001000000027300040000006100620000 ] ||
    { "$MC" hex "$t" people >&2; return 1; }
}

@test "names: an ns holding a newline or a terminal escape forges no line in any tool's output" {
  # the forged line of the issue, and an ESC [2J (clear screen)
  local evil=$'connec.a\nmno-restore: restored 5 sections, 9 records\e[2J'
  local shown='connec.a\nmno-restore: restored 5 sections, 9 records\x1b[2J'
  mongo_archive a.mnoa "$evil"
  run mno-cat --list a.mnoa
  [ "$status" -eq 0 ]
  [ "${#lines[@]}" -eq 1 ]
  [[ "${lines[0]}" == "$shown"$'\t1\t'* ]]
  t=$(mongo_newdb r46_nl)
  # an error naming it (no --create): two lines, both escaped
  run mno-restore --target "$t" a.mnoa
  [ "$status" -eq 2 ]
  [ "${#lines[@]}" -eq 2 ]
  [ "${lines[0]}" = "mno-restore: error: a.mnoa:2: section $shown: collection 'a\\nmno-restore: restored 5 sections, 9 records\\x1b[2J' does not exist in database 'r46_nl': give --create to create it with the archive's options and indexes" ] ||
    { echo "${lines[0]}" >&2; return 1; }
  [ "${lines[1]}" = "mno-restore: section $shown rolled back: nothing of it was written; no section was restored" ]
  # the dry run's table and the progress rows: one line per section
  run mno-restore --dry-run --create --target "$t" a.mnoa
  [ "$status" -eq 0 ]
  [ "${lines[1]}" = "$shown"$'\t1\tmissing: would be created (--create)' ]
  [ "${#lines[@]}" -eq 3 ]
  run mno-restore --progress --dry-run --create --target "$t" a.mnoa
  [ "$status" -eq 0 ]
  [ "$(printf '%s\n' "$output" | grep -c '^mno-restore: restored')" -eq 0 ]
  [[ "$output" != *$'\e'* ]]
  # mno-verify's report: one row for the section, its note escaped
  run mno-verify --archive a.mnoa --target "$t"
  [ "$status" -eq 1 ]
  [ "$(printf '%s\n' "$output" | grep -c '^mno-restore: restored')" -eq 0 ]
  [[ "$output" != *$'\e'* ]]
  [ "$(printf '%s\n' "$output" | grep -c "^$(printf '%s' "$shown" | sed 's/[][\\.*^$]/\\&/g')")" -ge 1 ]
}

@test "names: a 10 KB tenant name is cut and escaped in messages and reports" {
  local long
  long=$(printf 'x%.0s' $(seq 1 10000))
  long=$'ev\nil'"$long"
  jq -cn --arg t "$long" '{t: "header", format: "mnoa", version: 1, engine: "mongodb", source: "connec", tenant: $t}' >t.raw
  echo '{"t":"trailer","sections":0,"count":0,"sum":"00000000000000000000000000000000"}' >>t.raw
  mno-cat --seal -o t.mnoa t.raw
  t=$(mongo_newdb r46_tenant)
  run mno-verify --archive t.mnoa --target "$t"
  [ "$status" -eq 0 ]
  [ "${#lines[0]}" -lt 600 ]
  [[ "${lines[0]}" == *"tenant ev\\nilxxxx"*"x..., id "* ]]
  # mno-dump --orgs-from an archive of another tenant: the message names both, cut
  hub=$(pg_newdb r46_hub)
  "$MNO_TOP/tests/fixtures/load" mnohub "$hub"
  run mno-dump --source "$hub" --scope "$MNO_TOP/filters/mnohub.scope" --quiet --tenant "$long" -o d.mnoa
  [ "$status" -eq 2 ]
  [ "${#lines[@]}" -eq 1 ]
  [ "${#output}" -lt 600 ]
  [ "$output" = "mno-dump: error: tenant 'ev\\nil$(printf 'x%.0s' $(seq 1 251))...' not found in public.tenants" ]
}
