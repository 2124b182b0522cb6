#!/usr/bin/env bats
# 65-review2.bats: a second review pass: tables without a primary key (nulls, duplicate rows, json) in restore and verify --diff, and what the first pass (60-review.bats) did not cover.
# Every table is built here with psql; expected values are written out or read back with psql.

setup_file() {
  export MNO_TOP=${MNO_TOP:-$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}
  export PATH="$MNO_BIN:$PATH"
  # the archives made here are authenticated, so mno-restore --create runs their ddl
  # (docs/restore.md: without a key, tables are built from the columns and key only)
  export MNO_ARCHIVE_KEY=test-suite-key
  . "$MNO_TOP/tests/lib/env.sh"
  # tables without a primary key (the dump's key is then every column), one per source
  export R2NOTES; R2NOTES=$(pg_newdb review2_notes)
  psql -X -q -v ON_ERROR_STOP=1 -d "$R2NOTES" <<'SQL'
CREATE TABLE public.notes (at integer, note text);
INSERT INTO public.notes VALUES (1, NULL), (2, NULL), (3, NULL);
SQL
  export R2DUPS; R2DUPS=$(pg_newdb review2_dups)
  psql -X -q -v ON_ERROR_STOP=1 -d "$R2DUPS" <<'SQL'
CREATE TABLE public.dups (a integer, b text, j json);
INSERT INTO public.dups SELECT g % 40, CASE WHEN g % 7 = 0 THEN NULL ELSE 'b' || (g % 3) END,
  ('{"k":' || (g % 5) || '}')::json FROM generate_series(1, 300) g;
SQL
  printf 'public.notes: global\n' >"$BATS_FILE_TMPDIR/notes.scope"
  printf 'public.dups: global\n' >"$BATS_FILE_TMPDIR/dups.scope"
  export R2S=$BATS_FILE_TMPDIR
}

setup() {
  . "$MNO_TOP/tests/lib/env.sh"
  mno_shm_sweep
  cd "$BATS_TEST_TMPDIR"
}

@test "review2: a table without a primary key restored twice (a new dump each time) is refused, never duplicated" {
  t=$(pg_newdb review2_twice)
  mno-dump --quiet --source "$R2NOTES" --scope "$R2S/notes.scope" --all -o n1.mnoa
  mno-dump --quiet --source "$R2DUPS" --scope "$R2S/dups.scope" --all -o d1.mnoa
  mno-restore --quiet --target "$t" --create n1.mnoa
  mno-restore --quiet --target "$t" --create d1.mnoa
  # every row of notes has a null in its key (every column): null matches null
  mno-dump --quiet --source "$R2NOTES" --scope "$R2S/notes.scope" --all -o n2.mnoa
  run mno-restore --quiet --target "$t" n2.mnoa
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "mno-restore: error: n2.mnoa:6: section public.notes: refused: 3 keys of the archive are already in the target table: (at=1, note=null), (at=2, note=null), (at=3, note=null); nothing of this section was written" ]
  [ "$(psql -X -At -d "$t" -c "SELECT count(*) FROM public.notes")" = 3 ]
  run mno-restore --target "$t" --dry-run n2.mnoa
  [ "$status" -eq 2 ]
  [ "${lines[1]}" = "public.notes	3	would fail: 3 keys of the archive are already in the target table: (at=1, note=null), (at=2, note=null), (at=3, note=null)" ]
  # a json column (no '=' operator) in the key: compared by its text, not a server error
  mno-dump --quiet --source "$R2DUPS" --scope "$R2S/dups.scope" --all -o d2.mnoa
  run mno-restore --quiet --target "$t" d2.mnoa
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "mno-restore: error: d2.mnoa:303: section public.dups: refused: 160 keys of the archive are already in the target table: (a=0, b=b0, j={\"k\":0}), (a=0, b=b1, j={\"k\":0}), (a=0, b=b2, j={\"k\":0}), (a=0, b=null, j={\"k\":0}), (a=1, b=b0, j={\"k\":1}), ...; nothing of this section was written" ]
  [ "$(psql -X -At -d "$t" -c "SELECT count(*) FROM public.dups")" = 300 ]
  # rows that are not there go in beside the others
  psql -X -q -d "$t" -c "DELETE FROM public.notes WHERE at = 2; INSERT INTO public.notes VALUES (9, 'x')"
  psql -X -q -d "$R2NOTES" -c "DELETE FROM public.notes WHERE at <> 2"
  mno-dump --quiet --source "$R2NOTES" --scope "$R2S/notes.scope" --all -o n3.mnoa
  psql -X -q -d "$R2NOTES" -c "INSERT INTO public.notes VALUES (1, NULL), (3, NULL)"
  run mno-restore --quiet --target "$t" n3.mnoa
  [ "$status" -eq 0 ]
  [ "$(psql -X -At -d "$t" -c "SELECT string_agg(at || ':' || coalesce(note, '-'), ',' ORDER BY at) FROM public.notes")" = "1:-,2:-,3:-,9:x" ]
}

@test "review2: mno-verify --diff on a table without a primary key: duplicate rows, nulls and json in its key" {
  t=$(pg_newdb review2_vdiff)
  mno-dump --quiet --source "$R2DUPS" --scope "$R2S/dups.scope" --all -o d.mnoa
  mno-restore --quiet --target "$t" --create d.mnoa
  run mno-verify --archive d.mnoa --target "$t" --diff
  [ "$status" -eq 0 ]
  [ "${lines[-1]}" = "verdict: ok: 1 of 1 tables match, 300 records" ]
  # one of the three copies of (1, b1, {"k":1}) gone, both copies of (7, null, {"k":2}) gone, a new row
  psql -X -q -v ON_ERROR_STOP=1 -d "$t" <<'SQL'
DELETE FROM public.dups WHERE ctid = (SELECT ctid FROM public.dups WHERE a = 1 AND b = 'b1' AND j::text = '{"k":1}' LIMIT 1);
DELETE FROM public.dups WHERE a = 7 AND b IS NULL AND j::text = '{"k":2}';
INSERT INTO public.dups VALUES (99, NULL, '{"k":9}');
SQL
  run mno-verify --archive d.mnoa --target "$t" --diff
  [ "$status" -eq 1 ]
  [ "${lines[5]}" = "public.dups: 4 keys differ" ]
  [ "${lines[6]}" = '  extra    a=99, b=NULL, j={"k":9}' ]
  [ "${lines[7]}" = '  missing  a=1, b=b1, j={"k":1}' ]
  [ "${lines[8]}" = '  missing  a=7, b=NULL, j={"k":2}' ]
  [ "${lines[9]}" = '  missing  a=7, b=NULL, j={"k":2}' ]
  [ "${lines[10]}" = "verdict: DIFFERS: 1 of 1 tables do not match (1 DIFFERS)" ]
  run mno-verify --archive d.mnoa --target "$t" --diff --max 1 --json
  [ "$status" -eq 1 ]
  [ "$(jq -c '.sections[0] | [.diff, .diff_more]' <<<"$output")" = '[[{"what":"extra","key":{"a":"99","b":null,"j":"{\"k\":9}"}}],true]' ]
}

@test "review2: a table with a generated column round-trips: the target computes it, mno-verify compares it" {
  s=$(pg_newdb review2_gen)
  psql -X -q -v ON_ERROR_STOP=1 -d "$s" <<'SQL'
CREATE TABLE public.lines (id integer PRIMARY KEY, qty integer, price numeric(10,2),
  total numeric(12,2) GENERATED ALWAYS AS (qty * price) STORED, note text);
INSERT INTO public.lines (id, qty, price, note) VALUES (1, 2, 1.25, 'a'), (2, 3, 10.00, NULL), (3, 1, 0.10, 'c');
SQL
  printf 'public.lines: global\n' >lines.scope
  mno-dump --quiet --source "$s" --scope lines.scope --all -o l.mnoa
  [ "$(jq -r 'select(.t == "begin") | [.columns[].name] | join(",")' l.mnoa)" = "id,qty,price,total,note" ]
  t=$(pg_newdb review2_gen_t)
  run mno-restore --quiet --target "$t" --create l.mnoa
  [ "$status" -eq 0 ]
  [ "$output" = "" ]
  [ "$(psql -X -At -d "$t" -c "SELECT string_agg(id || ':' || total, ',' ORDER BY id) FROM public.lines")" = "1:2.50,2:30.00,3:0.10" ]
  run mno-verify --archive l.mnoa --target "$t"
  [ "$status" -eq 0 ]
  # beside rows that are there (through the temporary table)
  psql -X -q -d "$t" -c "DELETE FROM public.lines WHERE id = 2; DELETE FROM mno_migrate.journal"
  run mno-restore --quiet --target "$t" l.mnoa
  [ "$status" -eq 2 ]
  [[ "${lines[0]}" == "mno-restore: error: l.mnoa:6: section public.lines: refused: 2 keys of the archive are already in the target table: id=1, id=3;"* ]]
  psql -X -q -d "$t" -c "DELETE FROM public.lines"
  run mno-restore --quiet --target "$t" l.mnoa
  [ "$status" -eq 0 ]
  run mno-verify --archive l.mnoa --target "$t"
  [ "$status" -eq 0 ]
  # a target whose expression differs: restored as the target computes it, and mno-verify says so
  psql -X -q -d "$t" -c "DELETE FROM public.lines; DELETE FROM mno_migrate.journal; ALTER TABLE public.lines DROP COLUMN total; ALTER TABLE public.lines ADD COLUMN total numeric(12,2) GENERATED ALWAYS AS (qty * price * 2) STORED"
  run mno-restore --quiet --target "$t" l.mnoa
  [ "$status" -eq 0 ]
  run mno-verify --archive l.mnoa --target "$t" --diff
  [ "$status" -eq 1 ]
  [ "${lines[6]}" = "  changed  id=1: total" ]
  # a generated key column cannot be: its value is needed to find conflicts
  t2=$(pg_newdb review2_gen_k)
  psql -X -q -d "$t2" -c "CREATE TABLE public.lines (id integer GENERATED ALWAYS AS (qty + 0) STORED PRIMARY KEY, qty integer, price numeric(10,2), total numeric(12,2), note text)"
  run mno-restore --quiet --target "$t2" l.mnoa
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = 'mno-restore: error: l.mnoa:2: section public.lines: key column "id" is generated in the target table: it cannot be restored' ]
}

@test "review2: a section in the toolkit's own schema (mno_migrate: the journal) is refused, as mongo's mno_restore_* are" {
  t=$(pg_newdb review2_own)
  mno-dump --quiet --source "$R2NOTES" --scope "$R2S/notes.scope" --all -o n.mnoa
  mno-restore --quiet --target "$t" --create n.mnoa
  id=$(jq -r 'select(.t == "header") | .id' n.mnoa)
  # a hand-made section that would journal public.other as restored from n.mnoa
  { printf '{"t":"header","format":"mnoa","version":1,"engine":"postgresql","source":"mnohub","tenant":"acme","producer":"hand"}\n'
    printf '{"t":"begin","ns":"mno_migrate.journal","columns":[{"name":"archive_id","type":"text"},{"name":"ns","type":"text"},{"name":"count","type":"bigint"},{"name":"sum","type":"text"}],"key":["archive_id","ns"]}\n'
    printf '{"t":"rec","ns":"mno_migrate.journal","v":{"archive_id":"%s","ns":"public.other","count":"0","sum":"00000000000000000000000000000000"}}\n' "$id"
    printf '{"t":"end","ns":"mno_migrate.journal","count":0,"sum":"00000000000000000000000000000000"}\n'
    printf '{"t":"trailer","sections":1,"count":0,"sum":"00000000000000000000000000000000"}\n'; } >j.mnoa
  mno-cat --seal -o js.mnoa j.mnoa
  run mno-restore --target "$t" js.mnoa
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "mno-restore: error: js.mnoa:2: section mno_migrate.journal: schema 'mno_migrate' is reserved and cannot be restored" ]
  run mno-restore --target "$t" --dry-run js.mnoa
  [ "$status" -eq 2 ]
  [ "${lines[1]}" = "mno_migrate.journal	1	would fail: schema 'mno_migrate' is reserved and cannot be restored" ]
  [ "$(psql -X -At -d "$t" -c "SELECT string_agg(ns, ',') FROM mno_migrate.journal")" = "public.notes" ]
}

@test "review2: mno-verify: a target table without a column of the archive DIFFERS (exit 1, named), not a server error" {
  t=$(pg_newdb review2_lackcol)
  mno-dump --quiet --source "$R2NOTES" --scope "$R2S/notes.scope" --all -o n.mnoa
  mno-restore --quiet --target "$t" --create n.mnoa
  psql -X -q -d "$t" -c "ALTER TABLE public.notes DROP COLUMN note, ADD COLUMN extra integer DEFAULT 5"
  run mno-verify --archive n.mnoa --target "$t"
  [ "$status" -eq 1 ]
  [ "${lines[3]}" = "public.notes           3           3  ecc98e40bb2b  -             DIFFERS" ]
  # the total's actual sum is unknown (no section's sum is missing from it silently)
  [ "${lines[4]}" = "total                  3           3  ecc98e40bb2b  -           " ]
  [ "${lines[5]}" = 'public.notes: the target table lacks column "note" (1 of the archive'"'"'s 2 columns)' ]
  [ "${lines[6]}" = "verdict: DIFFERS: 1 of 1 tables do not match (1 DIFFERS)" ]
  run mno-verify --archive n.mnoa --target "$t" --diff --json
  [ "$status" -eq 1 ]
  [ "$(jq -c '.sections[0] | [.status, .actual, .note]' <<<"$output")" = '["differs",{"count":3,"sum":null},"the target table lacks column \"note\" (1 of the archive'"'"'s 2 columns)"]' ]
  [ "$(jq -c '.totals | [.actual_count, .actual_sum]' <<<"$output")" = '[3,null]' ]
}

@test "review2: a pre-created target column of a type that would change the values is refused by name, nothing written" {
  src=$(pg_newdb review2_types_src)
  psql -X -q -v ON_ERROR_STOP=1 -d "$src" <<'SQL'
CREATE TABLE public.prices (id integer PRIMARY KEY, amount numeric(12,2), label varchar(40), qty smallint);
INSERT INTO public.prices VALUES (1, 10.25, 'a fairly long label here', 3), (2, 0.50, 'b', 4);
SQL
  printf 'public.prices: global\n' >p.scope
  mno-dump --quiet --source "$src" --scope p.scope --all -o p.mnoa
  # numeric(12,0) would round 10.25 to 10: refused, the table stays empty
  t=$(pg_newdb review2_types_narrow)
  psql -X -q -d "$t" -c "CREATE TABLE public.prices (id integer PRIMARY KEY, amount numeric(12,0), label varchar(40), qty smallint)"
  run mno-restore --quiet --target "$t" p.mnoa
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "mno-restore: error: p.mnoa:2: section public.prices: column \"amount\" is numeric(12,0) in the target table but numeric(12,2) in the archive: its values could change" ]
  [ "${lines[1]}" = "mno-restore: section public.prices rolled back: nothing of it was written; no section was restored" ]
  [ "$(psql -X -At -d "$t" -c 'SELECT count(*) FROM public.prices')" = 0 ]
  # wider types keep every value's text: text for varchar, bigint for smallint -> restored, verified
  w=$(pg_newdb review2_types_wide)
  psql -X -q -d "$w" -c "CREATE TABLE public.prices (id bigint PRIMARY KEY, amount numeric(12,2), label text, qty integer)"
  mno-restore --quiet --target "$w" p.mnoa
  [ "$(psql -X -At -d "$w" -c "SELECT string_agg(id || ':' || amount || ':' || label || ':' || qty, ',' ORDER BY id) FROM public.prices")" = "1:10.25:a fairly long label here:3,2:0.50:b:4" ]
  run mno-verify --archive p.mnoa --target "$w"
  [ "$status" -eq 0 ]
}

@test "review2: an archive of the other engine is refused by name and position, the target's password never shown" {
  mno-dump --quiet --source "$R2NOTES" --scope "$R2S/notes.scope" --all -o n.mnoa
  run mno-restore --target "mongodb://mno:hunter2@127.0.0.1:1/x" n.mnoa
  [ "$status" -eq 2 ]
  [ "$output" = "mno-restore: error: n.mnoa:1: the archive is a postgresql archive but the target mongodb://mno@127.0.0.1:1/x is mongodb" ]
  run mno-restore --target "mongodb://mno:hunter2@127.0.0.1:1/x" - <n.mnoa
  [ "$status" -eq 2 ]
  [ "$output" = "mno-restore: error: <stdin>:1: the archive is a postgresql archive but the target mongodb://mno@127.0.0.1:1/x is mongodb" ]
}
