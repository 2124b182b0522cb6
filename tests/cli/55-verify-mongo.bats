#!/usr/bin/env bats
# 55-verify-mongo.bats: mno-verify against MongoDB (the test server, or a real one with
# MNO_TEST_MONGO_URI): every status, --diff naming the _id and the field, --json, corrupt archives.
# The archive is written independently of mno-dump: the same canonical Extended JSON lines that
# are inserted into the target (by a separate libmongoc client), sealed by mno-cat; the sums are
# also recomputed from the server's BSON bytes by python's md5.

setup_file() {
  export MNO_TOP=${MNO_TOP:-$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}
  export PATH="$MNO_BIN:$PATH"
  export MC="$MNO_TESTBIN/mongodump-client"
  export DATA="$BATS_TEST_DIRNAME/55-verify-mongo/data.py"
  local d=$BATS_FILE_TMPDIR
  for c in lookups people invoices; do python3 "$DATA" "$c" >"$d/$c.jsonl"; done
  export VARCH=$d/connec.mnoa.zst
  make_archive "$d" '' >"$d/connec.raw"
  mno-cat --seal -o "$VARCH" "$d/connec.raw"
}

setup() {
  . "$MNO_TOP/tests/lib/env.sh"
}

# The archive (zero sums: mno-cat --seal fills them). $2: a begin "filter" for people and invoices.
make_archive() {
  local d=$1 filter=$2
  echo '{"t":"header","format":"mnoa","version":1,"engine":"mongodb","source":"connec","tenant":"acme"}'
  for c in lookups people invoices; do
    if [ -n "$filter" ] && [ "$c" != lookups ]; then
      echo "{\"t\":\"begin\",\"ns\":\"connec.$c\",\"key\":[\"_id\"],\"filter\":$filter}"
    else
      echo "{\"t\":\"begin\",\"ns\":\"connec.$c\",\"key\":[\"_id\"]}"
    fi
    jq -c --arg ns "connec.$c" '{t: "rec", ns: $ns, v: .}' "$d/$c.jsonl"
    echo "{\"t\":\"end\",\"ns\":\"connec.$c\",\"count\":0,\"sum\":\"00000000000000000000000000000000\"}"
  done
  echo '{"t":"trailer","sections":0,"count":0,"sum":"00000000000000000000000000000000"}'
}

# A target database holding exactly the archive's documents: what mno-restore leaves.
new_target() {
  local u c
  u=$(mongo_newdb "verify_mongo_t$BATS_TEST_NUMBER")
  for c in lookups people invoices; do
    "$MC" insert "$u" "$c" <"$BATS_FILE_TMPDIR/$c.jsonl" >/dev/null
  done
  echo "$u"
}

# Runs one command on the target's database; fails unless the reply says ok and n as given.
cmd() { # uri json expected-n
  local r
  r=$("$MC" command "$1" "$2")
  [ "$(jq -r '.ok | tostring | .[0:1]' <<<"$r")" = 1 ] || { echo "command failed: $r" >&2; return 1; }
  [ -z "${3:-}" ] || [ "$(jq -r '.n | if type == "object" then .["$numberInt"] else tostring end' <<<"$r")" = "$3" ] ||
    { echo "command affected other than $3: $r" >&2; return 1; }
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

# A line of the report where count and sum agree: NS, count, the same count, the same short sum[, ok].
ok_line() { # line ns count
  [[ "$1" =~ ^$2\ +$3\ +$3\ +([0-9a-f]{12})\ \ ([0-9a-f]{12})(\ \ ok)?$ ]] || return 1
  [ "${BASH_REMATCH[1]}" = "${BASH_REMATCH[2]}" ] || return 1
  [ "$2" = total ] || [ -n "${BASH_REMATCH[3]}" ]
}

PEOPLE_ID=$(python3 -c 'import uuid; print(uuid.UUID(int=(77 * 0x9E3779B97F4A7C15 + 4242) % (1 << 128)))')
HEAD='ns                 expected      actual  expected sum  actual sum    status'

@test "verify mongo: after a restore every collection is ok, exit 0; sums equal the server's bytes" {
  t=$(new_target)
  run mno-verify --archive "$VARCH" --target "$t"
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" == "archive  $VARCH: mongodb, source connec, tenant acme, id "*", 3 sections, 165 records, sum "* ]]
  [ "${lines[1]}" = "target   $t" ]
  [ "${lines[2]}" = "$HEAD" ]
  ok_line "${lines[3]}" connec.lookups 5
  ok_line "${lines[4]}" connec.people 120
  ok_line "${lines[5]}" connec.invoices 40
  ok_line "${lines[6]}" total 165
  [ "${lines[7]}" = "verdict: ok: 3 of 3 collections match, 165 records" ]
  [ "${#lines[@]}" -eq 8 ]
  # the archive's sums (mno-cat) and the target's (mno-verify) are python's md5 of the server's BSON
  mno-verify --archive "$VARCH" --target "$t" --json >"$BATS_TEST_TMPDIR/r.json"
  for c in lookups people invoices; do
    want=$(server_sum "$t" "$c")
    [ "$(mno-cat --list "$VARCH" | awk -F'\t' -v ns="connec.$c" '$1 == ns {print $3}')" = "$want" ]
    [ "$(jq -r --arg ns "connec.$c" '.sections[] | select(.ns == $ns) | .actual.sum' "$BATS_TEST_TMPDIR/r.json")" = "$want" ]
  done
}

@test "verify mongo: one changed field -> DIFFERS; --diff names the _id and the field" {
  t=$(new_target)
  cmd "$t" "{\"update\":\"people\",\"updates\":[{\"q\":{\"_id\":\"$PEOPLE_ID\"},\"u\":{\"\$set\":{\"email.address\":\"evil@x.test\"}}}]}" 1
  run mno-verify --archive "$VARCH" --target "$t"
  [ "$status" -eq 1 ]
  [[ "${lines[4]}" =~ ^connec\.people\ +120\ +120\ +([0-9a-f]{12})\ \ [0-9a-f]{12}\ \ DIFFERS$ ]]
  [ "${lines[-1]}" = "verdict: DIFFERS: 1 of 3 collections do not match (1 DIFFERS)" ]
  run mno-verify --archive "$VARCH" --target "$t" --diff
  [ "$status" -eq 1 ]
  [[ "$output" == *$'\n\nconnec.people: 1 key differs\n  changed  _id='"$PEOPLE_ID"$': email\nverdict: DIFFERS'* ]]
}

@test "verify mongo: the same value with another BSON type (int32 -> int64) -> DIFFERS, field named" {
  t=$(new_target)
  cmd "$t" '{"update":"invoices","updates":[{"q":{"_id":{"$oid":"5f0000000000000000003dde"}},"u":{"$set":{"title":"INV-0002","lines":[{"qty":{"$numberLong":"2"},"unit":{"$numberDouble":"1.0"}}]}}}]}' 1
  run mno-verify --archive "$VARCH" --target "$t" --diff
  [ "$status" -eq 1 ]
  [[ "${lines[5]}" == "connec.invoices"*"  DIFFERS" ]]
  [[ "$output" == *$'connec.invoices: 1 key differs\n  changed  _id={"$oid":"5f0000000000000000003dde"}: lines\n'* ]]
}

@test "verify mongo: a deleted document -> the count differs and --diff names its _id as missing" {
  t=$(new_target)
  cmd "$t" '{"delete":"lookups","deletes":[{"q":{"_id":{"$numberInt":"3"}},"limit":1}]}' 1
  run mno-verify --archive "$VARCH" --target "$t" --diff
  [ "$status" -eq 1 ]
  [[ "${lines[3]}" =~ ^connec\.lookups\ +5\ +4\ +[0-9a-f]{12}\ \ [0-9a-f]{12}\ \ DIFFERS$ ]]
  [[ "$output" == *$'connec.lookups: 1 key differs\n  missing  _id={"$numberInt":"3"}\n'* ]]
}

@test "verify mongo: a document of the tenant added in the target -> DIFFERS, --diff lists it as extra" {
  t=$(new_target)
  cmd "$t" '{"insert":"people","documents":[{"_id":"zz-new","channel_id":"org-acme-1","first_name":"Eve"}]}' 1
  run mno-verify --archive "$VARCH" --target "$t" --diff
  [ "$status" -eq 1 ]
  [[ "${lines[4]}" =~ ^connec\.people\ +120\ +121\ +[0-9a-f]{12}\ \ [0-9a-f]{12}\ \ DIFFERS$ ]]
  [[ "$output" == *$'connec.people: 1 key differs\n  extra    _id=zz-new\n'* ]]
}

@test "verify mongo: --diff stops at --max; --json lists every kind of difference" {
  t=$(new_target)
  cmd "$t" '{"update":"people","updates":[{"q":{"n":{"$lte":{"$numberInt":"10"}}},"u":{"$set":{"first_name":"x"}},"multi":true}]}' 10
  cmd "$t" '{"delete":"invoices","deletes":[{"q":{"title":"INV-0040"},"limit":1}]}' 1
  run mno-verify --archive "$VARCH" --target "$t" --diff --max 3
  [ "$status" -eq 1 ]
  [[ "$output" == *$'connec.people: 3+ keys differ\n  changed  _id='*$': first_name\n  changed  _id='*$': first_name\n  changed  _id='*$': first_name\n  ... more keys differ (see --max)\n'* ]]
  run mno-verify --archive "$VARCH" --target "$t" --diff --json
  [ "$status" -eq 1 ]
  [ "$(jq -c '[.sections[1].diff[] | .columns[0]] | unique' <<<"$output")" = '["first_name"]' ]
  [ "$(jq -r '.sections[1].diff | length' <<<"$output")" = 10 ]
  [ "$(jq -c '.sections[2].diff' <<<"$output")" = '[{"what":"missing","key":{"_id":{"$oid":"5f000000000000000004d558"}}}]' ]
  [ "$(jq -r '.sections[0].status, .sections[1].status, .verdict' <<<"$output")" = "$(printf 'ok\ndiffers\ndiffers')" ]
}

@test "verify mongo: a dropped collection -> MISSING in target" {
  t=$(new_target)
  cmd "$t" '{"drop":"invoices"}'
  run mno-verify --archive "$VARCH" --target "$t"
  [ "$status" -eq 1 ]
  [[ "${lines[5]}" =~ ^connec\.invoices\ +40\ +-\ +[0-9a-f]{12}\ \ -\ +MISSING\ in\ target$ ]]
  [ "${lines[-1]}" = "verdict: DIFFERS: 1 of 3 collections do not match (1 MISSING in target)" ]
}

@test "verify mongo: a collection with documents that the archive lacks -> EXTRA in target; --no-extra ignores it" {
  t=$(new_target)
  cmd "$t" '{"insert":"stray","documents":[{"_id":1},{"_id":2}]}' 2
  cmd "$t" '{"create":"empty"}'
  run mno-verify --archive "$VARCH" --target "$t"
  [ "$status" -eq 1 ]
  [ "${lines[6]}" = "connec.stray              -           2  -             -             EXTRA in target" ]
  [ "${lines[-1]}" = "verdict: DIFFERS: 1 of 4 collections do not match (1 EXTRA in target)" ]
  run mno-verify --archive "$VARCH" --target "$t" --no-extra
  [ "$status" -eq 0 ]
}

@test "verify mongo: --json has full sums, the archive's identity and the target" {
  t=$(new_target)
  run mno-verify --archive "$VARCH" --target "$t" --json
  [ "$status" -eq 0 ]
  j=$output
  [ "$(jq -r .target.uri <<<"$j")" = "$t" ]
  [ "$(jq -r '.target.engine, .mode, .verdict, .archive.header.tenant, .archive.trailer.count' <<<"$j")" = "$(printf 'mongodb\narchive\nok\nacme\n165')" ]
  [ "$(jq -r .archive.trailer.sum <<<"$j")" = "$(jq -r .totals.actual_sum <<<"$j")" ]
  [ "$(jq -r '.sections[2].expected.sum' <<<"$j")" = "$(server_sum "$t" invoices)" ]
}

@test "verify mongo: a corrupt archive is an error (exit 2) that names the line and section" {
  t=$(new_target)
  d=$BATS_TEST_TMPDIR
  zstd -dc "$VARCH" | sed '/p7@example/s/p7@example/p7@exbmple/' >"$d/bad.mnoa"
  # refused by default (the records are checked against their end lines), --diff too
  for opt in "" --check-archive --diff; do
    run mno-verify --archive "$d/bad.mnoa" --target "$t" $opt
    [ "$status" -eq 2 ]
    [[ "${lines[0]}" == "mno-verify: error: $d/bad.mnoa:"*"section connec.people: "*"sum mismatch"* ]]
    [ "${#lines[@]}" -eq 1 ]
  done
  # --no-check-archive compares the target with the declared sums (they match), and says so
  run mno-verify --archive "$d/bad.mnoa" --target "$t" --no-check-archive
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" == *", records not checked (--no-check-archive)" ]]
  # the same damage inside the zstd archive: zstd's checksum catches it, always
  zstd -q -c "$d/bad.mnoa" >"$d/bad.mnoa.zst"
  python3 -c 'import sys; p = sys.argv[1]; b = bytearray(open(p, "rb").read()); b[len(b) // 2] ^= 0x20; open(p, "wb").write(b)' "$d/bad.mnoa.zst"
  run mno-verify --archive "$d/bad.mnoa.zst" --target "$t"
  [ "$status" -eq 2 ]
  [[ "$output" == "mno-verify: error: $d/bad.mnoa.zst"* ]]
  # a lost document: the count no longer matches
  zstd -dc "$VARCH" | sed '/p8@example/d' >"$d/lost.mnoa"
  run mno-verify --archive "$d/lost.mnoa" --target "$t"
  [ "$status" -eq 2 ]
  [[ "$output" == "mno-verify: error: $d/lost.mnoa:"*": section connec.people: count mismatch: end line says 120, found 119 records" ]]
  zstd -dc "$VARCH" | head -n 50 >"$d/short.mnoa"
  run mno-verify --archive "$d/short.mnoa" --target "$t"
  [ "$status" -eq 2 ]
  [[ "$output" == "mno-verify: error: "*"truncated"* ]]
  zstd -dc "$VARCH" | sed '5s/"3"/"x"/' >"$d/badjson.mnoa"
  run mno-verify --archive "$d/badjson.mnoa" --target "$t" --check-archive
  [ "$status" -eq 2 ]
  [[ "$output" == "mno-verify: error: $d/badjson.mnoa:5: section connec.lookups: "* ]]
  # nothing was written to the target
  [ "$("$MC" count "$t" people)" = 120 ]
  [ "$("$MC" colls "$t" | LC_ALL=C sort | tr '\n' ' ')" = "invoices lookups people " ]
}

@test "verify mongo: unreachable servers and a mismatched engine are errors (exit 2)" {
  run mno-verify --archive "$VARCH" --target "mongodb://mno:hunter2@127.0.0.1:1/x?serverSelectionTimeoutMS=300"
  [ "$status" -eq 2 ]
  [[ "$output" == "mno-verify: error: "*"cannot connect to mongodb"* ]]
  [[ "$output" != *hunter2* ]]
  run mno-verify --archive "$VARCH" --target "postgresql://127.0.0.1:1/x"
  [ "$status" -eq 2 ]
  [ "$output" = "mno-verify: error: $VARCH:1: the archive is a mongodb archive but the target postgresql://127.0.0.1:1/x is postgresql" ]
}

@test "verify mongo: a shared target: the begin's filter restricts both sides to the tenant's documents" {
  t=$(new_target)
  # the archive holds only acme's documents, and says so
  d=$BATS_TEST_TMPDIR
  for c in lookups people invoices; do
    if [ "$c" = lookups ]; then cp "$BATS_FILE_TMPDIR/$c.jsonl" "$d/$c.jsonl"
    else jq -c 'select(.channel_id != "org-other-1")' "$BATS_FILE_TMPDIR/$c.jsonl" >"$d/$c.jsonl"; fi
  done
  make_archive "$d" '{"channel_id":{"$in":["org-acme-1","org-acme-2"]}}' >"$d/scoped.raw"
  mno-cat --seal -o "$d/scoped.mnoa" "$d/scoped.raw"
  # the filter is a query from the archive (it could hold $where or $function): only on request
  run mno-verify --archive "$d/scoped.mnoa" --target "$t"
  [ "$status" -eq 2 ]
  [ "$output" = "mno-verify: error: $d/scoped.mnoa:$(grep -n '"t":"begin"' "$d/scoped.raw" | grep filter | head -1 | cut -d: -f1): section $(grep '"t":"begin"' "$d/scoped.raw" | grep filter | head -1 | jq -r .ns): begin's \"filter\" is a query from the archive, run on the target only with --trust-archive (no query of this section was sent)" ]
  run mno-verify --archive "$d/scoped.mnoa" --target "$t" --trust-archive
  echo "$output" >&2
  [ "$status" -eq 0 ]
  [ "${lines[1]}" = "target   $t (only the tenant's rows of a shared target)" ]
  ok_line "${lines[4]}" connec.people 80
  # another tenant's change does not count; the tenant's own does
  cmd "$t" '{"update":"people","updates":[{"q":{"channel_id":"org-other-1"},"u":{"$set":{"first_name":"y"}},"multi":true}]}' 40
  run mno-verify --archive "$d/scoped.mnoa" --target "$t" --trust-archive
  echo "$output" >&2
  [ "$status" -eq 0 ]
  cmd "$t" '{"insert":"invoices","documents":[{"_id":"acme-new","channel_id":"org-acme-1"}]}' 1
  run mno-verify --archive "$d/scoped.mnoa" --target "$t" --diff --trust-archive
  [ "$status" -eq 1 ]
  [[ "$output" == *$'connec.invoices: 1 key differs\n  extra    _id=acme-new\n'* ]]
}

@test "verify mongo: --diff on 20k documents of mixed _id types with 3 differences names exactly those 3" {
  local d=$BATS_TEST_TMPDIR
  python3 - >"$d/many.jsonl" <<'PY'
import json
for i in range(20000):
    if i % 3 == 0:
        k = {"$numberInt": str(i)}
    elif i % 3 == 1:
        k = "s-%d" % i
    else:
        k = {"$oid": "%024x" % i}
    print(json.dumps({"_id": k, "n": {"$numberInt": str(i)}, "name": "doc %d" % i}, separators=(",", ":")))
PY
  {
    echo '{"t":"header","format":"mnoa","version":1,"engine":"mongodb","source":"connec","tenant":"acme"}'
    echo '{"t":"begin","ns":"connec.many","key":["_id"]}'
    jq -c '{t: "rec", ns: "connec.many", v: .}' "$d/many.jsonl"
    echo '{"t":"end","ns":"connec.many","count":0,"sum":"00000000000000000000000000000000"}'
    echo '{"t":"trailer","sections":0,"count":0,"sum":"00000000000000000000000000000000"}'
  } >"$d/many.raw"
  mno-cat --seal -o "$d/many.mnoa" "$d/many.raw"
  t=$(mongo_newdb "verify_mongo_t$BATS_TEST_NUMBER")
  "$MC" insert "$t" many <"$d/many.jsonl" >/dev/null
  run mno-verify --archive "$d/many.mnoa" --target "$t" --diff
  [ "$status" -eq 0 ]
  cmd "$t" '{"update":"many","updates":[{"q":{"_id":"s-12346"},"u":{"$set":{"name":"changed"}}}]}' 1
  cmd "$t" '{"delete":"many","deletes":[{"q":{"_id":{"$oid":"000000000000000000001f40"}},"limit":1}]}' 1
  cmd "$t" '{"insert":"many","documents":[{"_id":{"$numberLong":"20001"},"n":3}]}' 1
  run mno-verify --archive "$d/many.mnoa" --target "$t" --diff
  [ "$status" -eq 1 ]
  [[ "$output" == *$'\n\nconnec.many: 3 keys differ\n  changed  _id=s-12346: name\n  extra    _id={"$numberLong":"20001"}\n  missing  _id={"$oid":"000000000000000000001f40"}\nverdict: DIFFERS'* ]]
}

@test "verify mongo: the connection drops while a collection is hashed (in its reading thread): exit 2 naming it" {
  [ "${MNO_TEST_MONGOD:-}" = 1 ] || skip "needs the project's test server (fault knobs)"
  local d=$BATS_TEST_TMPDIR u
  u=$(mongod_start_extra "$d/fault" 3>&-)
  u=$(mongo_uri_db "$u" verify_fault)
  python3 -c '
for i in range(9000):
    print("{\"_id\":\"p%06d\",\"n\":%d,\"pad\":\"%s\"}" % (i, i, "x" * 200))' >"$d/big.jsonl"
  "$MC" insert "$u" big <"$d/big.jsonl" >/dev/null
  {
    echo '{"t":"header","format":"mnoa","version":1,"engine":"mongodb","source":"connec","tenant":"acme"}'
    echo '{"t":"begin","ns":"verify_fault.big","key":["_id"]}'
    jq -c '{t: "rec", ns: "verify_fault.big", v: .}' "$d/big.jsonl"
    echo '{"t":"end","ns":"verify_fault.big","count":0,"sum":"00000000000000000000000000000000"}'
    echo '{"t":"trailer","sections":0,"count":0,"sum":"00000000000000000000000000000000"}'
  } >"$d/big.raw"
  mno-cat --seal -o "$d/big.mnoa" "$d/big.raw"
  run mno-verify --archive "$d/big.mnoa" --target "$u"
  [ "$status" -eq 0 ]
  # past the first batches: the reading thread has filled and hashed several
  mongo_cmd "$u" admin '{"mnoFault":1,"dropAfterDocs":6000}' >/dev/null
  run mno-verify --archive "$d/big.mnoa" --target "$u"
  mongod_stop "$d/fault"
  [ "$status" -eq 2 ]
  [[ "$output" == "mno-verify: error: $d/big.mnoa:9003: section verify_fault.big: cannot read the collection: "*"Failed to read 4 bytes"* ]]
  [ "${#lines[@]}" -eq 1 ]
}
