#!/usr/bin/env bats
# 40-restore-pg.bats: mno-restore into PostgreSQL: round trips of every edge value, pipes,
# corrupt and truncated archives, conflicts, --create, --dry-run, the journal and --resume
# after kill -9 at many points, sequences. Archives are written independently of mno-dump
# (40-restore-pg/archive.sh: psql prints the values, mno-cat --seal sums them), and every
# restored target is read back: dumped again the same way, and hashed in the server by mno-verify.

setup_file() {
  export MNO_TOP=${MNO_TOP:-$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}
  export PATH="$MNO_BIN:$PATH"
  . "$MNO_TOP/tests/lib/env.sh"
  export D=$BATS_TEST_DIRNAME/40-restore-pg
  export SRC; SRC=$(pg_newdb restore_pg_src)
  psql -X -q -v ON_ERROR_STOP=1 -d "$SRC" -f "$D/edge.sql"
  export TABLES="public.tenants public.users public.orga_relations public.edge"
  export ARCH=$BATS_FILE_TMPDIR/hub.mnoa.zst
  "$D/archive.sh" "$SRC" $TABLES >"$BATS_FILE_TMPDIR/hub.raw"
  mno-cat --seal -o "$ARCH" "$BATS_FILE_TMPDIR/hub.raw"
  export PLAIN=$BATS_FILE_TMPDIR/hub.mnoa
  mno-cat "$ARCH" >"$PLAIN"
  export AID; AID=$(mno-cat --header "$ARCH" | jq -r .id)
  # the source's schema without its rows: a target the tables already exist in
  pg_dump -s -d "$SRC" >"$BATS_FILE_TMPDIR/schema.sql"
}

setup() {
  . "$MNO_TOP/tests/lib/env.sh"
}

# An empty target database; with "schema" the source's tables (no rows) are created in it.
new_target() {
  local u
  u=$(pg_newdb "restore_pg_t${BATS_TEST_NUMBER}${1:+_$1}")
  if [ "${2:-}" = schema ]; then psql -X -q -v ON_ERROR_STOP=1 -d "$u" -f "$BATS_FILE_TMPDIR/schema.sql" >/dev/null; fi
  echo "$u"
}

# The sections of the target, dumped again the same way: "ns<TAB>count<TAB>sum" lines.
relist() {
  "$D/archive.sh" "$1" $TABLES | mno-cat --seal - | mno-cat --list - | cut -f1-3
}

q() { psql -X -At -v ON_ERROR_STOP=1 -d "$1" -c "$2"; }

@test "restore pg: into existing empty tables, the target dumps to the same records and sums" {
  t=$(new_target "" schema)
  run mno-restore --target "$t" "$ARCH"
  [ "$status" -eq 0 ]
  [[ "$output" == "mno-restore: restored 4 sections, 247 records; "*" read ("*" from the input) in "*" s into $t" ]]
  [ "$(relist "$t")" = "$(mno-cat --list "$ARCH" | cut -f1-3)" ]
  run mno-verify --archive "$ARCH" --target "$t"
  [ "$status" -eq 0 ]
  # every edge value read back by the server equals the source's
  [ "$(q "$t" "SELECT md5(string_agg(e::text, '|' ORDER BY id)) FROM public.edge e")" = \
    "$(q "$SRC" "SELECT md5(string_agg(e::text, '|' ORDER BY id)) FROM public.edge e")" ]
  [ "$(q "$t" "SELECT t FROM public.edge WHERE id = 4")" = '\.' ]
  [ "$(q "$t" "SELECT by FROM public.edge WHERE id = 1")" = '\x00ff5c0a' ]
  # the plain indexes were rebuilt after the load: the same definitions, valid
  idx="SELECT string_agg(indexdef, E'\n' ORDER BY indexname) FROM pg_indexes WHERE schemaname = 'public'"
  [ "$(q "$t" "$idx")" = "$(q "$SRC" "$idx")" ]
  [ "$(q "$t" "$idx AND tablename = 'users'" | wc -l)" = 4 ]
  [ "$(q "$t" "SELECT count(*) FROM pg_index WHERE NOT indisvalid OR NOT indisready")" = 0 ]
}

@test "restore pg: --create builds missing tables from the columns and key; from a pipe" {
  t=$(new_target)
  run bash -c "cat '$ARCH' | mno-restore --target '$t' --create"
  [ "$status" -eq 0 ]
  [ "$(relist "$t")" = "$(mno-cat --list "$ARCH" | cut -f1-3)" ]
  [ "$(q "$t" "SELECT string_agg(a.attname, ',' ORDER BY a.attnum) FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey) WHERE i.indrelid = 'public.orga_relations'::regclass AND i.indisprimary")" = organization_id,user_id ]
  [ "$(q "$t" "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'public.edge'::regclass AND attname = 'c'")" = "character(3)" ]
}

@test "restore pg: --create runs the archive's ddl (pg_dump's definition) when the archive is authenticated" {
  MNO_TEST_DDL=1 "$D/archive.sh" "$SRC" public.tenants public.users | MNO_ARCHIVE_KEY=rk mno-cat --seal -o "$BATS_TEST_TMPDIR/ddl.mnoa" -
  t=$(new_target)
  run env MNO_ARCHIVE_KEY=rk mno-restore --target "$t" --create --quiet "$BATS_TEST_TMPDIR/ddl.mnoa"
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  [ "$(q "$t" "SELECT count(*) FROM public.users")" = 120 ]
  # the unique constraint and both plain indexes of the ddl are there
  all=users_email_idx,users_pkey,users_tenant_idx,users_uid_key
  idx="SELECT string_agg(indexname, ',' ORDER BY indexname) FROM pg_indexes WHERE tablename = 'users'"
  [ "$(q "$t" "$idx")" = $all ]
  # not authenticated: without the key, or from a pipe (authenticated only at its end, after
  # the tables were made): the tables from their columns and key, and a note saying so
  note="mno-restore: note: 2 tables created from the archive's columns and key only; its ddl was not run: the archive is not authenticated (MNO_ARCHIVE_KEY, a FILE checked first) and --trust-archive was not given"
  t=$(new_target nokey)
  run mno-restore --target "$t" --create --quiet "$BATS_TEST_TMPDIR/ddl.mnoa"
  [ "$status" -eq 0 ]
  [ "$output" = "$note" ]
  [ "$(q "$t" "$idx")" = users_pkey ]
  [ "$(q "$t" "SELECT count(*) FROM public.users")" = 120 ]
  t=$(new_target pipe)
  run bash -c "cat '$BATS_TEST_TMPDIR/ddl.mnoa' | MNO_ARCHIVE_KEY=rk mno-restore --target '$t' --create --quiet -"
  [ "$status" -eq 0 ]
  [ "$output" = "$note" ]
  [ "$(q "$t" "$idx")" = users_pkey ]
  # --trust-archive: the ddl runs whatever the archive's authentication
  t=$(new_target trust)
  run mno-restore --target "$t" --create --trust-archive --quiet "$BATS_TEST_TMPDIR/ddl.mnoa"
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  [ "$(q "$t" "$idx")" = $all ]
  run mno-restore --target "$t" --trust-archive "$BATS_TEST_TMPDIR/ddl.mnoa"
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "mno-restore: error: --trust-archive goes with --create" ]
}

# hostile FILE.mnoa EDIT...: the archive $PLAIN's first section (public.tenants) with its begin
# line edited by jq (its arguments: [--arg NAME VALUE] FILTER), sealed (as one who edits an archive would) into FILE.
hostile() {
  local out=$1; shift
  { sed -n 1p "$PLAIN"; sed -n 2p "$PLAIN" | jq -c "$@"; sed -n '3,6p' "$PLAIN"
    echo '{"t":"trailer","sections":1,"count":3,"sum":"00000000000000000000000000000000"}'; } |
    mno-cat --seal -o "$BATS_TEST_TMPDIR/$out" -
}

@test "restore pg: hostile archives: --create never runs SQL from an unauthenticated archive" {
  # a ddl that creates a role: not run (the table is made from its columns)
  hostile role.mnoa '.ddl = "CREATE ROLE pwned SUPERUSER LOGIN; CREATE TABLE public.tenants (id bigint)"'
  t=$(new_target role)
  run mno-restore --target "$t" --create --quiet "$BATS_TEST_TMPDIR/role.mnoa"
  [ "$status" -eq 0 ]
  [[ "$output" == "mno-restore: note: 1 table created from the archive's columns and key only;"* ]]
  [ "$(q "$t" "SELECT count(*) FROM pg_roles WHERE rolname = 'pwned'")" = 0 ]
  [ "$(q "$t" "SELECT string_agg(name, ',' ORDER BY id) FROM public.tenants")" = 'acme,globex,in"it,e ch' ]
  # sealed with a key, read with another: the mac does not match, refused before anything is written
  MNO_ARCHIVE_KEY=k1 mno-cat --seal -o "$BATS_TEST_TMPDIR/role-k.mnoa" "$BATS_TEST_TMPDIR/role.mnoa"
  t=$(new_target rolek)
  run env MNO_ARCHIVE_KEY=k2 mno-restore --target "$t" --create --quiet "$BATS_TEST_TMPDIR/role-k.mnoa"
  [ "$status" -eq 2 ]
  [ "$output" = "mno-restore: error: $BATS_TEST_TMPDIR/role-k.mnoa:7: trailer: \"mac\" does not match MNO_ARCHIVE_KEY: the archive was changed after it was written, or written with another key" ]
  [ "$(q "$t" "SELECT count(*) FROM pg_roles WHERE rolname = 'pwned'")" = 0 ]
  [ "$(q "$t" "SELECT to_regclass('public.tenants') IS NULL")" = t ]
  # a type that closes the column list and runs a statement: refused before any SQL, naming it
  for ty in 'bigint); CREATE ROLE pwned SUPERUSER LOGIN; --' "bigint DEFAULT (SELECT 'x')" 'bigint /* x */' $'bigint\n'; do
    hostile type.mnoa --arg ty "$ty" '.columns[0].type = $ty'
    t=$(new_target type)
    run mno-restore --target "$t" --create --quiet "$BATS_TEST_TMPDIR/type.mnoa"
    [ "$status" -eq 2 ]
    pty=${ty//$'\n'/\\n} # messages escape control characters
    [ "${output%$'\n'mno-restore: section public.tenants rolled back: *}" = "mno-restore: error: $BATS_TEST_TMPDIR/type.mnoa:2: section public.tenants: --create: column \"id\": type \"$pty\" is not a type name (it holds a ; quote, comment or control character)" ]
    [ "$(q "$t" "SELECT to_regclass('public.tenants') IS NULL")" = t ]
  done
  # text the server does not take as one type name, or no such type
  hostile type.mnoa '.columns[0].type = "bigint DEFAULT pg_sleep(0)"'
  t=$(new_target type2)
  run mno-restore --target "$t" --create --quiet "$BATS_TEST_TMPDIR/type.mnoa"
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "mno-restore: error: $BATS_TEST_TMPDIR/type.mnoa:2: section public.tenants: --create: column \"id\": type \"bigint DEFAULT pg_sleep(0)\" is not a type name: syntax error at or near \"DEFAULT\"" ]
  [ "$(q "$t" "SELECT to_regclass('public.tenants') IS NULL")" = t ]
  hostile type.mnoa '.columns[0].type = "no_such_type"'
  run mno-restore --target "$t" --create --quiet "$BATS_TEST_TMPDIR/type.mnoa"
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "mno-restore: error: $BATS_TEST_TMPDIR/type.mnoa:2: section public.tenants: --create: column \"id\": type \"no_such_type\" does not exist in the target" ]
  # a type with modifiers, quoted names and an array: taken as it is
  hostile type.mnoa '.columns[1].type = "character varying(40)[]"'
  run mno-restore --target "$t" --create --quiet "$BATS_TEST_TMPDIR/type.mnoa"
  [ "$status" -eq 2 ]   # the values are not arrays: the server refuses the rows, the table is rolled back
  [ "$(q "$t" "SELECT to_regclass('public.tenants') IS NULL")" = t ]
}

@test "restore pg: hostile archives: column names with quotes and SQL are only names" {
  t=$(new_target)
  q "$t" "CREATE TABLE public.keep (x int)"
  col='a"b"); DROP TABLE public.keep; --'
  { echo '{"t":"header","format":"mnoa","version":2,"engine":"postgresql","source":"test","tenant":"acme"}'
    jq -cn --arg c "$col" '{t:"begin",ns:"public.q",columns:[{name:"id",type:"bigint"},{name:$c,type:"text"}],key:["id"]}'
    jq -cn --arg c "$col" '{t:"rec",ns:"public.q",v:{id:"1",($c):"v1"}}'
    jq -cn --arg c "$col" '{t:"rec",ns:"public.q",v:{id:"2",($c):null}}'
    echo '{"t":"end","ns":"public.q","count":0,"sum":"00000000000000000000000000000000"}'
    echo '{"t":"trailer","sections":1,"count":0,"sum":"00000000000000000000000000000000"}'; } |
    mno-cat --seal -o "$BATS_TEST_TMPDIR/q.mnoa" -
  run mno-restore --target "$t" --create --quiet "$BATS_TEST_TMPDIR/q.mnoa"
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  [ "$(q "$t" "SELECT to_regclass('public.keep') IS NOT NULL")" = t ]
  [ "$(q "$t" "SELECT string_agg(attname, '|' ORDER BY attnum) FROM pg_attribute WHERE attrelid = 'public.q'::regclass AND attnum > 0")" = "id|$col" ]
  [ "$(q "$t" "SELECT string_agg(coalesce(q.\"a\"\"b\"\"); DROP TABLE public.keep; --\", 'NULL'), ',' ORDER BY id) FROM public.q")" = v1,NULL ]
  run mno-verify --archive "$BATS_TEST_TMPDIR/q.mnoa" --target "$t" --no-extra
  [ "$status" -eq 0 ]
}

@test "restore pg: the target's column order may differ from the archive's" {
  t=$(new_target)
  q "$t" "CREATE TABLE public.tenants (name text NOT NULL, extra text DEFAULT 'x', id bigint PRIMARY KEY)"
  mno-cat --seal -o "$BATS_TEST_TMPDIR/t.mnoa" <(sed -n '1,2p;3,5p;6p' "$PLAIN"; echo '{"t":"trailer","sections":1,"count":3,"sum":"00000000000000000000000000000000"}')
  run mno-restore --target "$t" "$BATS_TEST_TMPDIR/t.mnoa"
  [ "$status" -eq 0 ]
  [ "$(q "$t" "SELECT string_agg(format('%s|%s|%s', name, extra, id), ' ' ORDER BY id) FROM public.tenants")" = 'acme|x|1 globex|x|2 in"it,e ch|x|3' ]
}

@test "restore pg: a missing table without --create is an error naming it, nothing written" {
  t=$(new_target)
  run mno-restore --target "$t" "$ARCH"
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "mno-restore: error: $ARCH:2: section public.tenants: table public.tenants is not in the target (--create creates it from the archive)" ]
  [ "$(q "$t" "SELECT count(*) FROM pg_tables WHERE schemaname IN ('public', 'mno_migrate')")" = 0 ]
}

@test "restore pg: a FILE is checked whole first: a bad section anywhere changes nothing, exit 2" {
  t=$(new_target "" schema)
  sed '/"uid":"usr-8"/s/User8@acme.test/evil@acme.test/' "$PLAIN" >"$BATS_TEST_TMPDIR/bad.mnoa"
  run mno-restore --target "$t" "$BATS_TEST_TMPDIR/bad.mnoa"
  [ "$status" -eq 2 ]
  [[ "${lines[0]}" == "mno-restore: error: $BATS_TEST_TMPDIR/bad.mnoa:128: section public.users: sum mismatch: end line says "*", computed "* ]]
  [ "${#lines[@]}" -eq 1 ]
  [ "$(q "$t" "SELECT count(*) FROM public.tenants") $(q "$t" "SELECT count(*) FROM public.users")" = "0 0" ]
  [ "$(q "$t" "SELECT to_regclass('mno_migrate.journal') IS NULL")" = t ]
  head -n 200 "$PLAIN" >"$BATS_TEST_TMPDIR/cut.mnoa"
  run mno-restore --target "$t" "$BATS_TEST_TMPDIR/cut.mnoa"
  [ "$status" -eq 2 ]
  [ "$output" = "mno-restore: error: $BATS_TEST_TMPDIR/cut.mnoa:200: section public.orga_relations: truncated archive: no trailer" ]
  [ "$(q "$t" "SELECT count(*) FROM public.tenants") $(q "$t" "SELECT count(*) FROM public.users")" = "0 0" ]
}

@test "restore pg: a section whose sum does not match is rolled back, exit 2, the sections before stay" {
  t=$(new_target "" schema)
  # one changed value in the users section, its end line not resealed
  sed '/"uid":"usr-8"/s/User8@acme.test/evil@acme.test/' "$PLAIN" >"$BATS_TEST_TMPDIR/bad.mnoa"
  [[ "$(cmp "$PLAIN" "$BATS_TEST_TMPDIR/bad.mnoa")" == *", line 15" ]]
  run mno-restore --no-check-first --target "$t" "$BATS_TEST_TMPDIR/bad.mnoa"
  [ "$status" -eq 2 ]
  [[ "${lines[0]}" == "mno-restore: error: $BATS_TEST_TMPDIR/bad.mnoa:128: section public.users: sum mismatch: end line says "*", computed "* ]]
  [ "${lines[1]}" = "mno-restore: section public.users rolled back: nothing of it was written; 1 section before it restored (journaled: --resume finishes)" ]
  [ "$(q "$t" "SELECT count(*) FROM public.users")" = 0 ]
  [ "$(q "$t" "SELECT count(*) FROM public.tenants")" = 3 ]
  [ "$(q "$t" "SELECT string_agg(ns, ',') FROM mno_migrate.journal")" = public.tenants ]
}

@test "restore pg: a truncated archive (no trailer, section cut) writes nothing of the cut section, exit 2" {
  t=$(new_target "" schema)
  head -n 200 "$PLAIN" >"$BATS_TEST_TMPDIR/cut.mnoa"
  run mno-restore --no-check-first --target "$t" "$BATS_TEST_TMPDIR/cut.mnoa"
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "mno-restore: error: $BATS_TEST_TMPDIR/cut.mnoa:200: section public.orga_relations: truncated archive: no trailer" ]
  [ "${lines[1]}" = "mno-restore: section public.orga_relations rolled back: nothing of it was written; 2 sections before it restored (journaled: --resume finishes)" ]
  [ "$(q "$t" "SELECT count(*) FROM public.orga_relations")" = 0 ]
  [ "$(q "$t" "SELECT count(*) FROM public.users")" = 120 ]
  # --resume with the same cut archive: the two sections are skipped (journal), the cut one fails again
  run mno-restore --no-check-first --resume --target "$t" "$BATS_TEST_TMPDIR/cut.mnoa"
  [ "$status" -eq 2 ]
  [ "${lines[1]}" = "mno-restore: section public.orga_relations rolled back: nothing of it was written; 2 sections before it restored, 2 of them by an earlier run (journaled: --resume finishes)" ]
  [ "$(q "$t" "SELECT count(*) FROM public.users")" = 120 ]
  # cut inside a line: the last line is not JSON
  t1=$(new_target a schema)
  head -c 20000 "$PLAIN" >"$BATS_TEST_TMPDIR/cut2.mnoa"
  run mno-restore --target "$t1" "$BATS_TEST_TMPDIR/cut2.mnoa"
  [ "$status" -eq 2 ]
  [[ "${lines[0]}" == "mno-restore: error: $BATS_TEST_TMPDIR/cut2.mnoa:97: section public.users: truncated archive: the last line is cut short (no newline at its end): invalid JSON at column "* ]]
  [ "$(q "$t1" "SELECT count(*) FROM public.users")" = 0 ]
  # a compressed stream cut mid-frame, through a pipe
  t2=$(new_target b schema)
  run bash -c "head -c 3000 '$ARCH' | mno-restore --target '$t2' -"
  [ "$status" -eq 2 ]
  [[ "${lines[0]}" == "mno-restore: error: <stdin>:"* ]]
  [ "$(q "$t2" "SELECT count(*) FROM public.edge") $(q "$t2" "SELECT count(*) FROM public.orga_relations")" = "0 0" ]
}

@test "restore pg: existing keys -> refusal naming up to 5 keys, the table unchanged" {
  t=$(new_target "" schema)
  q "$t" "INSERT INTO public.tenants VALUES (1, 'acme'), (2, 'globex'), (3, 'in\"it,e ch')"
  q "$t" "INSERT INTO public.tenants VALUES (9, 'other')" 2>/dev/null || true
  # tenants are all there: refused; restore the rest of the archive without them
  run mno-restore --target "$t" "$ARCH"
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "mno-restore: error: $ARCH:6: section public.tenants: refused: 3 keys of the archive are already in the target table: id=1, id=2, id=3; nothing of this section was written" ]
  [ "$(q "$t" "SELECT count(*) FROM public.tenants")" = 4 ]
  # composite keys, more than 5 conflicts: 5 named, in key order
  t=$(new_target c schema)
  q "$t" "INSERT INTO public.tenants VALUES (1, 'a'), (2, 'b'), (3, 'c'); INSERT INTO public.users (id, uid) VALUES (500, 'usr-500');
          INSERT INTO public.orga_relations SELECT g % 5 + 1, g, 'x' FROM generate_series(10, 16) g"
  printf '%s\n' "$(sed -n '1p' "$PLAIN")" "$(grep -E '"ns" ?: ?"public.orga_relations"' "$PLAIN")" \
    '{"t":"trailer","sections":1,"count":0,"sum":"00000000000000000000000000000000"}' | mno-cat --seal -o "$BATS_TEST_TMPDIR/rel.mnoa" -
  before=$(q "$t" "SELECT md5(string_agg(r::text, ',' ORDER BY r)) FROM public.orga_relations r")
  run mno-restore --target "$t" "$BATS_TEST_TMPDIR/rel.mnoa"
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "mno-restore: error: $BATS_TEST_TMPDIR/rel.mnoa:123: section public.orga_relations: refused: 7 keys of the archive are already in the target table: (organization_id=1, user_id=10), (organization_id=1, user_id=15), (organization_id=2, user_id=11), (organization_id=2, user_id=16), (organization_id=3, user_id=12), ...; nothing of this section was written" ]
  [ "$(q "$t" "SELECT md5(string_agg(r::text, ',' ORDER BY r)) FROM public.orga_relations r")" = "$before" ]
  [ "$(q "$t" "SELECT to_regclass('mno_migrate.journal') IS NULL")" = t ]
}

@test "restore pg: rows of other keys already there: the section is added beside them" {
  t=$(new_target "" schema)
  q "$t" "INSERT INTO public.tenants VALUES (7, 'seven'); INSERT INTO public.users (id, uid, email) VALUES (1000, 'usr-1000', 'x@y')"
  run mno-restore --target "$t" "$ARCH"
  [ "$status" -eq 0 ]
  [ "$(q "$t" "SELECT string_agg(id::text, ',' ORDER BY id) FROM public.tenants")" = 1,2,3,7 ]
  [ "$(q "$t" "SELECT count(*) FROM public.users")" = 121 ]
  [ "$(q "$t" "SELECT md5(string_agg(u::text, ',' ORDER BY id)) FROM public.users u WHERE id <= 120")" = \
    "$(q "$SRC" "SELECT md5(string_agg(u::text, ',' ORDER BY id)) FROM public.users u")" ]
}

@test "restore pg: sequences (serial, identity) are set past the restored keys" {
  t=$(new_target "" schema)
  mno-restore --target "$t" "$ARCH" 2>/dev/null
  q "$t" "INSERT INTO public.users (uid) VALUES ('usr-new')"
  [ "$(q "$t" "SELECT id FROM public.users WHERE uid = 'usr-new'")" = 121 ]
  q "$t" "INSERT INTO public.edge (t) VALUES ('new')"
  [ "$(q "$t" "SELECT id FROM public.edge WHERE t = 'new'")" = 5 ]
  # a sequence already further on is never moved back
  t=$(new_target b schema)
  q "$t" "SELECT setval('public.users_id_seq', 5000)"
  mno-restore --target "$t" "$ARCH" 2>/dev/null
  q "$t" "INSERT INTO public.users (uid) VALUES ('usr-new')"
  [ "$(q "$t" "SELECT id FROM public.users WHERE uid = 'usr-new'")" = 5001 ]
}

@test "restore pg: --dry-run reads and checks everything, reports, writes nothing" {
  t=$(new_target "" schema)
  q "$t" "INSERT INTO public.orga_relations VALUES (2, 1, 'x'); DROP TABLE public.edge"
  run mno-restore --target "$t" --dry-run "$ARCH"
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "dry run: nothing written to $t" ]
  [ "${lines[1]}" = $'public.tenants\t3\texists, 0 rows: would be written' ]
  [ "${lines[2]}" = $'public.users\t120\texists, 0 rows: would be written' ]
  [ "${lines[3]}" = $'public.orga_relations\t120\twould fail: 1 key of the archive is already in the target table: (organization_id=2, user_id=1)' ]
  [ "${lines[4]}" = $'public.edge\t4\twould fail: table public.edge is not in the target (--create creates it from the archive)' ]
  [ "${lines[5]}" = "mno-restore: error: $ARCH:250: section public.orga_relations: 1 key of the archive is already in the target table: (organization_id=2, user_id=1)" ]
  [ "$(q "$t" "SELECT (SELECT count(*) FROM public.tenants) + (SELECT count(*) FROM public.users)")" = 0 ]
  [ "$(q "$t" "SELECT to_regclass('mno_migrate.journal') IS NULL")" = t ]
  # a corrupt archive fails the dry run like the restore
  sed '/"uid":"usr-8"/s/User8/User9/' "$PLAIN" >"$BATS_TEST_TMPDIR/bad.mnoa"
  run mno-restore --target "$t" --dry-run --quiet "$BATS_TEST_TMPDIR/bad.mnoa"
  [ "$status" -eq 2 ]
  [[ "$output" == "mno-restore: error: $BATS_TEST_TMPDIR/bad.mnoa:128: section public.users: sum mismatch: "* ]]
}

@test "restore pg: --dry-run --create on an empty database, and on a restored one" {
  t=$(new_target)
  run mno-restore --target "$t" --dry-run --create "$ARCH"
  [ "$status" -eq 0 ]
  [ "${lines[1]}" = $'public.tenants\t3\tmissing: would be created (--create)' ]
  [ "${lines[4]}" = $'public.edge\t4\tmissing: would be created (--create)' ]
  [ "${lines[5]}" = "mno-restore: checked 4 sections, 247 records; ${lines[5]#*records; }" ]
  [ "$(q "$t" "SELECT count(*) FROM pg_tables WHERE schemaname <> 'pg_catalog' AND schemaname <> 'information_schema'")" = 0 ]
  mno-restore --target "$t" --create --quiet "$ARCH"
  run mno-restore --target "$t" --dry-run "$ARCH"
  [ "$status" -eq 0 ]
  [ "${lines[1]}" = $'public.tenants\t3\talready restored from this archive (journal): skipped with --resume' ]
}

@test "restore pg: the journal: one row per section, in the target; a second run is refused" {
  t=$(new_target "" schema)
  mno-restore --target "$t" --quiet "$ARCH"
  [ "$(q "$t" "SELECT string_agg(format('%s %s %s %s', archive_id, ns, count, sum), E'\n' ORDER BY restored_at, ns) FROM mno_migrate.journal")" = \
    "$(mno-cat --list "$ARCH" | awk -F'\t' -v id="$AID" '{print id, $1, $2, $3}' | sort -k2)" ] || \
  [ "$(q "$t" "SELECT string_agg(format('%s %s %s %s', archive_id, ns, count, sum), E'\n' ORDER BY ns) FROM mno_migrate.journal")" = \
    "$(mno-cat --list "$ARCH" | awk -F'\t' -v id="$AID" '{print id, $1, $2, $3}' | sort -k2)" ]
  run mno-restore --target "$t" "$ARCH"
  [ "$status" -eq 2 ]
  [ "$output" = "mno-restore: error: $ARCH:2: section public.tenants: already restored from this archive (id $AID) into the target: rerun with --resume to finish an interrupted restore" ]
  run mno-restore --target "$t" --resume "$ARCH"
  [ "$status" -eq 0 ]
  [[ "$output" == "mno-restore: restored 0 sections, 0 records; skipped 4 already restored (247 records); "* ]]
  [ "$(relist "$t")" = "$(mno-cat --list "$ARCH" | cut -f1-3)" ]
}

@test "restore pg: kill -9 at many points, then --resume: the target equals the archive" {
  want=$(mno-cat --list "$ARCH" | cut -f1-3)
  n=0
  for point in public.tenants:0 public.tenants:end public.tenants:commit public.users:1 public.users:60 \
               public.users:end public.orga_relations:119 public.orga_relations:commit public.edge:2 public.edge:end; do
    n=$((n + 1))
    t=$(new_target "k$n" schema)
    run env MNO_TEST_RESTORE_KILL=$point mno-restore --target "$t" --quiet "$ARCH"
    [ "$status" -eq 137 ]
    run mno-restore --target "$t" --resume --quiet "$ARCH"
    [ "$status" -eq 0 ]
    [ "$(relist "$t")" = "$want" ]
    [ "$(q "$t" "SELECT count(*) FROM mno_migrate.journal")" = 4 ]
  done
}

@test "restore pg: a real kill -9 of a restore reading a slow pipe, then --resume" {
  t=$(new_target "" schema)
  fifo=$BATS_TEST_TMPDIR/fifo
  mkfifo "$fifo"
  # the archive up to the middle of the users section, then the writer waits
  ( head -n 70 "$PLAIN"; sleep 30 ) >"$fifo" &
  writer=$!
  mno-restore --target "$t" --quiet "$fifo" &
  pid=$!
  # wait until the tenants section is committed and the users rows are on their way
  for i in $(seq 1 100); do
    [ "$(q "$t" "SELECT count(*) FROM mno_migrate.journal" 2>/dev/null)" = 1 ] && break
    sleep 0.1
  done
  sleep 0.3
  kill -9 "$pid"
  wait "$pid" || true
  kill "$writer" 2>/dev/null || true
  wait "$writer" 2>/dev/null || true
  [ "$(q "$t" "SELECT count(*) FROM public.users")" = 0 ]
  [ "$(q "$t" "SELECT count(*) FROM public.tenants")" = 3 ]
  run mno-restore --target "$t" --resume "$ARCH"
  [ "$status" -eq 0 ]
  [[ "$output" == "mno-restore: restored 3 sections, 244 records; skipped 1 already restored (3 records); "* ]]
  [ "$(relist "$t")" = "$(mno-cat --list "$ARCH" | cut -f1-3)" ]
}

@test "restore pg: --resume with a journal that disagrees with the archive is an error" {
  t=$(new_target "" schema)
  mno-restore --target "$t" --quiet "$ARCH"
  q "$t" "UPDATE mno_migrate.journal SET count = 119 WHERE ns = 'public.users'"
  run mno-restore --target "$t" --resume "$ARCH"
  [ "$status" -eq 2 ]
  [[ "$output" == "mno-restore: error: $ARCH:128: section public.users: the target's restore journal says 119 records, sum "*", but the archive has 120, sum "* ]]
}

@test "restore pg: a row the server rejects names its archive line; nothing of the section written" {
  t=$(new_target "" schema)
  q "$t" "ALTER TABLE public.users ADD CONSTRAINT no_user7 CHECK (uid <> 'usr-7')"
  run mno-restore --target "$t" "$ARCH"
  [ "$status" -eq 2 ]
  [[ "${lines[0]}" == "mno-restore: error: $ARCH:14: section public.users: record rejected by the server: new row for relation \"users\" violates check constraint \"no_user7\""* ]]
  [ "$(q "$t" "SELECT count(*) FROM public.users")" = 0 ]
}

@test "restore pg: options: MNO_TARGET, -j, no target, the password never printed" {
  t=$(new_target "" schema)
  run env MNO_TARGET="$t" mno-restore --quiet "$ARCH"
  [ "$status" -eq 0 ]
  [ "$output" = "" ]
  # --progress on a pipe: one row per section, then the summary
  t2=$(new_target p schema)
  run mno-restore --progress --target "$t2" "$ARCH"
  [ "$status" -eq 0 ]
  [ "${#lines[@]}" -eq 5 ]
  # (the section's bytes: begin, records and end line, its begin_sha256 included)
  [[ "${lines[0]}" == "[1] public.tenants: 3 rows, 486 B, "*" s, "*" rows/s" ]]
  [[ "${lines[1]}" == "[2] public.users: 120 rows, 25.5 KiB, "* ]]
  [[ "${lines[3]}" == "[4] public.edge: 4 rows, "* ]]
  [[ "${lines[4]}" == "mno-restore: restored 4 sections, 247 records; "* ]]
  run bash -c "mno-restore -j 4 --target '$t' - <'$ARCH'"
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "mno-restore: error: -j 4: parallel restore from standard input is not supported: give the archive as a FILE" ]
  run env -u MNO_TARGET mno-restore "$ARCH"
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "mno-restore: error: no target: give --target URI or set MNO_TARGET" ]
  run mno-restore --target "$t" --bogus "$ARCH"
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "mno-restore: error: unknown option '--bogus'" ]
  secret=${MNO_TEST_PG_SECRET_URI%/postgres}/restore_pg_t${BATS_TEST_NUMBER}
  run mno-restore --target "$secret" "$ARCH"
  [ "$status" -eq 2 ]
  [[ "$output" != *"$MNO_TEST_PG_PASSWORD"* ]]
  [[ "$output" == *"already restored from this archive"* ]]
  run mno-restore --target "${secret}x" "$ARCH"
  [ "$status" -eq 2 ]
  [[ "$output" != *"$MNO_TEST_PG_PASSWORD"* ]]
  [[ "$output" == *"cannot connect to postgresql"* ]]
}

@test "restore pg: the MnoHub fixtures (every tenant, every edge value) round-trip, --create and into the schema" {
  hub=$(pg_newdb restore_pg_hub)
  "$MNO_TOP/tests/fixtures/load" mnohub "$hub"
  # every table, in creation order (parents before children)
  tables=$(q "$hub" "SELECT string_agg(c.oid::regclass::text, ' ' ORDER BY c.oid) FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r'")
  tables=$(for x in $tables; do echo "public.${x#public.}"; done)
  "$D/archive.sh" "$hub" $tables | mno-cat --seal -o "$BATS_TEST_TMPDIR/hub.mnoa.zst" -
  want=$(mno-cat --list "$BATS_TEST_TMPDIR/hub.mnoa.zst" | cut -f1-3)
  t=$(new_target a)
  pg_dump -s -d "$hub" | psql -X -q -v ON_ERROR_STOP=1 -d "$t" >/dev/null
  run mno-restore --target "$t" "$BATS_TEST_TMPDIR/hub.mnoa.zst"
  [ "$status" -eq 0 ]
  [ "$("$D/archive.sh" "$t" $tables | mno-cat --seal - | mno-cat --list - | cut -f1-3)" = "$want" ]
  run mno-verify --archive "$BATS_TEST_TMPDIR/hub.mnoa.zst" --target "$t"
  [ "$status" -eq 0 ]
  t=$(new_target b)
  run bash -c "mno-cat '$BATS_TEST_TMPDIR/hub.mnoa.zst' | mno-restore --create --target '$t'"
  [ "$status" -eq 0 ]
  [ "$("$D/archive.sh" "$t" $tables | mno-cat --seal - | mno-cat --list - | cut -f1-3)" = "$want" ]
}

@test "restore pg: GENERATED ALWAYS identity keys, beside existing rows; the sequence moves past them" {
  a=$(pg_newdb restore_pg_always_src)
  q "$a" "CREATE TABLE public.things (id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v text);
          INSERT INTO public.things (v) SELECT 'v' || g FROM generate_series(1, 30) g"
  "$D/archive.sh" "$a" public.things | mno-cat --seal -o "$BATS_TEST_TMPDIR/things.mnoa" -
  t=$(new_target)
  q "$t" "CREATE TABLE public.things (id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v text);
          INSERT INTO public.things (id, v) OVERRIDING SYSTEM VALUE VALUES (100, 'mine')"
  run mno-restore --target "$t" "$BATS_TEST_TMPDIR/things.mnoa"
  [ "$status" -eq 0 ]
  [ "$(q "$t" "SELECT count(*), sum(id) FROM public.things")" = "31|565" ]
  q "$t" "INSERT INTO public.things (v) VALUES ('next')"
  [ "$(q "$t" "SELECT id FROM public.things WHERE v = 'next'")" = 101 ]
  # into an empty one
  t=$(new_target b)
  q "$t" "CREATE TABLE public.things (id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v text)"
  mno-restore --target "$t" --quiet "$BATS_TEST_TMPDIR/things.mnoa"
  q "$t" "INSERT INTO public.things (v) VALUES ('next')"
  [ "$(q "$t" "SELECT id FROM public.things WHERE v = 'next'")" = 31 ]
}

@test "restore pg: a row rejected deep in a large section (the server stops the COPY early) names its line" {
  t=$(new_target)
  q "$t" "CREATE TABLE public.big (id bigint PRIMARY KEY, pad text CHECK (id <> 5))"
  { echo '{"t":"header","format":"mnoa","version":1,"engine":"postgresql"}'
    echo '{"t":"begin","ns":"public.big","columns":[{"name":"id","type":"bigint"},{"name":"pad","type":"text"}],"key":["id"]}'
    seq 1 40000 | awk '{ printf "{\"t\":\"rec\",\"ns\":\"public.big\",\"v\":{\"id\":\"%d\",\"pad\":\"%0100d\"}}\n", $1, $1 }'
    echo '{"t":"end","ns":"public.big","count":0,"sum":"00000000000000000000000000000000"}'
    echo '{"t":"trailer","sections":1,"count":0,"sum":"00000000000000000000000000000000"}'; } | mno-cat --seal -o "$BATS_TEST_TMPDIR/big.mnoa" -
  run mno-restore --target "$t" "$BATS_TEST_TMPDIR/big.mnoa"
  [ "$status" -eq 2 ]
  [[ "${lines[0]}" == "mno-restore: error: $BATS_TEST_TMPDIR/big.mnoa:7: section public.big: record rejected by the server: new row for relation \"big\" violates check constraint \"big_id_check\""* ]]
  [ "$(q "$t" "SELECT count(*) FROM public.big")" = 0 ]
}

@test "restore pg: a begin line or header edited without re-seal is refused (check pass, -j, stdin), nothing written" {
  d=$BATS_TEST_TMPDIR
  was=$(sed -n 2p "$PLAIN" | tr -d '\n' | sha256sum | cut -d' ' -f1)
  end=$(grep -n '"t":"end","ns":"public.tenants"' "$PLAIN" | cut -d: -f1)
  sed '2s/"key":\["id"\]}/"key":["id"],"ddl":"CREATE ROLE pwned SUPERUSER LOGIN; CREATE TABLE public.tenants (id bigint, name text)"}/' "$PLAIN" >"$d/e.mnoa"
  now=$(sed -n 2p "$d/e.mnoa" | tr -d '\n' | sha256sum | cut -d' ' -f1)
  msg="$d/e.mnoa:$end: section public.tenants: begin line digest mismatch: end line says $was, computed $now (the begin line was changed; mno-cat --seal accepts a deliberate edit)"
  run --separate-stderr mno-cat --check "$d/e.mnoa"
  [ "$status" -eq 2 ]
  [ "$stderr" = "mno-cat: error: $msg" ]
  for j in 1 2; do
    t=$(new_target "j$j")
    run mno-restore --target "$t" --create --trust-archive -j $j "$d/e.mnoa"
    [ "$status" -eq 2 ]
    [ "${lines[0]}" = "mno-restore: error: $msg" ]
    [ "$(q "$t" "SELECT count(*) FROM pg_roles WHERE rolname = 'pwned'")" = 0 ]
    [ "$(q "$t" "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")" = 0 ]
  done
  # from a pipe the section is rolled back at its end line (its ddl, with --trust-archive, ran
  # inside the section's transaction and is undone with it)
  t=$(new_target pipe)
  run bash -c "cat '$d/e.mnoa' | mno-restore --target '$t' --create --trust-archive -"
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "mno-restore: error: <stdin>:$end: section public.tenants: begin line digest mismatch: end line says $was, computed $now (the begin line was changed; mno-cat --seal accepts a deliberate edit)" ]
  [ "$(q "$t" "SELECT count(*) FROM pg_roles WHERE rolname = 'pwned'")" = 0 ]
  # the header
  h=$(head -n 1 "$PLAIN" | tr -d '\n' | sha256sum | cut -d' ' -f1)
  sed '1s/"tenant":"acme"/"tenant":"evil"/' "$PLAIN" >"$d/h.mnoa"
  hh=$(head -n 1 "$d/h.mnoa" | tr -d '\n' | sha256sum | cut -d' ' -f1)
  t=$(new_target h)
  run mno-restore --target "$t" --create "$d/h.mnoa"
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "mno-restore: error: $d/h.mnoa:$(wc -l <"$PLAIN"): trailer: header digest mismatch: trailer says $h, computed $hh (the header was changed; mno-cat --seal accepts a deliberate edit)" ]
  [ "$(q "$t" "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")" = 0 ]
}

@test "restore pg: a version 1 archive (no digests) still restores" {
  sed -E '1s/"version":2/"version":1/; s/,"(begin|header)_sha256":"[0-9a-f]{64}"//' "$PLAIN" >"$BATS_TEST_TMPDIR/v1.mnoa"
  ! grep -q sha256 "$BATS_TEST_TMPDIR/v1.mnoa"
  t=$(new_target)
  run mno-restore --target "$t" --create --quiet "$BATS_TEST_TMPDIR/v1.mnoa"
  [ "$status" -eq 0 ]
  [ "$(relist "$t")" = "$(mno-cat --list "$ARCH" | cut -f1-3)" ]
  run mno-verify --archive "$BATS_TEST_TMPDIR/v1.mnoa" --target "$t"
  [ "$status" -eq 0 ]
}
