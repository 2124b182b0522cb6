#!/usr/bin/env bats
# 44-triggers-cycles.bats: schema-first targets (made by the application's migrations, here
# pg_dump -s of the source): the target's triggers rewrite rows and a cycle of foreign keys
# refuses the first table of the cycle. mno-dump puts a cycle before the tables that hang off
# it; mno-restore --disable-triggers restores them all (each section's transaction in replica
# mode), says so when the role may not, and without it the error names the cycle.

setup_file() {
  export MNO_TOP=${MNO_TOP:-$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}
  export PATH="$MNO_BIN:$PATH"
  . "$MNO_TOP/tests/lib/env.sh"
  export SRC; SRC=$(pg_newdb tc_src)
  psql -X -q -v ON_ERROR_STOP=1 -d "$SRC" -f "$MNO_TOP/tests/fixtures/alltypes/alltypes.sql" >/dev/null
  export SCOPE=$MNO_TOP/tests/fixtures/alltypes/alltypes.scope
  export ARCH=$BATS_FILE_TMPDIR/alltypes.mnoa
  mno-dump --quiet --source "$SRC" --all --scope "$SCOPE" -o "$ARCH"
  # the application's schema: the source's, but for the NOT VALID check that the source's
  # old rows break (a target made first checks every row it is given)
  pg_dump -s -d "$SRC" | grep -v '^\\' | sed '/ADD CONSTRAINT qty_positive CHECK/s/(qty > 0)/(qty > -10)/' \
    >"$BATS_FILE_TMPDIR/schema.sql"
}

setup() {
  . "$MNO_TOP/tests/lib/env.sh"
  cd "$BATS_TEST_TMPDIR"
}

q() { psql -X -At -v ON_ERROR_STOP=1 -d "$1" -c "$2"; }

schema_target() {
  local u
  u=$(pg_newdb "tc_t$1")
  psql -X -q -v ON_ERROR_STOP=1 -d "$u" -f "$BATS_FILE_TMPDIR/schema.sql" >/dev/null
  echo "$u"
}

# Every table's rows, by PostgreSQL's md5 of their text in order; every sequence's state.
rows_md5() {
  local t
  for t in types_all t_serial events animals dogs cache legacy dept emp '"my.schema"."Tasks"' noisy; do
    from="ONLY $t"; [ "$t" = events ] && from=$t
    echo "$t $(q "$1" "SELECT count(*) || ' ' || md5(coalesce(string_agg(x::text, E'\n' ORDER BY x::text), '')) FROM $from x")"
  done
  q "$1" "SELECT schemaname || '.' || sequencename || ' ' || coalesce(last_value::text, 'not called')
          FROM pg_sequences WHERE schemaname <> 'mno_migrate' ORDER BY 1"
}

@test "dump order: a cycle of foreign keys comes before the tables that reference it" {
  run jq -r 'select(.t == "begin") | .ns' "$ARCH"
  [ "$status" -eq 0 ]
  [ "$(echo "$output" | tr '\n' ' ')" = 'public.animals public.cache public.dogs public.events public.legacy public.noisy public.t_serial public.types_all public.dept public.emp "my.schema"."Tasks" ' ]
}

@test "schema first, no --disable-triggers: the cycle's first table is refused, the error names the cycle" {
  t=$(schema_target 1)
  run mno-restore --quiet --target "$t" "$ARCH"
  [ "$status" -eq 2 ]
  # the foreign key is checked at the COPY's end: the section's end line
  line=$(grep -n '^{"t":"end","ns":"public.dept"' "$ARCH" | cut -d: -f1)
  [ "${lines[0]}" = "mno-restore: error: $ARCH:$line: section public.dept: COPY failed: insert or update on table \"dept\" violates foreign key constraint \"dept_head_fk\" (Key (head_id)=(10) is not present in table \"emp\".); the target's foreign keys form a cycle (public.dept -> public.emp -> public.dept): no order of the sections satisfies them; restore with --disable-triggers (the foreign keys are not checked), or with --create into an empty target from an archive of mno-dump --with-schema (the foreign keys are made after the rows)" ]
  [ "$(q "$t" "SELECT count(*) FROM dept")" = 0 ]
  # and the trigger of the target rewrote the rows restored before it
  [ "$(q "$t" "SELECT string_agg(v, ',' ORDER BY id) FROM noisy")" = "QUIET!,CALM!" ]
}

@test "schema first, --disable-triggers: every table equal to the source, the trigger did not fire, the cycle restored" {
  t=$(schema_target 2)
  run mno-restore --quiet --disable-triggers --target "$t" "$ARCH"
  [ "$status" -eq 0 ]
  [ "$output" = "" ]
  [ "$(rows_md5 "$t")" = "$(rows_md5 "$SRC")" ]
  [ "$(q "$t" "SELECT string_agg(v, ',' ORDER BY id) FROM noisy")" = "quiet,calm" ]
  run mno-verify --archive "$ARCH" --target "$t"
  [ "$status" -eq 0 ]
  [[ "$output" == *"verdict: ok: 11 of 11 tables match, 174 records" ]]
  # only for the restore's transactions: the trigger and the foreign keys work after it
  [ "$(q "$t" "INSERT INTO noisy VALUES (3, 'hey') RETURNING v" | head -1)" = "HEY!" ]
  run q "$t" "INSERT INTO emp VALUES (99, 42, 'nobody')"
  [[ "$output" == *'violates foreign key constraint "emp_dept_id_fkey"'* ]]
}

@test "schema first, --disable-triggers -j 3: the same" {
  t=$(schema_target 3)
  run mno-restore --quiet --disable-triggers -j 3 --target "$t" "$ARCH"
  [ "$status" -eq 0 ]
  [ "$(rows_md5 "$t")" = "$(rows_md5 "$SRC")" ]
}

@test "--disable-triggers: a role that may not set session_replication_role is told so, nothing written" {
  t=$(schema_target 4)
  q "$t" "DROP ROLE IF EXISTS mno_plain; CREATE ROLE mno_plain LOGIN; GRANT ALL ON ALL TABLES IN SCHEMA public, extra TO mno_plain;
          GRANT USAGE ON SCHEMA extra, \"my.schema\" TO mno_plain; GRANT CREATE ON DATABASE tc_t4 TO mno_plain" >/dev/null
  plain="postgresql://mno_plain@${MNO_TEST_PGHOST}:${MNO_TEST_PGPORT}/tc_t4"
  run mno-restore --quiet --disable-triggers --target "$plain" "$ARCH"
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "mno-restore: error: $ARCH:2: section public.animals: --disable-triggers: the target's role may not set session_replication_role (a superuser may, or a role given GRANT SET ON PARAMETER session_replication_role): permission denied to set parameter \"session_replication_role\"" ]
  [ "$(q "$t" "SELECT count(*) FROM animals")" = 0 ]
  q "$t" "DROP OWNED BY mno_plain; DROP ROLE mno_plain" >/dev/null
}

@test "--disable-triggers goes with a postgresql target" {
  run mno-restore --disable-triggers --target mongodb://127.0.0.1:1/x "$ARCH"
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "mno-restore: error: --disable-triggers goes with a postgresql target" ]
}
