#!/usr/bin/env bats
# 43-create-schema.bats: mno-dump --with-schema carries pg_dump's own schema of the dumped
# tables (header "pg_schema": pre-data, post-data) and mno-restore --create runs it around the
# rows of an authenticated archive: the all-types database (tests/fixtures/alltypes) and the
# real Rails connector schema come back equal to the source, table by table (PostgreSQL's own
# md5 of the ordered rows, not the tool's sums), their schema as pg_dump prints it, and every
# sequence; serially, with -j 3 and after a crash (--resume). Not authenticated: the schema is
# not run and the note says so. A pg_dump older than the server is refused; the password
# never reaches pg_dump's command line.

setup_file() {
  export MNO_TOP=${MNO_TOP:-$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}
  export PATH="$MNO_BIN:$PATH"
  export MNO_ARCHIVE_KEY=test-suite-key
  . "$MNO_TOP/tests/lib/env.sh"
  export SRC; SRC=$(pg_newdb cs_src)
  psql -X -q -v ON_ERROR_STOP=1 -d "$SRC" -f "$MNO_TOP/tests/fixtures/alltypes/alltypes.sql" >/dev/null
  export SCOPE=$MNO_TOP/tests/fixtures/alltypes/alltypes.scope
  export ARCH=$BATS_FILE_TMPDIR/alltypes.mnoa
  mno-dump --quiet --source "$SRC" --all --scope "$SCOPE" --with-schema -o "$ARCH"
  export RSRC; RSRC=$(pg_newdb cs_rails)
  psql -X -q -v ON_ERROR_STOP=1 -d "$RSRC" -f "$MNO_TOP/tests/fixtures/rails/connector_schema.sql" >/dev/null
}

setup() {
  . "$MNO_TOP/tests/lib/env.sh"
  cd "$BATS_TEST_TMPDIR"
}

q() { psql -X -At -v ON_ERROR_STOP=1 -d "$1" -c "$2"; }

# Every table and partition of the user schemas, one line each: name, rows and PostgreSQL's
# md5 of its own rows' text in order; then every sequence's state.
fingerprint() {
  local t
  q "$1" "SELECT format('%s|%s', c.oid::regclass, c.relkind) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'mno_migrate')
          AND n.nspname NOT LIKE 'pg_toast%' ORDER BY 1" |
    while IFS='|' read -r t kind; do
      [ "$kind" = p ] && from=$t || from="ONLY $t"
      echo "$t $(q "$1" "SELECT count(*) || ' ' || md5(coalesce(string_agg(x::text, E'\n' ORDER BY x::text), '')) FROM $from x")"
    done
  q "$1" "SELECT schemaname || '.' || sequencename || ' ' || coalesce(last_value::text, 'not called')
          FROM pg_sequences WHERE schemaname <> 'mno_migrate' ORDER BY 1"
}

# The schema as pg_dump prints it, without the toolkit's journal (and psql's \restrict keys).
schema_of() {
  pg_dump -s -N mno_migrate -d "$1" | grep -v '^\\'
}

@test "--with-schema: the header carries pg_dump's pre-data and post-data of the dumped tables' schemas" {
  run jq -c '.pg_schema | [.tool, .schemas, (.tables | length)]' <(head -1 "$ARCH")
  [ "$status" -eq 0 ]
  [ "$output" = "[\"pg_dump $(pg_dump --version | sed 's/^pg_dump (PostgreSQL) \([0-9.]*\).*/\1/')\",[\"Other Schema\",\"extra\",\"my.schema\",\"public\"],11]" ]
  pre=$(head -1 "$ARCH" | jq -r .pg_schema.pre_data)
  post=$(head -1 "$ARCH" | jq -r .pg_schema.post_data)
  [[ "$pre" == *"CREATE TYPE public.mood AS ENUM"* ]]
  [[ "$pre" == *"CREATE DOMAIN extra.code"* ]]
  [[ "$pre" == *"PARTITION BY RANGE"* ]]
  [[ "$pre" == *"CREATE UNLOGGED TABLE public.cache"* ]]
  [[ "$pre" == *"CREATE SCHEMA IF NOT EXISTS public;"* ]]
  [[ "$post" == *"ADD CONSTRAINT qty_positive CHECK ((qty > 0)) NOT VALID;"* ]]
  [[ "$post" == *"ADD CONSTRAINT dept_head_fk FOREIGN KEY (head_id) REFERENCES public.emp(id) DEFERRABLE;"* ]]
  [[ "$post" == *"CREATE TRIGGER noisy_shout"* ]]
  # psql's \restrict lines are not SQL: dropped
  ! grep -q '\\restrict' <(head -1 "$ARCH" | jq -r '.pg_schema.pre_data, .pg_schema.post_data')
  # the header's digest covers it
  run mno-cat --check "$ARCH"
  [ "$status" -eq 0 ]
}

@test "--create: the all-types database comes back equal to the source: every table, partition, sequence and the schema" {
  t=$(pg_newdb cs_t1)
  run mno-restore --quiet --create --target "$t" "$ARCH"
  [ "$status" -eq 0 ]
  [ "$output" = "" ]
  [ "$(fingerprint "$t")" = "$(fingerprint "$SRC")" ]
  diff <(schema_of "$SRC") <(schema_of "$t")
  run mno-verify --archive "$ARCH" --target "$t"
  [ "$status" -eq 0 ]
  [[ "$output" == *"verdict: ok: 11 of 11 tables match, 174 records" ]]
  # the NOT VALID check, the trigger and the foreign keys are in force after the restore
  run q "$t" "INSERT INTO legacy VALUES (3, -1)"
  [[ "$output" == *'violates check constraint "qty_positive"'* ]]
  [ "$(q "$t" "INSERT INTO noisy VALUES (3, 'hey') RETURNING v" | head -1)" = "HEY!" ]
  run q "$t" "INSERT INTO emp VALUES (99, 42, 'nobody')"
  [[ "$output" == *'violates foreign key constraint "emp_dept_id_fkey"'* ]]
  # sequences: identity START 100 INCREMENT 3 (rows 100..106), the shared one past 545
  [ "$(q "$t" "INSERT INTO types_all DEFAULT VALUES RETURNING id, c_shared" | head -1)" = "109|550" ]
  [ "$(q "$t" "INSERT INTO t_serial (v) VALUES ('n') RETURNING id" | head -1)" = "6" ]
}

@test "--create -j 3: the same, the schema's parts run before and after all the workers' sections" {
  t=$(pg_newdb cs_t2)
  run mno-restore --quiet -j 3 --create --target "$t" "$ARCH"
  [ "$status" -eq 0 ]
  [ "$(fingerprint "$t")" = "$(fingerprint "$SRC")" ]
  diff <(schema_of "$SRC") <(schema_of "$t")
}

@test "--create: a crash after the pre-data: --resume skips it, restores the rows and runs the post-data" {
  t=$(pg_newdb cs_t3)
  MNO_TEST_RESTORE_KILL=public.animals:0 run mno-restore --quiet --create --target "$t" "$ARCH"
  [ "$status" -eq 137 ]
  [ "$(q "$t" "SELECT ns FROM mno_migrate.journal ORDER BY ns")" = "(pg_dump pre-data)" ]
  [ "$(q "$t" "SELECT count(*) FROM pg_constraint WHERE contype = 'f'")" = "0" ]
  run mno-restore --quiet --resume --create --target "$t" "$ARCH"
  [ "$status" -eq 0 ]
  [ "$(fingerprint "$t")" = "$(fingerprint "$SRC")" ]
  diff <(schema_of "$SRC") <(schema_of "$t")
  [ "$(q "$t" "SELECT count(*) FROM mno_migrate.journal WHERE ns LIKE '(pg_dump %'")" = "2" ]
}

@test "--create: an archive that is not authenticated does not run its schema: the note says so, the tables come from their columns" {
  t=$(pg_newdb cs_t4)
  MNO_ARCHIVE_KEY= run mno-restore --quiet --create --target "$t" "$ARCH"
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "mno-restore: error: $ARCH:180: section public.types_all: --create: column \"c_span\": type \"extra.span\" does not exist in the target" ]
  [ "${lines[2]}" = "mno-restore: note: the archive's schema (pg_dump: types, sequences, partitions, constraints, foreign keys, indexes) was not run: the archive is not authenticated (MNO_ARCHIVE_KEY, a FILE checked first) and --trust-archive was not given" ]
  [ "$(q "$t" "SELECT to_regtype('public.mood') IS NULL")" = t ]
  # from stdin the archive is authenticated only at its end: not run either
  t=$(pg_newdb cs_t4b)
  run mno-restore --quiet --create --target "$t" - <"$ARCH"
  [ "$status" -eq 2 ]
  [[ "$output" == *"mno-restore: note: the archive's schema (pg_dump: types, sequences, partitions, constraints, foreign keys, indexes) was not run: the archive is not authenticated"* ]]
  # --trust-archive runs it
  t=$(pg_newdb cs_t4c)
  MNO_ARCHIVE_KEY= run mno-restore --quiet --create --trust-archive --target "$t" "$ARCH"
  [ "$status" -eq 0 ]
  [ "$(fingerprint "$t")" = "$(fingerprint "$SRC")" ]
}

@test "--create: a changed schema in the header is refused before anything is written" {
  sed '1s/CREATE TYPE public.mood AS ENUM (/CREATE TABLE public.evil (x int); CREATE TYPE public.mood AS ENUM (/' "$ARCH" >bad.mnoa
  t=$(pg_newdb cs_t5)
  run mno-restore --quiet --create --trust-archive --target "$t" bad.mnoa
  [ "$status" -eq 2 ]
  [[ "$output" == "mno-restore: error: bad.mnoa:"*": trailer: header digest mismatch: "* ]]
  [ "$(q "$t" "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'")" = "0" ]
}

@test "--create: a pre-data the target refuses stops the run (exit 2), nothing of it written" {
  t=$(pg_newdb cs_t8)
  q "$t" "CREATE TYPE public.mood AS ENUM ('x')" >/dev/null
  run mno-restore --quiet --create --target "$t" "$ARCH"
  [ "$status" -eq 2 ]
  [ "$output" = "mno-restore: error: $ARCH:1: --create: the archive's schema (pg_dump pre-data) failed in the target: type \"mood\" already exists" ]
  [ "$(q "$t" "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname IN ('public', 'extra')")" = 0 ]
  [ "$(q "$t" "SELECT to_regnamespace('extra') IS NULL AND to_regclass('mno_migrate.journal') IS NULL")" = t ]
}

@test "--create into a schema made first: the schema is not run, the rows go in (--disable-triggers: the cycle, the trigger)" {
  t=$(pg_newdb cs_t6)
  pg_dump -s -d "$SRC" | grep -v '^\\' | sed 's/ADD CONSTRAINT qty_positive CHECK ((qty > 0)) NOT VALID;/ADD CONSTRAINT qty_positive CHECK ((qty > -10)) NOT VALID;/' |
    psql -X -q -v ON_ERROR_STOP=1 -d "$t" >/dev/null
  run mno-restore --quiet --create --disable-triggers --target "$t" "$ARCH"
  [ "$status" -eq 0 ]
  [ "$output" = "" ]
  [ "$(q "$t" "SELECT count(*) FROM mno_migrate.journal WHERE ns LIKE '(pg_dump %'")" = "0" ]
  [ "$(fingerprint "$t")" = "$(fingerprint "$SRC")" ]
}

@test "--create: some of the archive's tables already there: the schema is not run, the others are made from their ddl" {
  t=$(pg_newdb cs_t7)
  q "$t" "CREATE TABLE public.noisy (id integer PRIMARY KEY, v text)" >/dev/null
  run mno-restore --quiet --create --target "$t" "$ARCH"
  [ "$status" -eq 2 ]
  [[ "$output" == *"mno-restore: note: the archive's schema (pg_dump) was not run: 1 of its 11 tables are already in the target (public.noisy); the missing ones are created from their sections' ddl"* ]]
}

@test "--with-schema: the real Rails connector schema, --tenant acme: --create and verify; Rails' own tables left out" {
  run mno-dump --quiet --source "$RSRC" --scope "$MNO_TOP/filters/connector.scope" --tenant acme --with-schema -o acme.mnoa
  [ "$status" -eq 0 ]
  t=$(pg_newdb cs_rails_t)
  run mno-restore --quiet --create --target "$t" acme.mnoa
  [ "$status" -eq 0 ]
  run mno-verify --archive acme.mnoa --target "$t"
  [ "$status" -eq 0 ]
  [[ "$output" == *"verdict: ok: 5 of 5 tables match, 7 records" ]]
  # the tenant's rows, equal to the source's by PostgreSQL's md5; no row of globex
  for tab in organizations users id_maps synchronizations; do
    w="tenant = 'acme'"
    [ $tab = id_maps ] || [ $tab = synchronizations ] && w="organization_id IN (SELECT id FROM organizations WHERE tenant = 'acme')"
    [ "$(q "$t" "SELECT md5(string_agg(x::text, E'\n' ORDER BY x::text)) FROM $tab x")" = \
      "$(q "$RSRC" "SELECT md5(string_agg(x::text, E'\n' ORDER BY x::text)) FROM $tab x WHERE $w")" ]
  done
  [ "$(q "$t" "SELECT count(*) FROM users WHERE tenant <> 'acme'")" = 0 ]
  # the source's indexes and sequences came with the schema, Rails' own tables did not
  [ "$(q "$t" "SELECT indexdef FROM pg_indexes WHERE indexname = 'index_organizations_on_oauth_uid'")" = \
    "CREATE UNIQUE INDEX index_organizations_on_oauth_uid ON public.organizations USING btree (oauth_uid)" ]
  [ "$(q "$t" "SELECT to_regclass('public.schema_migrations') IS NULL AND to_regclass('public.ar_internal_metadata') IS NULL")" = t ]
  [ "$(q "$t" "SELECT last_value FROM organizations_id_seq")" = "$(q "$RSRC" "SELECT last_value FROM organizations_id_seq")" ]
  diff <(schema_of "$RSRC" | grep -v 'schema_migrations\|ar_internal_metadata' | grep -v '^$' | grep -v '^--') \
       <(schema_of "$t" | grep -v '^$' | grep -v '^--') >schema.diff || true
  # every difference is Rails' own two tables' definitions
  ! grep -q '^[<>] *CREATE\|^[<>] *ALTER' schema.diff || { cat schema.diff; false; }
}

@test "--with-schema: a pg_dump older than the server is refused (exit 2), no archive written" {
  printf '#!/bin/sh\necho "pg_dump (PostgreSQL) 9.6.24"\n' >old_pg_dump
  chmod +x old_pg_dump
  sv=$(q "$SRC" "SHOW server_version")
  major=$(q "$SRC" "SELECT current_setting('server_version_num')::int / 10000")
  MNO_PG_DUMP=$PWD/old_pg_dump run mno-dump --quiet --source "$SRC" --all --scope "$SCOPE" --with-schema -o old.mnoa
  [ "$status" -eq 2 ]
  [ "$output" = "mno-dump: error: --with-schema: pg_dump 9.6.24 is older than the server (PostgreSQL $sv): give a pg_dump of version $major or later in MNO_PG_DUMP" ]
  [ ! -e old.mnoa ]
}

@test "--with-schema: a pg_dump that fails or is not there: its error, exit 2, no archive" {
  printf '#!/bin/sh\n[ "$1" = --version ] && exec pg_dump --version\necho "pg_dump: error: query failed: boom" >&2\nexit 1\n' >bad_pg_dump
  chmod +x bad_pg_dump
  MNO_PG_DUMP=$PWD/bad_pg_dump run mno-dump --quiet --source "$SRC" --all --scope "$SCOPE" --with-schema -o bad.mnoa
  [ "$status" -eq 2 ]
  [ "$output" = "mno-dump: error: --with-schema: $PWD/bad_pg_dump failed (exit status 1): query failed: boom" ]
  [ ! -e bad.mnoa ]
  MNO_PG_DUMP=$PWD/no_such_pg_dump run mno-dump --quiet --source "$SRC" --all --scope "$SCOPE" --with-schema -o bad.mnoa
  [ "$status" -eq 2 ]
  [ "$output" = "mno-dump: error: --with-schema: cannot run $PWD/no_such_pg_dump: No such file or directory (install PostgreSQL's client tools, or name the pg_dump to run in MNO_PG_DUMP)" ]
  [ ! -e bad.mnoa ]
}

@test "--with-schema: the connection reaches pg_dump through its environment and a 0600 passfile, never its command line" {
  cat >spy_pg_dump <<EOF
#!/bin/sh
echo "ARGS: \$*" >>"$PWD/spy.log"
env | grep '^PG' | sed 's/^/ENV: /' >>"$PWD/spy.log"
[ -n "\$PGPASSFILE" ] && stat -c 'MODE: %a' "\$PGPASSFILE" >>"$PWD/spy.log"
exec pg_dump "\$@"
EOF
  chmod +x spy_pg_dump
  uri=${MNO_TEST_PG_SECRET_URI%/postgres}/cs_src
  mkdir tmp
  TMPDIR=$PWD/tmp MNO_PG_DUMP=$PWD/spy_pg_dump run mno-dump --quiet --source "$uri" --all --scope "$SCOPE" --with-schema -o spy.mnoa
  [ "$status" -eq 0 ]
  [ "$(grep -c '^ARGS: --schema-only' spy.log)" = 2 ]
  grep -q '^ENV: PGUSER=mno_secret$' spy.log
  grep -q '^ENV: PGDATABASE=cs_src$' spy.log
  grep -q '^MODE: 600$' spy.log
  ! grep -qF "$MNO_TEST_PG_PASSWORD" spy.log
  ! grep -qF "$MNO_TEST_PG_PASSWORD" spy.mnoa
  # the passfile is gone
  [ "$(ls tmp)" = "" ]
}

@test "--with-schema goes with a postgresql source" {
  run mno-dump --source mongodb://127.0.0.1:1/x --all --with-schema --hub postgresql://x/y
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "mno-dump: error: --with-schema goes with a postgresql source (MongoDB archives carry their collections' options and indexes)" ]
}
