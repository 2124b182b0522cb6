#!/usr/bin/env bats
# 45-restore-mongo.bats: mno-restore into MongoDB (the test server, or a real one with
# MNO_TEST_MONGO_URI): every BSON type byte for byte (file, zstd, pipe, dump -> restore -> dump),
# bad sections never applied, conflicts refused with the target unchanged, kill -9 at several
# points then --resume, and the test server's fault knobs (connection dropped mid-batch).
# The archive is written independently of mno-restore: Extended JSON lines of
# tests/cli/30-dump-mongo/data.py sealed by mno-cat; what the target holds is read back by a
# separate libmongoc client and its sums recomputed by python's md5 over the server's BSON bytes.

setup_file() {
  export MNO_TOP=${MNO_TOP:-$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}
  export PATH="$MNO_BIN:$PATH"
  export MC="$MNO_TESTBIN/mongodump-client"
  local d=$BATS_FILE_TMPDIR c
  for c in edge invoices lookups people sessions; do
    python3 "$MNO_TOP/tests/cli/30-dump-mongo/data.py" "$c" >"$d/$c.jsonl"
  done
  make_archive "$d" >"$d/connec.raw"
  export ARCH=$d/connec.mnoa.zst PARCH=$d/connec.mnoa
  mno-cat --seal -o "$ARCH" "$d/connec.raw"
  mno-cat --seal -o "$PARCH" "$d/connec.raw"
  mno-cat --list "$PARCH" >"$d/list"
}

setup() {
  . "$MNO_TOP/tests/lib/env.sh"
}

# Extra test servers a failed test left running (they would keep bats waiting).
teardown() {
  local d
  for d in "$BATS_TEST_TMPDIR"/f*/ "$BATS_TEST_TMPDIR"/fail/; do
    [ -f "$d/pid" ] && { mongod_stop "${d%/}" || true; }
  done
  return 0
}

# The archive (zero sums: mno-cat --seal fills them): people with two indexes, sessions capped.
make_archive() {
  local d=$1 c
  echo '{"t":"header","format":"mnoa","version":1,"engine":"mongodb","source":"connec","tenant":"acme"}'
  for c in edge invoices lookups people sessions; do
    case $c in
      people) echo '{"t":"begin","ns":"connec.people","key":["_id"],"options":{},"indexes":[{"v":{"$numberInt":"2"},"key":{"_id":{"$numberInt":"1"}},"name":"_id_"},{"v":{"$numberInt":"2"},"key":{"code":{"$numberInt":"1"}},"name":"code_1","unique":true},{"v":{"$numberInt":"2"},"key":{"channel_id":{"$numberInt":"1"},"created_at":{"$numberInt":"-1"}},"name":"channel_id_1_created_at_-1"}]}' ;;
      sessions) echo '{"t":"begin","ns":"connec.sessions","key":["_id"],"options":{"capped":true,"size":{"$numberInt":"1048576"}},"indexes":[]}' ;;
      *) echo "{\"t\":\"begin\",\"ns\":\"connec.$c\",\"key\":[\"_id\"],\"options\":{},\"indexes\":[]}" ;;
    esac
    jq -c --arg ns "connec.$c" '{t: "rec", ns: $ns, v: .}' "$d/$c.jsonl"
    echo "{\"t\":\"end\",\"ns\":\"connec.$c\",\"count\":0,\"sum\":\"00000000000000000000000000000000\"}"
  done
  echo '{"t":"trailer","sections":0,"count":0,"sum":"00000000000000000000000000000000"}'
}

# The md5 sum (mod 2^128) of the server's BSON bytes of a collection, by python, as 32 hex digits.
server_sum() {
  "$MC" hex "$1" "$2" | python3 -c '
import hashlib, sys
s = 0
for line in sys.stdin:
    s += int.from_bytes(hashlib.md5(bytes.fromhex(line.rstrip("\n").split("\t")[1])).digest(), "big")
print("%032x" % (s % (1 << 128)))'
}

# The target's collections equal the archive's sections: count and sum per collection,
# recomputed from the server's bytes; and the collection list is exactly the archive's plus
# the journal (no staging collection left).
target_is_archive() { # uri
  local ns count sum c
  while IFS=$'\t' read -r ns count sum _; do
    c=${ns#connec.}
    [ "$("$MC" count "$1" "$c")" = "$count" ] || { echo "$c: count $("$MC" count "$1" "$c") != $count" >&2; return 1; }
    [ "$(server_sum "$1" "$c")" = "$sum" ] || { echo "$c: sum differs" >&2; return 1; }
  done <"$BATS_FILE_TMPDIR/list"
  [ "$("$MC" colls "$1" | sort | tr '\n' ' ')" = "edge invoices lookups mno_restore_journal people sessions " ] ||
    { echo "collections: $("$MC" colls "$1" | sort | tr '\n' ' ')" >&2; return 1; }
}

# The index names of a collection, sorted, with ! for unique.
indexes() { # uri coll
  "$MC" command "$1" "{\"listIndexes\":\"$2\",\"cursor\":{}}" |
    jq -r '.cursor.firstBatch[] | .name + (if .unique then "!" else "" end)' | sort | tr '\n' ' '
}

@test "restore mongo: every BSON type byte for byte, options and indexes, journal; zstd file" {
  t=$(mongo_newdb restore_mongo_t1)
  run mno-restore --quiet --create --target "$t" "$ARCH"
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  target_is_archive "$t"
  [ "$(indexes "$t" people)" = "_id_ channel_id_1_created_at_-1 code_1! " ]
  [ "$(indexes "$t" edge)" = "_id_ " ]
  [ "$("$MC" command "$t" '{"listCollections":1,"filter":{"name":"sessions"}}' | jq -c '.cursor.firstBatch[0].options | {capped, size}')" = '{"capped":true,"size":1048576}' ]
  # every document exactly, as a set of BSON byte strings
  [ "$("$MC" hex "$t" edge | cut -f2 | sort)" = "$(mno-cat --records --ns connec.edge "$PARCH" | "$MC" archive-hex - | cut -f2 | sort)" ]
  # the journal: one entry per section, the archive's count and sum
  id=$(mno-cat --header "$ARCH" | jq -r .id)
  j=$("$MC" command "$t" '{"find":"mno_restore_journal","filter":{},"sort":{"_id":1}}')
  [ "$(jq -r '.cursor.firstBatch | length' <<<"$j")" = 5 ]
  [ "$(jq -r '.cursor.firstBatch[0]._id' <<<"$j")" = "$id:connec.edge" ]
  [ "$(jq -r '.cursor.firstBatch[3] | .ns + " " + (.count | tostring) + " " + .sum' <<<"$j" |
       sed 's/{"\$numberLong":"\([0-9]*\)"}/\1/')" = "connec.people $(awk -F'\t' '$1 == "connec.people" {print $2 " " $3}' "$BATS_FILE_TMPDIR/list")" ]
  # mno-verify agrees, and does not count the journal as an extra collection
  run mno-verify --archive "$ARCH" --target "$t"
  [ "$status" -eq 0 ]
}

@test "restore mongo: from a pipe (plain and zstd)" {
  t=$(mongo_newdb restore_mongo_t2)
  run bash -c "cat '$PARCH' | mno-restore --quiet --create --target '$t' -"
  [ "$status" -eq 0 ]
  target_is_archive "$t"
  t=$(mongo_newdb restore_mongo_t2)
  run bash -c "cat '$ARCH' | mno-restore --quiet --create --target '$t'"
  [ "$status" -eq 0 ]
  target_is_archive "$t"
}

@test "restore mongo: a missing collection without --create is refused, nothing written" {
  t=$(mongo_newdb restore_mongo_t3)
  run mno-restore --quiet --target "$t" "$PARCH"
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "mno-restore: error: $PARCH:2: section connec.edge: collection 'edge' does not exist in database 'restore_mongo_t3': give --create to create it with the archive's options and indexes" ]
  [ "${lines[1]}" = "mno-restore: section connec.edge rolled back: nothing of it was written; no section was restored" ]
  [ "${#lines[@]}" -eq 2 ]
  [ -z "$("$MC" colls "$t")" ]
}

@test "restore mongo: a corrupt section is not applied; the sections before it are" {
  t=$(mongo_newdb restore_mongo_t4)
  sed 's/"INV-0007"/"INV-0008"/' "$PARCH" >"$BATS_TEST_TMPDIR/bad.mnoa"
  ! cmp -s "$PARCH" "$BATS_TEST_TMPDIR/bad.mnoa"
  end=$(grep -n '"t":"end","ns":"connec.invoices"' "$PARCH" | cut -d: -f1)
  sum=$(awk -F'\t' '$1 == "connec.invoices" {print $3}' "$BATS_FILE_TMPDIR/list")
  # by default a FILE is checked whole before anything is written: nothing at all
  run mno-restore --quiet --create --target "$t" "$BATS_TEST_TMPDIR/bad.mnoa"
  [ "$status" -eq 2 ]
  [[ "$output" == "mno-restore: error: $BATS_TEST_TMPDIR/bad.mnoa:$end: section connec.invoices: sum mismatch: end line says $sum, computed "* ]]
  [ "${#lines[@]}" -eq 1 ]
  [ -z "$("$MC" colls "$t")" ]
  # section by section (--no-check-first, as from stdin): the sections before it are applied
  run mno-restore --no-check-first --quiet --create --target "$t" "$BATS_TEST_TMPDIR/bad.mnoa"
  [ "$status" -eq 2 ]
  [[ "${lines[0]}" == "mno-restore: error: $BATS_TEST_TMPDIR/bad.mnoa:$end: section connec.invoices: sum mismatch: end line says $sum, computed "* ]]
  [ "${lines[1]}" = "mno-restore: section connec.invoices rolled back: nothing of it was written; 1 section before it restored (journaled: --resume finishes)" ]
  [ "${#lines[@]}" -eq 2 ]
  [ "$("$MC" colls "$t" | sort | tr '\n' ' ')" = "edge mno_restore_journal " ]
  [ "$(server_sum "$t" edge)" = "$(awk -F'\t' '$1 == "connec.edge" {print $3}' "$BATS_FILE_TMPDIR/list")" ]
}

@test "restore mongo: a stream that ends inside a section does not apply it" {
  t=$(mongo_newdb restore_mongo_t5)
  cut=$(( $(grep -n '"t":"begin","ns":"connec.people"' "$PARCH" | cut -d: -f1) + 100 ))
  head -n "$cut" "$PARCH" | zstd -q >"$BATS_TEST_TMPDIR/short.mnoa.zst"
  run bash -c "mno-restore --quiet --create --target '$t' - <'$BATS_TEST_TMPDIR/short.mnoa.zst'"
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "mno-restore: error: <stdin>:$cut: section connec.people: truncated archive: no trailer" ]
  [ "${lines[1]}" = "mno-restore: section connec.people rolled back: nothing of it was written; 3 sections before it restored (journaled: --resume finishes)" ]
  [ "$("$MC" colls "$t" | sort | tr '\n' ' ')" = "edge invoices lookups mno_restore_journal " ]
  [ "$("$MC" count "$t" lookups)" = 5 ]
}

@test "restore mongo: a document already there with another content is a conflict: refused, target unchanged" {
  t=$(mongo_newdb restore_mongo_t6)
  # two of the archive's people changed, one identical, one of another tenant
  jq -c 'select(.code == "PE7" or .code == "PE9") | .status = "CHANGED"' "$BATS_FILE_TMPDIR/people.jsonl" >"$BATS_TEST_TMPDIR/pre.jsonl"
  jq -c 'select(.code == "PE8")' "$BATS_FILE_TMPDIR/people.jsonl" >>"$BATS_TEST_TMPDIR/pre.jsonl"
  echo '{"_id":"zz-other","code":"OTHER"}' >>"$BATS_TEST_TMPDIR/pre.jsonl"
  "$MC" insert "$t" people <"$BATS_TEST_TMPDIR/pre.jsonl" >/dev/null
  before=$("$MC" hex "$t" people)
  id7=$(jq -r 'select(.code == "PE7") | ._id' "$BATS_FILE_TMPDIR/people.jsonl")
  id9=$(jq -r 'select(.code == "PE9") | ._id' "$BATS_FILE_TMPDIR/people.jsonl")
  run mno-restore --quiet --create --target "$t" "$PARCH"
  [ "$status" -eq 2 ]
  end=$(grep -n '"t":"end","ns":"connec.people"' "$PARCH" | cut -d: -f1)
  [[ "${lines[0]}" == "mno-restore: error: $PARCH:$end: section connec.people: conflict: 2 documents already in the target collection 'people' differ from the archive: _id=\""*"\", _id=\""*"\"; refusing to overwrite (nothing of this section was written)" ]]
  [[ "${lines[0]}" == *"_id=\"$id7\""* && "${lines[0]}" == *"_id=\"$id9\""* ]]
  [ "${lines[1]}" = "mno-restore: section connec.people rolled back: nothing of it was written; 3 sections before it restored (journaled: --resume finishes)" ]
  [ "$("$MC" hex "$t" people)" = "$before" ]
  [ "$(indexes "$t" people)" = "_id_ " ]
  [ "$("$MC" colls "$t" | sort | tr '\n' ' ')" = "edge invoices lookups mno_restore_journal people " ]
}

@test "restore mongo: --dry-run finds missing collections and conflicts, writes nothing" {
  t=$(mongo_newdb restore_mongo_t12)
  jq -c 'select(.code == "PE7") | .status = "CHANGED"' "$BATS_FILE_TMPDIR/people.jsonl" | "$MC" insert "$t" people >/dev/null
  "$MC" insert "$t" edge <"$BATS_FILE_TMPDIR/edge.jsonl" >/dev/null
  before=$("$MC" hex "$t" people; "$MC" hex "$t" edge)
  id7=$(jq -r 'select(.code == "PE7") | ._id' "$BATS_FILE_TMPDIR/people.jsonl")
  run bash -c "mno-restore --dry-run --create --target '$t' '$PARCH' 2>'$BATS_TEST_TMPDIR/err'"
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "dry run: nothing written to $t" ]
  [ "${lines[1]}" = "connec.edge"$'\t'"22"$'\t'"exists, 22 rows: would be written" ]
  [ "${lines[2]}" = "connec.invoices"$'\t'"50"$'\t'"missing: would be created (--create)" ]
  [ "${lines[4]}" = "connec.people"$'\t'"300"$'\t'"would fail: conflict: 1 document already in the target collection 'people' differs from the archive: _id=\"$id7\"; refusing to overwrite (nothing of this section was written)" ]
  [ "${#lines[@]}" -eq 6 ]
  [ "$(cat "$BATS_TEST_TMPDIR/err")" = "mno-restore: error: $PARCH:$(grep -n '"t":"end","ns":"connec.people"' "$PARCH" | cut -d: -f1): section connec.people: conflict: 1 document already in the target collection 'people' differs from the archive: _id=\"$id7\"; refusing to overwrite (nothing of this section was written)" ]
  [ "$("$MC" hex "$t" people; "$MC" hex "$t" edge)" = "$before" ]
  [ "$("$MC" colls "$t" | sort | tr '\n' ' ')" = "edge people " ]
}

@test "restore mongo: documents already there byte-identical count as restored" {
  t=$(mongo_newdb restore_mongo_t7)
  sed -n '1~3p' "$BATS_FILE_TMPDIR/people.jsonl" | "$MC" insert "$t" people >/dev/null
  "$MC" insert "$t" edge <"$BATS_FILE_TMPDIR/edge.jsonl" >/dev/null
  run mno-restore --quiet --create --target "$t" "$PARCH"
  [ "$status" -eq 0 ]
  target_is_archive "$t"
  [ "$(indexes "$t" people)" = "_id_ channel_id_1_created_at_-1 code_1! " ]
  j=$("$MC" command "$t" '{"find":"mno_restore_journal","filter":{"ns":"connec.people"}}')
  [ "$(jq -r '.cursor.firstBatch[0] | "\(.count) \(.already) \(.inserted)"' <<<"$j")" = "300 100 200" ]
}

@test "restore mongo: a second run needs --resume, which skips what is journaled" {
  t=$(mongo_newdb restore_mongo_t8)
  mno-restore --quiet --create --target "$t" "$ARCH"
  run mno-restore --quiet --create --target "$t" "$ARCH"
  [ "$status" -eq 2 ]
  [[ "$output" == "mno-restore: error: $ARCH:2: section connec.edge: already restored from this archive"*"--resume"* ]]
  run mno-restore --quiet --create --resume --target "$t" "$ARCH"
  [ "$status" -eq 0 ]
  target_is_archive "$t"
}

@test "restore mongo: kill -9 at several points, then --resume: the target equals the archive" {
  for at in connec.edge:0 connec.edge:7 connec.edge:end connec.edge:commit connec.people:1 \
            connec.people:299 connec.people:end connec.people:commit connec.sessions:3 connec.sessions:end; do
    t=$(mongo_newdb restore_mongo_t9)
    run env MNO_TEST_RESTORE_KILL=$at mno-restore --quiet --create --target "$t" "$ARCH"
    [ "$status" -eq 137 ] || { echo "$at: status $status: $output" >&2; false; }
    run mno-restore --quiet --create --resume --target "$t" "$ARCH"
    [ "$status" -eq 0 ] || { echo "$at: $output" >&2; false; }
    target_is_archive "$t" || { echo "after a kill at $at" >&2; false; }
    [ "$(indexes "$t" people)" = "_id_ channel_id_1_created_at_-1 code_1! " ]
  done
}

@test "restore mongo: connection dropped mid-batch (test server fault knobs): resent, exact" {
  [ "${MNO_TEST_MONGOD:-}" = 1 ] || skip "needs the project's test server (fault knobs)"
  for f in insert:1 insert:1:after insert:4:after renameCollection:1; do
    dir=$BATS_TEST_TMPDIR/f$RANDOM
    u=$(mongod_start_extra "$dir" --fault-drop-on "$f" 3>&-)
    t=$(mongo_uri_db "$u" restore_mongo_t10)
    run mno-restore --quiet --create --target "$t" "$ARCH"
    if [ "$status" -ne 0 ]; then
      # a lost answer to a command that is not an insert batch: the run stops, --resume finishes
      [[ "$f" == renameCollection:* ]] || { echo "$f: $output" >&2; false; }
      [[ "${lines[0]}" == "mno-restore: error: $ARCH:25: section connec.edge: cannot rename the staging collection to 'edge': "* ]] || { echo "$output" >&2; false; }
      run mno-restore --quiet --create --resume --target "$t" "$ARCH"
      [ "$status" -eq 0 ]
    fi
    target_is_archive "$t" || { echo "fault $f" >&2; false; }
    mongod_stop "$dir" || true
  done
}

@test "restore mongo: a server error mid-section: exit 2 naming the lines, nothing of it applied; --resume finishes" {
  [ "${MNO_TEST_MONGOD:-}" = 1 ] || skip "needs the project's test server (fault knobs)"
  dir=$BATS_TEST_TMPDIR/fail
  u=$(mongod_start_extra "$dir" --fault-fail-on "insert:5:2:injected failure" 3>&-)
  t=$(mongo_uri_db "$u" restore_mongo_t11)
  run mno-restore --quiet --create --target "$t" "$ARCH"
  [ "$status" -eq 2 ]
  lookups=$(grep -n '"ns":"connec.lookups"' "$PARCH" | cut -d: -f1 | sed -n '2p;6p' | tr '\n' - | sed 's/-$//')
  [ "${lines[0]}" = "mno-restore: error: $ARCH:84: section connec.lookups: cannot insert the 5 documents of lines $lookups: injected failure (code 2)" ]
  [ "${lines[1]}" = "mno-restore: section connec.lookups rolled back: nothing of it was written; 2 sections before it restored (journaled: --resume finishes)" ]
  [ "$("$MC" colls "$t" | sort | tr '\n' ' ')" = "edge invoices mno_restore_journal " ]
  run mno-restore --quiet --create --resume --target "$t" "$ARCH"
  [ "$status" -eq 0 ]
  target_is_archive "$t"
  mongod_stop "$dir" || true
}

# A document the server could not hold (over 16 MiB as BSON) is refused where the archive is
# read, naming the line and key, before anything is sent: by mno-cat --seal and by mno-restore
# of the unsealed stream (its zero sums are never reached), with and without --create.
@test "restore mongo: a document over 16 MiB is refused with its line and key, nothing written" {
  d=$BATS_TEST_TMPDIR
  python3 - "$d/big.raw" <<'PY'
import json, sys
with open(sys.argv[1], "w") as f:
    f.write('{"t":"header","format":"mnoa","version":1,"engine":"mongodb","source":"connec","tenant":"acme"}\n')
    f.write('{"t":"begin","ns":"connec.big","key":["_id"],"options":{},"indexes":[]}\n')
    f.write(json.dumps({"t": "rec", "ns": "connec.big", "v": {"_id": "a", "s": "small"}}) + "\n")
    f.write(json.dumps({"t": "rec", "ns": "connec.big", "v": {"_id": "b", "s": "x" * (16 * 1024 * 1024)}}) + "\n")
    f.write('{"t":"end","ns":"connec.big","count":0,"sum":"00000000000000000000000000000000"}\n')
    f.write('{"t":"trailer","sections":0,"count":0,"sum":"00000000000000000000000000000000"}\n')
PY
  run mno-cat --seal -o "$d/big.mnoa" "$d/big.raw"
  [ "$status" -eq 2 ]
  [ "$output" = "mno-cat: error: $d/big.raw:4: section connec.big: key (_id)=(\"b\"): document of 16777240 bytes is over the server's 16 MiB limit" ]
  [ ! -e "$d/big.mnoa" ]
  t=$(mongo_newdb restore_mongo_big)
  run mno-restore --quiet --create --target "$t" "$d/big.raw"
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "mno-restore: error: $d/big.raw:4: section connec.big: key (_id)=(\"b\"): document of 16777240 bytes is over the server's 16 MiB limit" ]
  [ -z "$("$MC" colls "$t")" ]
}

# A begin line's options, indexes and filter go to the server (create, createIndexes, find):
# they are checked as records are, at their line, before anything is sent. libbson's own parser
# took each of these (a $numberInt that is no number became 0; an index with no name was sent).
@test "restore mongo: invalid Extended JSON in a begin's options, indexes or filter is refused at its line, nothing written" {
  d=$BATS_TEST_TMPDIR
  t=$(mongo_newdb restore_mongo_badbegin)
  while IFS='|' read -r extra msg; do
    {
      echo '{"t":"header","format":"mnoa","version":1,"engine":"mongodb","source":"connec","tenant":"acme"}'
      echo "{\"t\":\"begin\",\"ns\":\"connec.c1\",\"key\":[\"_id\"],$extra}"
      echo '{"t":"rec","ns":"connec.c1","v":{"_id":"a"}}'
      echo '{"t":"end","ns":"connec.c1","count":0,"sum":"00000000000000000000000000000000"}'
      echo '{"t":"trailer","sections":0,"count":0,"sum":"00000000000000000000000000000000"}'
    } >"$d/bad.raw"
    run mno-cat --seal -o "$d/bad.mnoa" "$d/bad.raw"
    [ "$status" -eq 2 ]
    [ "$output" = "mno-cat: error: $d/bad.raw:2: section connec.c1: $msg" ]
    [ ! -e "$d/bad.mnoa" ]
    run mno-restore --quiet --create --target "$t" "$d/bad.raw"
    [ "$status" -eq 2 ]
    [ "${lines[0]}" = "mno-restore: error: $d/bad.raw:2: section connec.c1: $msg" ]
    [ -z "$("$MC" colls "$t")" ]
  done <<'CASES'
"options":{"capped":{"$numberInt":"x"}},"indexes":[]|begin's "options": invalid Extended JSON at key "capped": $numberInt is not a 32-bit integer in a string
"options":[],"indexes":[]|begin's "options" is not an object
"options":{},"indexes":[{"key":{"a":{"$oid":"zz"}},"name":"a_1"}]|begin's "indexes[0]": invalid Extended JSON at key "key.a": $oid is not a string of 24 hex digits
"options":{},"indexes":{}|begin's "indexes" is not an array
"options":{},"indexes":[{"key":{"a":{"$numberInt":"1"}}}]|begin's "indexes[0]" has no string "name" and object "key"
"options":{},"indexes":[],"filter":{"channel_id":{"$date":{"$numberLong":"x"}}}|begin's "filter": invalid Extended JSON at key "channel_id": $date is not {"$numberLong": string} or an ISO-8601 string
"options":{},"indexes":[],"filter":{"at":{"$date":"x"}}|begin's "filter": invalid Extended JSON: Could not parse "x" as date: use ISO8601 format yyyy-mm-ddThh:mm plus timezone, either "Z" or like "+0500"
CASES
}
