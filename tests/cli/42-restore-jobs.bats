#!/usr/bin/env bats
# 42-restore-jobs.bats: mno-restore -j N (sections in parallel, each worker on its own
# connection): the MnoHub fixtures and the edge tables round-trip with -j 2/3/4 (plain and
# .zst, --create and into a schema whose foreign keys make children wait for their parents),
# the summary equals -j 1's, stdin and bad N refused, a corrupt section or a conflict stops the
# run with -j 1's message and leaves the committed sections journaled for --resume, kill -9 at
# several points then --resume -j 2; the same for MongoDB. Archives are written without
# mno-dump (40-restore-pg/archive.sh, 30-dump-mongo/data.py, sealed by mno-cat) and every
# restored target is read back independently.

setup_file() {
  export MNO_TOP=${MNO_TOP:-$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}
  export PATH="$MNO_BIN:$PATH"
  . "$MNO_TOP/tests/lib/env.sh"
  export D=$BATS_TEST_DIRNAME/40-restore-pg
  local f=$BATS_FILE_TMPDIR
  # the edge tables: users -> tenants by a foreign key in the source's schema
  export SRC; SRC=$(pg_newdb restore_jobs_src)
  psql -X -q -v ON_ERROR_STOP=1 -d "$SRC" -f "$D/edge.sql"
  export TABLES="public.tenants public.users public.orga_relations public.edge"
  "$D/archive.sh" "$SRC" $TABLES >"$f/edge.raw"
  export ARCH=$f/edge.mnoa PARCHZ=$f/edge.mnoa.zst
  mno-cat --seal -o "$ARCH" "$f/edge.raw"
  mno-cat --seal -z -o "$PARCHZ" "$ARCH"
  pg_dump -s -d "$SRC" >"$f/edge-schema.sql"
  # the MnoHub fixtures: 20 tables, foreign keys between them
  export HUB; HUB=$(pg_newdb restore_jobs_hub)
  "$MNO_TOP/tests/fixtures/load" mnohub "$HUB"
  HTABLES=$(psql -X -At -d "$HUB" -c "SELECT string_agg('public.' || c.relname, ' ' ORDER BY c.oid) FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r'")
  export HTABLES
  "$D/archive.sh" "$HUB" $HTABLES | mno-cat --seal -o "$f/hub.mnoa" -
  export HARCH=$f/hub.mnoa HARCHZ=$f/hub.mnoa.zst
  mno-cat --seal -z -o "$HARCHZ" "$HARCH"
  pg_dump -s -d "$HUB" >"$f/hub-schema.sql"
  # MongoDB: the collections of 45-restore-mongo.bats (Extended JSON of 30-dump-mongo/data.py)
  export MC="$MNO_TESTBIN/mongodump-client"
  local c
  for c in edge invoices lookups people sessions; do
    python3 "$MNO_TOP/tests/cli/30-dump-mongo/data.py" "$c" >"$f/$c.jsonl"
  done
  mongo_archive "$f" >"$f/connec.raw"
  export MARCH=$f/connec.mnoa MARCHZ=$f/connec.mnoa.zst
  mno-cat --seal -o "$MARCH" "$f/connec.raw"
  mno-cat --seal -z -o "$MARCHZ" "$MARCH"
  mno-cat --list "$MARCH" >"$f/mlist"
}

# The MongoDB archive (zero sums: mno-cat --seal fills them): people with two indexes.
mongo_archive() {
  local d=$1 c
  echo '{"t":"header","format":"mnoa","version":1,"engine":"mongodb","source":"connec","tenant":"acme"}'
  for c in edge invoices lookups people sessions; do
    case $c in
      people) echo '{"t":"begin","ns":"connec.people","key":["_id"],"options":{},"indexes":[{"v":{"$numberInt":"2"},"key":{"_id":{"$numberInt":"1"}},"name":"_id_"},{"v":{"$numberInt":"2"},"key":{"code":{"$numberInt":"1"}},"name":"code_1","unique":true}]}' ;;
      *) echo "{\"t\":\"begin\",\"ns\":\"connec.$c\",\"key\":[\"_id\"],\"options\":{},\"indexes\":[]}" ;;
    esac
    jq -c --arg ns "connec.$c" '{t: "rec", ns: $ns, v: .}' "$d/$c.jsonl"
    echo "{\"t\":\"end\",\"ns\":\"connec.$c\",\"count\":0,\"sum\":\"00000000000000000000000000000000\"}"
  done
  echo '{"t":"trailer","sections":0,"count":0,"sum":"00000000000000000000000000000000"}'
}

# The md5 sum (mod 2^128) of the server's BSON bytes of a collection, by python.
server_sum() { # uri coll
  "$MC" hex "$1" "$2" | python3 -c '
import hashlib, sys
s = 0
for line in sys.stdin:
    s += int.from_bytes(hashlib.md5(bytes.fromhex(line.rstrip("\n").split("\t")[1])).digest(), "big")
print("%032x" % (s % (1 << 128)))'
}

# The target's collections equal the archive's sections (count and sum recomputed from the
# server's bytes), and nothing else is there but the journal (no staging collection left).
target_is_archive() { # uri
  local ns count sum c
  while IFS=$'\t' read -r ns count sum _; do
    c=${ns#connec.}
    [ "$("$MC" count "$1" "$c")" = "$count" ] || { echo "$c: count $("$MC" count "$1" "$c") != $count" >&2; return 1; }
    [ "$(server_sum "$1" "$c")" = "$sum" ] || { echo "$c: sum differs" >&2; return 1; }
  done <"$BATS_FILE_TMPDIR/mlist"
  [ "$("$MC" colls "$1" | sort | tr '\n' ' ')" = "edge invoices lookups mno_restore_journal people sessions " ] ||
    { echo "collections: $("$MC" colls "$1" | sort | tr '\n' ' ')" >&2; return 1; }
}

setup() {
  . "$MNO_TOP/tests/lib/env.sh"
}

# An empty target database; with a schema file, its tables (no rows) created in it.
new_target() { # suffix [schema.sql]
  local u
  u=$(pg_newdb "restore_jobs_t${BATS_TEST_NUMBER}${1:+_$1}")
  if [ -n "${2:-}" ]; then psql -X -q -v ON_ERROR_STOP=1 -d "$u" -f "$2" >/dev/null; fi
  echo "$u"
}

# The target's tables dumped again the same way: "ns<TAB>count<TAB>sum" lines.
relist() { # uri tables...
  local u=$1; shift
  "$D/archive.sh" "$u" "$@" | mno-cat --seal - | mno-cat --list - | cut -f1-3
}

q() { psql -X -At -v ON_ERROR_STOP=1 -d "$1" -c "$2"; }

@test "restore -j: the MnoHub fixtures with -j 2 and -j 4 (--create, plain and .zst) equal the archive; the summary is -j 1's" {
  want=$(mno-cat --list "$HARCH" | cut -f1-3)
  t1=$(new_target j1)
  run mno-restore --create --target "$t1" "$HARCH"
  [ "$status" -eq 0 ]
  sum1=${output%%; *}
  for ja in "2 $HARCH" "4 $HARCHZ"; do
    j=${ja%% *} a=${ja#* }
    t=$(new_target "j$j")
    run mno-restore -j "$j" --create --target "$t" "$a"
    [ "$status" -eq 0 ]
    [ "${output%%; *}" = "$sum1" ]
    [[ "$output" == "mno-restore: restored 20 sections, "*" records; "*" read ("*" from the input) in "*" s into $t" ]]
    [ "$(q "$t" "SELECT count(*) FROM mno_migrate.journal")" = 20 ]
    # every table hashed in the server equals the archive
    run mno-verify --archive "$a" --target "$t"
    [ "$status" -eq 0 ]
  done
  # and dumped again the same way as the source: the same records
  [ "$(relist "$t" $HTABLES)" = "$want" ]
  run mno-restore -j 4 --resume --target "$t" "$HARCHZ"
  [ "$status" -eq 0 ]
  [[ "$output" == "mno-restore: restored 0 sections, 0 records; skipped 20 already restored ("*" records); "* ]]
}

@test "restore -j: -j 3 into the schema with its foreign keys (no --create): parents commit before children" {
  t=$(new_target "" "$BATS_FILE_TMPDIR/hub-schema.sql")
  [ "$(q "$t" "SELECT count(*) FROM pg_constraint WHERE contype = 'f'")" -ge 5 ]
  run mno-restore -j 3 --target "$t" "$HARCHZ"
  [ "$status" -eq 0 ]
  run mno-verify --archive "$HARCHZ" --target "$t"
  [ "$status" -eq 0 ]
  # the edge tables: users has a foreign key to tenants; with --progress one row per section
  t=$(new_target e "$BATS_FILE_TMPDIR/edge-schema.sql")
  run mno-restore -j 3 --progress --target "$t" "$ARCH"
  [ "$status" -eq 0 ]
  [ "${#lines[@]}" -eq 5 ]
  # each row numbers the section by its place in the archive
  for l in "[1] public.tenants: 3 rows, 486 B, " "[2] public.users: 120 rows, 25.5 KiB, " "[3] public.orga_relations: 120 rows, " "[4] public.edge: 4 rows, "; do
    printf '%s\n' "${lines[@]}" | grep -qF -- "$l"
  done
  [ "$(printf '%s\n' "${lines[@]}" | grep -n 'public.tenants:' | cut -d: -f1)" -lt "$(printf '%s\n' "${lines[@]}" | grep -n 'public.users:' | cut -d: -f1)" ]
  [[ "${lines[4]}" == "mno-restore: restored 4 sections, 247 records; "* ]]
  [ "$(relist "$t" $TABLES)" = "$(mno-cat --list "$ARCH" | cut -f1-3)" ]
}

@test "restore -j: --create into a new schema, four connections at once creating it and the journal, five times" {
  sed 's/"ns":"public\./"ns":"crm./' "$ARCH" | mno-cat --seal -o "$BATS_TEST_TMPDIR/crm.mnoa" -
  [ "$(mno-cat --list "$BATS_TEST_TMPDIR/crm.mnoa" | cut -f1 | tr '\n' ' ')" = "crm.tenants crm.users crm.orga_relations crm.edge " ]
  for i in 1 2 3 4 5; do
    t=$(new_target "s$i")
    run mno-restore -j 4 --create --target "$t" "$BATS_TEST_TMPDIR/crm.mnoa"
    [ "$status" -eq 0 ] || { echo "run $i: $output" >&2; false; }
    [ "$(q "$t" "SELECT count(*) FROM mno_migrate.journal")" = 4 ]
    [ "$(q "$t" "SELECT count(*) FROM crm.users")" = 120 ]
  done
  run mno-verify --archive "$BATS_TEST_TMPDIR/crm.mnoa" --target "$t"
  [ "$status" -eq 0 ]
}

@test "restore -j: stdin and a bad N are refused, exit 2" {
  t=$(new_target)
  run bash -c "mno-restore -j 2 --target '$t' - <'$ARCH'"
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "mno-restore: error: -j 2: parallel restore from standard input is not supported: give the archive as a FILE" ]
  run bash -c "cat '$ARCH' | mno-restore -j 2 --target '$t'"
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "mno-restore: error: -j 2: parallel restore from standard input is not supported: give the archive as a FILE" ]
  for v in 0 65 x; do
    run mno-restore -j "$v" --target "$t" "$ARCH"
    [ "$status" -eq 2 ]
    [ "${lines[0]}" = "mno-restore: error: -j: expected a number from 1 to 64" ]
  done
  # a FIFO can be read only once
  mkfifo "$BATS_TEST_TMPDIR/fifo"
  run mno-restore -j 2 --target "$t" "$BATS_TEST_TMPDIR/fifo"
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "mno-restore: error: $BATS_TEST_TMPDIR/fifo: -j 2: parallel restore needs a regular FILE (this one can be read only once): use -j 1" ]
  [ "$(q "$t" "SELECT count(*) FROM pg_tables WHERE schemaname IN ('public', 'mno_migrate')")" = 0 ]
}

@test "restore -j: a corrupt section: -j 1's message; checked first, nothing written; --no-check-first, the others journaled, --resume -j 2 finishes" {
  sed '/"uid":"usr-8"/s/User8@acme.test/evil@acme.test/' "$ARCH" >"$BATS_TEST_TMPDIR/bad.mnoa"
  t=$(new_target "" "$BATS_FILE_TMPDIR/edge-schema.sql")
  run mno-restore -j 2 --target "$t" "$BATS_TEST_TMPDIR/bad.mnoa"
  [ "$status" -eq 2 ]
  [[ "${lines[0]}" == "mno-restore: error: $BATS_TEST_TMPDIR/bad.mnoa:128: section public.users: sum mismatch: end line says "*", computed "* ]]
  [ "${#lines[@]}" -eq 1 ]
  [ "$(q "$t" "SELECT (SELECT count(*) FROM public.tenants) + (SELECT count(*) FROM public.users) + (SELECT count(*) FROM public.edge)")" = 0 ]
  [ "$(q "$t" "SELECT to_regclass('mno_migrate.journal') IS NULL")" = t ]
  # the same text as -j 1 gives, section by section
  t1=$(new_target a "$BATS_FILE_TMPDIR/edge-schema.sql")
  run mno-restore --no-check-first --target "$t1" "$BATS_TEST_TMPDIR/bad.mnoa"
  want=${lines[0]}
  run mno-restore -j 2 --no-check-first --target "$t" "$BATS_TEST_TMPDIR/bad.mnoa"
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "$want" ]
  [[ "${lines[1]}" =~ ^"mno-restore: section public.users rolled back: nothing of it was written; "[0-3]" other section"s?" restored".*" (journaled: --resume finishes)"$ ]]
  [ "$(q "$t" "SELECT count(*) FROM public.users")" = 0 ]
  [ "$(q "$t" "SELECT count(*) FROM mno_migrate.journal WHERE ns = 'public.users'")" = 0 ]
  # what is journaled is there whole, what is not is not there at all
  for ns in public.tenants public.orga_relations public.edge; do
    j=$(q "$t" "SELECT count(*) FROM mno_migrate.journal WHERE ns = '$ns'")
    n=$(q "$t" "SELECT count(*) FROM $ns")
    if [ "$j" = 1 ]; then [ "$n" = "$(mno-cat --list "$ARCH" | awk -F'\t' -v ns="$ns" '$1 == ns {print $2}')" ]; else [ "$n" = 0 ]; fi
  done
  run mno-restore -j 2 --resume --target "$t" "$ARCH"
  [ "$status" -eq 0 ]
  [ "$(relist "$t" $TABLES)" = "$(mno-cat --list "$ARCH" | cut -f1-3)" ]
  [ "$(q "$t" "SELECT count(*) FROM mno_migrate.journal")" = 4 ]
}

@test "restore -j: a conflict in one section: refused naming the keys, that table unchanged; --resume finishes after the fix" {
  t=$(new_target "" "$BATS_FILE_TMPDIR/edge-schema.sql")
  q "$t" "INSERT INTO public.orga_relations VALUES (2, 1, 'x'), (9, 9, 'mine')"
  before=$(q "$t" "SELECT md5(string_agg(r::text, ',' ORDER BY r)) FROM public.orga_relations r")
  run mno-restore -j 2 --target "$t" "$ARCH"
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "mno-restore: error: $ARCH:250: section public.orga_relations: refused: 1 key of the archive is already in the target table: (organization_id=2, user_id=1); nothing of this section was written" ]
  [ "$(q "$t" "SELECT md5(string_agg(r::text, ',' ORDER BY r)) FROM public.orga_relations r")" = "$before" ]
  q "$t" "DELETE FROM public.orga_relations WHERE organization_id = 2"
  run mno-restore -j 2 --resume --target "$t" "$ARCH"
  [ "$status" -eq 0 ]
  [ "$(q "$t" "SELECT count(*) FROM public.orga_relations")" = 121 ]
  [ "$(q "$t" "SELECT count(*) FROM mno_migrate.journal")" = 4 ]
  [ "$(relist "$t" public.tenants public.users public.edge)" = "$(mno-cat --list "$ARCH" | cut -f1-3 | grep -v orga_relations)" ]
}

@test "restore -j: kill -9 at several points with -j 2, then --resume -j 2: the target equals the archive, nothing twice" {
  want=$(mno-cat --list "$ARCH" | cut -f1-3)
  n=0
  for point in public.tenants:commit public.users:60 public.orga_relations:end public.edge:2; do
    n=$((n + 1))
    t=$(new_target "k$n" "$BATS_FILE_TMPDIR/edge-schema.sql")
    run env MNO_TEST_RESTORE_KILL=$point mno-restore -j 2 --target "$t" --quiet "$PARCHZ"
    [ "$status" -eq 137 ]
    run mno-restore -j 2 --target "$t" --resume --quiet "$PARCHZ"
    [ "$status" -eq 0 ]
    [ "$(relist "$t" $TABLES)" = "$want" ]
    [ "$(q "$t" "SELECT count(*) FROM mno_migrate.journal")" = 4 ]
  done
}

@test "restore -j mongo: -j 2 (plain) and -j 4 (.zst) with --create equal the archive; the summary is -j 1's" {
  t=$(mongo_newdb restore_jobs_m1)
  run mno-restore --create --target "$t" "$MARCH"
  [ "$status" -eq 0 ]
  sum1=${output%%; *}
  for ja in "2 $MARCH" "4 $MARCHZ"; do
    t=$(mongo_newdb "restore_jobs_m1_${ja%% *}")
    run mno-restore -j "${ja%% *}" --create --target "$t" "${ja#* }"
    [ "$status" -eq 0 ]
    [ "${output%%; *}" = "$sum1" ]
    [[ "$output" == "mno-restore: restored 5 sections, "* ]]
    target_is_archive "$t"
    [ "$("$MC" command "$t" '{"listIndexes":"people","cursor":{}}' | jq -r '[.cursor.firstBatch[].name] | sort | join(" ")')" = "_id_ code_1" ]
  done
}

@test "restore -j mongo: kill -9 at several points with -j 2, then --resume -j 2: the target equals the archive" {
  for at in connec.invoices:commit connec.people:150 connec.lookups:end; do
    t=$(mongo_newdb restore_jobs_m2)
    run env MNO_TEST_RESTORE_KILL=$at mno-restore -j 2 --quiet --create --target "$t" "$MARCHZ"
    [ "$status" -eq 137 ] || { echo "$at: status $status: $output" >&2; false; }
    run mno-restore -j 2 --quiet --create --resume --target "$t" "$MARCHZ"
    [ "$status" -eq 0 ] || { echo "$at: $output" >&2; false; }
    target_is_archive "$t" || { echo "after a kill at $at" >&2; false; }
    [ "$("$MC" command "$t" '{"find":"mno_restore_journal","filter":{}}' | jq -r '.cursor.firstBatch | length')" = 5 ]
  done
}

@test "restore -j mongo: a conflict in one collection with -j 2: refused naming the _id, that collection unchanged; --resume finishes" {
  t=$(mongo_newdb restore_jobs_m3)
  jq -c 'select(.code == "PE7") | .status = "CHANGED"' "$BATS_FILE_TMPDIR/people.jsonl" | "$MC" insert "$t" people >/dev/null
  before=$("$MC" hex "$t" people)
  id7=$(jq -r 'select(.code == "PE7") | ._id' "$BATS_FILE_TMPDIR/people.jsonl")
  end=$(grep -n '"t":"end","ns":"connec.people"' "$MARCH" | cut -d: -f1)
  run mno-restore -j 2 --create --target "$t" "$MARCH"
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "mno-restore: error: $MARCH:$end: section connec.people: conflict: 1 document already in the target collection 'people' differs from the archive: _id=\"$id7\"; refusing to overwrite (nothing of this section was written)" ]
  [[ "${lines[1]}" == "mno-restore: section connec.people rolled back: nothing of it was written; "* ]]
  [ "$("$MC" hex "$t" people)" = "$before" ]
  # the fix: the target's own version goes; --resume restores the rest, the journaled ones skipped
  "$MC" command "$t" "{\"delete\":\"people\",\"deletes\":[{\"q\":{\"_id\":\"$id7\"},\"limit\":1}]}" >/dev/null
  run mno-restore -j 2 --create --resume --target "$t" "$MARCH"
  [ "$status" -eq 0 ]
  target_is_archive "$t"
}

@test "restore -j mongo: a corrupt section with -j 2: -j 1's message, not applied; --resume -j 2 with a good archive finishes" {
  t=$(mongo_newdb restore_jobs_m4)
  sed 's/"INV-0007"/"INV-0008"/' "$MARCH" >"$BATS_TEST_TMPDIR/bad.mnoa"
  end=$(grep -n '"t":"end","ns":"connec.invoices"' "$MARCH" | cut -d: -f1)
  sum=$(awk -F'\t' '$1 == "connec.invoices" {print $3}' "$BATS_FILE_TMPDIR/mlist")
  # checked whole first: nothing at all
  run mno-restore -j 2 --quiet --create --target "$t" "$BATS_TEST_TMPDIR/bad.mnoa"
  [ "$status" -eq 2 ]
  [[ "$output" == "mno-restore: error: $BATS_TEST_TMPDIR/bad.mnoa:$end: section connec.invoices: sum mismatch: end line says $sum, computed "* ]]
  [ -z "$("$MC" colls "$t")" ]
  # section by section: the same first line; the invoices never applied, the rest journaled or absent
  run mno-restore -j 2 --no-check-first --quiet --create --target "$t" "$BATS_TEST_TMPDIR/bad.mnoa"
  [ "$status" -eq 2 ]
  [[ "${lines[0]}" == "mno-restore: error: $BATS_TEST_TMPDIR/bad.mnoa:$end: section connec.invoices: sum mismatch: end line says $sum, computed "* ]]
  [[ "${lines[1]}" == "mno-restore: section connec.invoices rolled back: nothing of it was written; "* ]]
  [ "$("$MC" count "$t" invoices)" = 0 ]
  run mno-restore -j 2 --quiet --create --resume --target "$t" "$MARCHZ"
  [ "$status" -eq 0 ]
  target_is_archive "$t"
}
