#!/usr/bin/env bats
# 22-hard-names.bats: tables with hard names (tests/fixtures/hard_names.sql: a schema with a dot,
# spaces, quotes, uppercase, non-ASCII, reserved words, a 63-byte name, inheritance, a table
# without columns) dump with a scope naming them quoted, restore with --create and into a
# schema made first, verify ok, and equal the source table by table (read back with psql).

setup_file() {
  export MNO_TOP=${MNO_TOP:-$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}
  export PATH="$MNO_BIN:$PATH"
  . "$MNO_TOP/tests/lib/env.sh"
  export FX=$MNO_TOP/tests/fixtures
  export HSRC; HSRC=$(pg_newdb hard_names_src)
  psql -X -q -v ON_ERROR_STOP=1 -d "$HSRC" -f "$FX/hard_names.sql"
  export HALL=$BATS_FILE_TMPDIR/all.mnoa
  mno-dump --quiet --source "$HSRC" --scope "$FX/hard_names.scope" --all -o "$HALL"
  pg_dump -s -d "$HSRC" >"$BATS_FILE_TMPDIR/schema.sql"
}

setup() {
  . "$MNO_TOP/tests/lib/env.sh"
  cd "$BATS_TEST_TMPDIR"
}

q() { psql -X -At -v ON_ERROR_STOP=1 -d "$1" -c "$2"; }

# Every user table of database $1, one line each: "schema.table<TAB>rows<TAB>md5 of its own rows".
tables() {
  local u=$1 s t
  q "$u" "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'mno_migrate')
          AND n.nspname NOT LIKE 'pg\_%' ORDER BY 1, 2" |
  while IFS='|' read -r s t; do
    printf '%s.%s\t%s\n' "$s" "$t" "$(q "$u" "SELECT count(*) || ' ' || coalesce(md5(string_agg(x::text, '|' ORDER BY x::text)), '-')
                                             FROM ONLY $(q "$u" "SELECT quote_ident('$s') || '.' || quote_ident('${t//\'/\'\'}')") x")"
  done
}

@test "hard names: dump --all names every table in the ns form (quoted parts), parents hold their own rows only" {
  run mno-cat --list "$HALL"
  [ "$status" -eq 0 ]
  long=t$(printf 'x%.0s' $(seq 61))z
  [ "$(cut -f1,2 <<<"$output")" = "$(printf '%s\n' 'public."a.b"	2' 'public."q""uote"	1' 'public.nocols	3' \
      'public.tenants	2' '"Schéma Ünï"."Tâble.Ünï"	2' '"my.schema".t	3' '"Other Schema"."T"	3' \
      'public."With Space"	2' 'public.child	3' 'public.parent	2' 'public.select	2' "public.$long	2")" ]
  # a table without columns: a section with no columns, its rows counted
  [ "$(mno-cat "$HALL" | jq -c 'select(.t == "begin" and .ns == "public.nocols") | .columns')" = "[]" ]
}

@test "hard names: restore --create into a fresh database, verify ok, every table equal to the source" {
  t=$(pg_newdb hard_names_create)
  run mno-restore --target "$t" --create "$HALL"
  [ "$status" -eq 0 ]
  run mno-verify --archive "$HALL" --target "$t"
  [ "$status" -eq 0 ]
  [ "${lines[-1]}" = "verdict: ok: 12 of 12 tables match, 27 records" ]
  [ "$(tables "$t")" = "$(tables "$HSRC")" ]
  [ "$(q "$t" "SELECT count(*) FROM pg_namespace WHERE nspname IN ('my.schema', 'Other Schema', 'Schéma Ünï')")" = 3 ]
  [ "$(q "$t" "SELECT count(*) FROM pg_namespace WHERE nspname = 'my'")" = 0 ]
}

@test "hard names: restore into a schema made first (inheritance kept), verify ok, every table equal to the source" {
  t=$(pg_newdb hard_names_schema)
  psql -X -q -v ON_ERROR_STOP=1 -d "$t" -f "$BATS_FILE_TMPDIR/schema.sql" >/dev/null
  run mno-restore --target "$t" "$HALL"
  [ "$status" -eq 0 ]
  run mno-verify --archive "$HALL" --target "$t"
  [ "$status" -eq 0 ]
  [ "$(tables "$t")" = "$(tables "$HSRC")" ]
  # the parent read with its children holds each row once
  [ "$(q "$t" "SELECT string_agg(id::text, ',' ORDER BY id) FROM public.parent")" = "1,2,3,4,5" ]
  # --dry-run and -j resolve the same names
  t2=$(pg_newdb hard_names_j)
  psql -X -q -v ON_ERROR_STOP=1 -d "$t2" -f "$BATS_FILE_TMPDIR/schema.sql" >/dev/null
  run mno-restore --target "$t2" --dry-run "$HALL"
  [ "$status" -eq 0 ]
  run mno-restore --target "$t2" -j 2 "$HALL"
  echo "$output" >&2
  [ "$status" -eq 0 ]
  [ "$(tables "$t2")" = "$(tables "$HSRC")" ]
}

@test "hard names: --tenant acme through quoted parent links holds no row of the other tenant" {
  mno-dump --quiet --source "$HSRC" --scope "$FX/hard_names.scope" --tenant acme -o acme.mnoa
  t=$(pg_newdb hard_names_acme)
  mno-restore --quiet --target "$t" --create acme.mnoa
  run mno-verify --archive acme.mnoa --target "$t"
  [ "$status" -eq 0 ]
  [ "$(q "$t" 'SELECT string_agg(v, $$,$$ ORDER BY id) FROM "my.schema".t')" = "one,three" ]
  [ "$(q "$t" 'SELECT string_agg("Id"::text, $$,$$ ORDER BY 1) FROM "Other Schema"."T"')" = "10,12" ]
  [ "$(q "$t" 'SELECT count(*) FROM public."With Space" WHERE "Tenant Id" <> 1')" = 0 ]
  [ "$(q "$t" 'SELECT string_agg(id::text, $$,$$ ORDER BY id) FROM ONLY public.child')" = "3,5" ]
}

@test "hard names: verify of a target whose table differs names it in the ns form" {
  t=$(pg_newdb hard_names_differ)
  mno-restore --quiet --target "$t" --create "$HALL"
  q "$t" 'DELETE FROM "my.schema".t WHERE id = 3; INSERT INTO public.nocols DEFAULT VALUES' >/dev/null
  run mno-verify --archive "$HALL" --target "$t"
  [ "$status" -eq 1 ]
  [[ "$output" == *$'\n"my.schema".t '*"DIFFERS"* ]]
  [[ "$output" == *$'\npublic.nocols '*"DIFFERS"* ]]
}

@test "hard names: a scope file with malformed quoting is an error naming file and line" {
  printf 'public.tenants: root name\n"my.schema.t: global\n' >bad.scope
  run mno-dump --source "$HSRC" --scope bad.scope --all -o x.mnoa
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = 'mno-dump: error: bad.scope:2: unterminated quoted identifier "my.schema.t: global' ]
  printf 'public."With"Space: global\n' >bad2.scope
  run mno-dump --source "$HSRC" --scope bad2.scope --all -o x.mnoa
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "mno-dump: error: bad2.scope:1: malformed quoting in 'public.\"With\"S': text after a closing quote" ]
}

@test "tenant: a value that root columns match in different rows (id 1, name '1') is ambiguous: exit 2 listing the matches, in dump and --plan" {
  u=$(pg_newdb hard_names_ambiguous)
  q "$u" "CREATE TABLE public.tenants (id integer PRIMARY KEY, name text NOT NULL);
          INSERT INTO public.tenants VALUES (1, 'acme'), (2, '1'), (3, 'x'), (4, '4');
          CREATE TABLE public.users (id integer PRIMARY KEY, tenant_id integer);
          INSERT INTO public.users VALUES (1, 1), (2, 2)" >/dev/null
  printf 'tenants: root name id\nusers: parent tenant_id -> tenants.id\n' >amb.scope
  msg="mno-dump: error: tenant '1' is ambiguous: in public.tenants it matches 1 row by id (id=1); 1 row by name (id=2); give a value that names one tenant"
  run mno-dump --source "$u" --scope amb.scope --tenant 1 -o a.mnoa
  [ "$status" -eq 2 ]
  [ "$output" = "$msg" ]
  [ ! -e a.mnoa ]
  run mno-dump --source "$u" --scope amb.scope --tenant 1 --plan
  [ "$status" -eq 2 ]
  [ "$output" = "$msg" ]
  # one row matching by both columns (id 4 named '4') names one tenant
  run mno-dump --source "$u" --scope amb.scope --tenant 4 -o b.mnoa
  [ "$status" -eq 0 ]
  [ "$(mno-cat --list b.mnoa | cut -f1,2)" = "$(printf 'public.tenants\t1\npublic.users\t0')" ]
}
