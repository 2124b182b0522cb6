#!/usr/bin/env bats
# 50-verify-pg.bats: mno-verify against PostgreSQL: every status, --diff, --json, the exit codes, corrupt archives.
# The archive is written independently of mno-dump (psql's JSON and mno-cat --seal), so these
# tests check mno-verify's sums against another producer of the same canonical form.

setup_file() {
  export MNO_TOP=${MNO_TOP:-$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}
  export PATH="$MNO_BIN:$PATH"
  . "$MNO_TOP/tests/lib/env.sh"
  export VSRC; VSRC=$(pg_newdb verify_pg_src)
  load_data "$VSRC"
  export VARCH=$BATS_FILE_TMPDIR/hub.mnoa.zst
  make_archive "$VSRC" >"$BATS_FILE_TMPDIR/hub.raw"
  mno-cat --seal -o "$VARCH" "$BATS_FILE_TMPDIR/hub.raw"
}

setup() {
  . "$MNO_TOP/tests/lib/env.sh"
}

# A small MnoHub-like schema: values that need quoting in record text, a composite key, two tenants.
load_data() {
  psql -X -q -v ON_ERROR_STOP=1 -d "$1" <<'SQL'
CREATE TABLE public.tenants (id bigint PRIMARY KEY, name text NOT NULL);
CREATE TABLE public.users (id bigint PRIMARY KEY, uid text, email text, name text,
  mnoe_tenant_id bigint, settings jsonb, created_at timestamptz);
CREATE TABLE public.orga_relations (organization_id bigint, user_id bigint, role text,
  PRIMARY KEY (organization_id, user_id));
INSERT INTO public.tenants VALUES (1, 'acme'), (2, 'other');
INSERT INTO public.users SELECT g, 'usr-' || g, 'user' || g || '@acme.test',
  CASE g % 4 WHEN 0 THEN 'O''Brien, "Bob"' WHEN 1 THEN '' WHEN 2 THEN NULL ELSE 'back\slash (x)' END,
  1, jsonb_build_object('n', g, 'tags', jsonb_build_array('a b', g)),
  '2026-01-01 00:00:00+00'::timestamptz + g * interval '1 hour 1 second'
  FROM generate_series(1, 150) g;
INSERT INTO public.orga_relations SELECT g % 5 + 1, g, CASE WHEN g % 3 = 0 THEN 'Admin' ELSE 'Member' END
  FROM generate_series(1, 150) g;
SQL
}

# The archive of the tenant's tables, as JSON Lines with zero sums (mno-cat --seal fills them).
make_archive() {
  local u=$1
  export PGOPTIONS="-c TimeZone=UTC -c DateStyle=ISO -c extra_float_digits=3"
  echo '{"t":"header","format":"mnoa","version":1,"engine":"postgresql","source":"mnohub","tenant":"acme"}'
  section "$u" public.tenants '[{"name":"id","type":"bigint"},{"name":"name","type":"text"}]' '["id"]' \
    "json_build_object('id', id::text, 'name', name)" "WHERE id = 1 ORDER BY id"
  section "$u" public.users '[{"name":"id","type":"bigint"},{"name":"uid","type":"text"},{"name":"email","type":"text"},{"name":"name","type":"text"},{"name":"mnoe_tenant_id","type":"bigint"},{"name":"settings","type":"jsonb"},{"name":"created_at","type":"timestamp with time zone"}]' '["id"]' \
    "json_build_object('id', id::text, 'uid', uid, 'email', email, 'name', name, 'mnoe_tenant_id', mnoe_tenant_id::text, 'settings', settings::text, 'created_at', created_at::text)" "ORDER BY id"
  section "$u" public.orga_relations '[{"name":"organization_id","type":"bigint"},{"name":"user_id","type":"bigint"},{"name":"role","type":"text"}]' '["organization_id","user_id"]' \
    "json_build_object('organization_id', organization_id::text, 'user_id', user_id::text, 'role', role)" "ORDER BY organization_id, user_id"
  echo '{"t":"trailer","sections":0,"count":0,"sum":"00000000000000000000000000000000"}'
}

section() { # uri ns columns key json-expr tail
  local t=${2#public.}
  echo "{\"t\":\"begin\",\"ns\":\"$2\",\"columns\":$3,\"key\":$4}"
  psql -X -At -v ON_ERROR_STOP=1 -d "$1" -c "SELECT json_build_object('t', 'rec', 'ns', '$2', 'v', $5) FROM public.$t $6"
  echo "{\"t\":\"end\",\"ns\":\"$2\",\"count\":0,\"sum\":\"00000000000000000000000000000000\"}"
}

# A target that holds exactly the tenant's rows: what mno-restore leaves.
new_target() {
  local u
  u=$(pg_newdb "verify_pg_t$BATS_TEST_NUMBER")
  pg_dump -d "$VSRC" | psql -X -q -v ON_ERROR_STOP=1 -d "$u" >/dev/null
  psql -X -q -v ON_ERROR_STOP=1 -d "$u" -c "DELETE FROM public.tenants WHERE id <> 1"
  echo "$u"
}

HEAD='ns                       expected      actual  expected sum  actual sum    status'
OK_TENANTS='public.tenants                  1           1  d2a116d578b7  d2a116d578b7  ok'
OK_USERS='public.users                  150         150  0edf6082ba34  0edf6082ba34  ok'
OK_RELS='public.orga_relations         150         150  47bff4e3ac9f  47bff4e3ac9f  ok'

@test "verify pg: after a restore every section is ok, exit 0" {
  t=$(new_target)
  run mno-verify --archive "$VARCH" --target "$t"
  [ "$status" -eq 0 ]
  [ "${lines[1]}" = "target   $t" ]
  [ "${lines[2]}" = "$HEAD" ]
  [ "${lines[3]}" = "$OK_TENANTS" ]
  [ "${lines[4]}" = "$OK_USERS" ]
  [ "${lines[5]}" = "$OK_RELS" ]
  [ "${lines[6]}" = "total                         301         301  29406c3bdf8b  29406c3bdf8b" ]
  [ "${lines[7]}" = "verdict: ok: 3 of 3 tables match, 301 records" ]
  [ "${#lines[@]}" -eq 8 ]
  [[ "${lines[0]}" == "archive  $VARCH: postgresql, source mnohub, tenant acme, id "*", 3 sections, 301 records, sum 29406c3bdf8b"* ]]
}

@test "verify pg: the archive's sums equal mno-cat's, and the server's sums equal the archive's" {
  t=$(new_target)
  run mno-cat --list "$VARCH"
  [ "$status" -eq 0 ]
  users_sum=$(echo "$output" | awk -F'\t' '$1 == "public.users" {print $3}')
  [ "${#users_sum}" -eq 32 ]
  mno-verify --archive "$VARCH" --target "$t" --json >"$BATS_TEST_TMPDIR/r.json"
  [ "$(jq -r '.sections[] | select(.ns == "public.users") | .actual.sum' "$BATS_TEST_TMPDIR/r.json")" = "$users_sum" ]
}

@test "verify pg: one changed value -> DIFFERS; --diff names the key and the column" {
  t=$(new_target)
  psql -X -q -d "$t" -c "UPDATE public.users SET email = 'evil@x.test' WHERE id = 77"
  run mno-verify --archive "$VARCH" --target "$t"
  [ "$status" -eq 1 ]
  [[ "${lines[4]}" == "public.users                  150         150  0edf6082ba34  "*"  DIFFERS" ]]
  [ "${lines[-1]}" = "verdict: DIFFERS: 1 of 3 tables do not match (1 DIFFERS)" ]
  run mno-verify --archive "$VARCH" --target "$t" --diff
  [ "$status" -eq 1 ]
  [[ "$output" == *$'\n\npublic.users: 1 key differs\n  changed  id=77: email\nverdict: DIFFERS'* ]]
}

@test "verify pg: a deleted row -> the count differs and --diff names the key" {
  t=$(new_target)
  psql -X -q -d "$t" -c "DELETE FROM public.orga_relations WHERE organization_id = 3 AND user_id = 42"
  run mno-verify --archive "$VARCH" --target "$t" --diff
  [ "$status" -eq 1 ]
  [[ "${lines[5]}" == "public.orga_relations         150         149  47bff4e3ac9f  "*"  DIFFERS" ]]
  [[ "$output" == *$'public.orga_relations: 1 key differs\n  missing  organization_id=3, user_id=42\n'* ]]
}

@test "verify pg: a row of the tenant added in the target -> DIFFERS, --diff lists it as extra" {
  t=$(new_target)
  psql -X -q -d "$t" -c "INSERT INTO public.users (id, uid, mnoe_tenant_id) VALUES (151, 'usr-151', 1), (0, 'usr-0', 1)"
  run mno-verify --archive "$VARCH" --target "$t" --diff
  [ "$status" -eq 1 ]
  [[ "${lines[4]}" == "public.users                  150         152  0edf6082ba34  "*"  DIFFERS" ]]
  [[ "$output" == *$'public.users: 2 keys differ\n  extra    id=0\n  extra    id=151\n'* ]]
}

@test "verify pg: --diff finds many differences and stops at --max" {
  t=$(new_target)
  psql -X -q -d "$t" -c "UPDATE public.users SET name = 'x' WHERE id % 10 = 0"
  run mno-verify --archive "$VARCH" --target "$t" --diff --max 3
  [ "$status" -eq 1 ]
  [[ "$output" == *$'public.users: 3+ keys differ\n  changed  id=10: name\n  changed  id=20: name\n  changed  id=30: name\n  ... more keys differ (see --max)\n'* ]]
  run mno-verify --archive "$VARCH" --target "$t" --diff --json
  [ "$status" -eq 1 ]
  [ "$(echo "$output" | jq -c '[.sections[1].diff[] | .key.id] | length')" = 15 ]
  [ "$(echo "$output" | jq -c '.sections[1].diff[0]')" = '{"what":"changed","key":{"id":"10"},"columns":["name"]}' ]
}

@test "verify pg: a dropped table -> MISSING in target" {
  t=$(new_target)
  psql -X -q -d "$t" -c "DROP TABLE public.orga_relations"
  run mno-verify --archive "$VARCH" --target "$t"
  [ "$status" -eq 1 ]
  [ "${lines[5]}" = "public.orga_relations         150           -  47bff4e3ac9f  -             MISSING in target" ]
  [ "${lines[-1]}" = "verdict: DIFFERS: 1 of 3 tables do not match (1 MISSING in target)" ]
}

@test "verify pg: a table with rows that the archive lacks -> EXTRA in target; --no-extra ignores it" {
  t=$(new_target)
  psql -X -q -d "$t" -c "CREATE TABLE public.stray (i int); INSERT INTO public.stray VALUES (1), (2); CREATE TABLE public.empty (i int)"
  run mno-verify --archive "$VARCH" --target "$t"
  [ "$status" -eq 1 ]
  [ "${lines[6]}" = "public.stray                    -           2  -             -             EXTRA in target" ]
  [ "${lines[-1]}" = "verdict: DIFFERS: 1 of 4 tables do not match (1 EXTRA in target)" ]
  run mno-verify --archive "$VARCH" --target "$t" --no-extra
  [ "$status" -eq 0 ]
}

@test "verify pg: --json has full sums, the archive's identity, the target without credentials" {
  t=$(new_target)
  secret=${MNO_TEST_PG_SECRET_URI%/postgres}/verify_pg_t$BATS_TEST_NUMBER
  psql -X -q -d "$t" -c "GRANT SELECT ON ALL TABLES IN SCHEMA public TO mno_secret"
  run mno-verify --archive "$VARCH" --target "$secret" --json
  [ "$status" -eq 0 ]
  [[ "$output" != *"$MNO_TEST_PG_PASSWORD"* ]]
  j=$output
  [ "$(jq -r .target.uri <<<"$j")" = "postgresql://mno_secret@127.0.0.1:$MNO_TEST_PGPORT/verify_pg_t$BATS_TEST_NUMBER" ]
  [ "$(jq -r '.target.engine, .mode, .verdict, .archive.header.tenant, .archive.trailer.count' <<<"$j")" = "$(printf 'postgresql\narchive\nok\nacme\n301')" ]
  [ "$(jq -r .archive.trailer.sum <<<"$j")" = "$(jq -r .totals.actual_sum <<<"$j")" ]
  [ "$(jq -c '.sections[0]' <<<"$j")" = "$(jq -c '.sections[0]' <<<"$j" | jq -c '{ns, status, expected, actual}')" ]
  [ "$(jq -r '.sections[1].expected.sum | length' <<<"$j")" = 32 ]
  [[ "$(jq -r .time <<<"$j")" =~ ^20[0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-9:]{8}Z$ ]]
  [ "$(jq -r .archive.header.id <<<"$j" | wc -c)" -eq 33 ]
}

@test "verify pg: a corrupt archive is an error (exit 2) that names the line and section" {
  t=$(new_target)
  d=$BATS_TEST_TMPDIR
  # a changed record: its digest no longer adds up to the end line's sum
  zstd -dc "$VARCH" | sed '/"id":"4"/s/user4@acme/user4@acmf/' >"$d/bad.mnoa"
  # refused by default (the records are checked against their end lines), as with --diff
  line=$(grep -n '"id":"4"' "$d/bad.mnoa" | grep public.users | cut -d: -f1)
  end=$(grep -n '"t":"end","ns":"public.users"' "$d/bad.mnoa" | cut -d: -f1)
  [ -n "$line" ] && [ -n "$end" ]
  for opt in "" --check-archive --diff; do
    run mno-verify --archive "$d/bad.mnoa" --target "$t" $opt
    [ "$status" -eq 2 ]
    [[ "${lines[0]}" == "mno-verify: error: $d/bad.mnoa:$end: section public.users: sum mismatch: end line says "* ]]
    [ "${#lines[@]}" -eq 1 ]
  done
  # --no-check-archive: the target is compared with the sums the dump declared (it matches
  # them), and the report says the records were not checked
  run mno-verify --archive "$d/bad.mnoa" --target "$t" --no-check-archive
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" == *", records not checked (--no-check-archive)" ]]
  run mno-verify --archive "$d/bad.mnoa" --target "$t" --no-check-archive --json
  [ "$(jq -r .archive.checked <<<"$output")" = false ]
  run mno-verify --archive "$VARCH" --target "$t" --json
  [ "$status" -eq 0 ]
  [ "$(jq -r .archive.checked <<<"$output")" = true ]
  run mno-verify --archive "$VARCH" --target "$t"
  [[ "${lines[0]}" == *", records checked against the end lines" ]]
  # the same damage in a zstd archive is caught by zstd's own checksum, always
  zstd -q -c "$d/bad.mnoa" >"$d/bad.mnoa.zst"
  python3 -c 'import sys; p = sys.argv[1]; b = bytearray(open(p, "rb").read()); b[len(b) // 2] ^= 0x20; open(p, "wb").write(b)' "$d/bad.mnoa.zst"
  run mno-verify --archive "$d/bad.mnoa.zst" --target "$t"
  [ "$status" -eq 2 ]
  [[ "$output" == "mno-verify: error: $d/bad.mnoa.zst"*"zstd"* || "$output" == "mno-verify: error: $d/bad.mnoa.zst"*"corrupt"* ]]
  # a lost record line: the count no longer matches
  zstd -dc "$VARCH" | sed '/"id":"9",/d' >"$d/lost.mnoa"
  run mno-verify --archive "$d/lost.mnoa" --target "$t"
  [ "$status" -eq 2 ]
  [[ "$output" == "mno-verify: error: $d/lost.mnoa:"*": section public.users: count mismatch: end line says 150, found 149 records" ]]
  # an end line whose sum was edited: the trailer no longer adds up
  zstd -dc "$VARCH" | sed '/"t":"end","ns":"public.tenants"/s/"sum":"[0-9a-f]/"sum":"f/' >"$d/end.mnoa"
  ! cmp -s <(zstd -dc "$VARCH") "$d/end.mnoa"
  # (checked by default, the end line itself no longer matches its records; with
  # --no-check-archive the trailer still catches it)
  run mno-verify --archive "$d/end.mnoa" --target "$t"
  [ "$status" -eq 2 ]
  [[ "$output" == "mno-verify: error: $d/end.mnoa:"*": section public.tenants: sum mismatch: end line says f"* ]]
  run mno-verify --archive "$d/end.mnoa" --target "$t" --no-check-archive
  [ "$status" -eq 2 ]
  [[ "$output" == "mno-verify: error: $d/end.mnoa:"*"trailer: sum mismatch"* ]]
  zstd -dc "$VARCH" | head -n 100 >"$d/short.mnoa"
  run mno-verify --archive "$d/short.mnoa" --target "$t"
  [ "$status" -eq 2 ]
  [[ "$output" == "mno-verify: error: "*"truncated"* ]]
}

@test "verify pg: bad usage and unreachable targets are errors (exit 2)" {
  run mno-verify --archive "$VARCH"
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "mno-verify: error: no target: give --target URI (or set MNO_TARGET)" ]
  run mno-verify --archive "$VARCH" --target "mongodb://mno:hunter2@127.0.0.1:1/x"
  [ "$status" -eq 2 ]
  [ "$output" = "mno-verify: error: $VARCH:1: the archive is a postgresql archive but the target mongodb://mno@127.0.0.1:1/x is mongodb" ]
  run mno-verify --archive "$VARCH" --target "postgresql://mno_secret:hunter2@127.0.0.1:1/none"
  [ "$status" -eq 2 ]
  [[ "$output" == "mno-verify: error: "*"cannot connect to postgresql"* ]]
  [[ "$output" != *hunter2* ]]
  run mno-verify --target x --max 3 --archive "$VARCH"
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "mno-verify: error: --max goes with --diff" ]
}

@test "verify pg: a shared target: the begin's where restricts both sides to the tenant's rows" {
  t=$(pg_newdb "verify_pg_t$BATS_TEST_NUMBER")
  pg_dump -d "$VSRC" | psql -X -q -v ON_ERROR_STOP=1 -d "$t" >/dev/null
  # another tenant's rows in the shared target do not count; the tenant's own do
  psql -X -q -d "$t" -c "INSERT INTO public.users (id, uid, mnoe_tenant_id) VALUES (500, 'usr-500', 2)"
  zstd -dc "$VARCH" | jq -c 'if .t == "begin" and .ns == "public.users" then . + {where: "mnoe_tenant_id = 1"} elif .t == "begin" and .ns == "public.tenants" then . + {where: "id = 1"} else . end' \
    >"$BATS_TEST_TMPDIR/scoped.raw"
  mno-cat --seal -o "$BATS_TEST_TMPDIR/scoped.mnoa" "$BATS_TEST_TMPDIR/scoped.raw"
  # the where is SQL from the archive: sent to the target only when the operator says so
  line=$(grep -n '"t":"begin","ns":"public.tenants"' "$BATS_TEST_TMPDIR/scoped.raw" | cut -d: -f1)
  for opt in "" --diff --no-check-archive; do
    run mno-verify --archive "$BATS_TEST_TMPDIR/scoped.mnoa" --target "$t" $opt
    [ "$status" -eq 2 ]
    [ "$output" = "mno-verify: error: $BATS_TEST_TMPDIR/scoped.mnoa:$line: section public.tenants: begin's \"where\" is SQL from the archive, run on the target only with --trust-archive (no query of this section was sent)" ]
  done
  run mno-verify --archive "$BATS_TEST_TMPDIR/scoped.mnoa" --target "$t" --trust-archive
  [ "$status" -eq 0 ]
  [ "${lines[1]}" = "target   $t (only the tenant's rows of a shared target)" ]
  [ "${lines[4]}" = "$OK_USERS" ]
  psql -X -q -d "$t" -c "INSERT INTO public.users (id, uid, mnoe_tenant_id) VALUES (501, 'usr-501', 1)"
  run mno-verify --archive "$BATS_TEST_TMPDIR/scoped.mnoa" --target "$t" --diff --trust-archive
  [ "$status" -eq 1 ]
  [[ "$output" == *$'public.users: 1 key differs\n  extra    id=501\n'* ]]
}

@test "verify pg: --diff on 200k rows with 3 differences names exactly those 3 keys" {
  t=$(pg_newdb "verify_pg_t$BATS_TEST_NUMBER")
  psql -X -q -v ON_ERROR_STOP=1 -d "$t" <<'SQL'
CREATE TABLE public.big (id bigint PRIMARY KEY, v text, n numeric);
INSERT INTO public.big SELECT g, 'value ' || g, g / 3.0 FROM generate_series(1, 200000) g;
SQL
  echo 'public.big: global' >"$BATS_TEST_TMPDIR/big.scope"
  mno-dump --quiet --source "$t" --all --scope "$BATS_TEST_TMPDIR/big.scope" -z -o "$BATS_TEST_TMPDIR/big.mnoa.zst"
  psql -X -q -v ON_ERROR_STOP=1 -d "$t" <<'SQL'
UPDATE public.big SET n = 0 WHERE id = 123457;
DELETE FROM public.big WHERE id = 77;
INSERT INTO public.big VALUES (200001, 'new', 1);
SQL
  run mno-verify --archive "$BATS_TEST_TMPDIR/big.mnoa.zst" --target "$t" --diff
  [ "$status" -eq 1 ]
  [[ "${lines[3]}" == "public.big "*" 200000 "*" 200000 "*"  DIFFERS" ]]
  [[ "$output" == *$'\n\npublic.big: 3 keys differ\n  changed  id=123457: n\n  extra    id=200001\n  missing  id=77\nverdict: DIFFERS: 1 of 1 tables do not match (1 DIFFERS)' ]]
  run mno-verify --archive "$BATS_TEST_TMPDIR/big.mnoa.zst" --target "$t" --diff --json
  [ "$status" -eq 1 ]
  [ "$(jq -c '.sections[0] | [.diff, .diff_more]' <<<"$output")" = '[[{"what":"changed","key":{"id":"123457"},"columns":["n"]},{"what":"extra","key":{"id":"200001"}},{"what":"missing","key":{"id":"77"}}],false]' ]
}

@test "verify pg: --diff when the target collates text keys otherwise (ICU) and a row repeats 100 times" {
  s=$(pg_newdb "verify_pg_s$BATS_TEST_NUMBER")
  t=$(pg_newdb "verify_pg_t$BATS_TEST_NUMBER")
  psql -X -q -v ON_ERROR_STOP=1 -d "$s" <<'SQL'
CREATE TABLE public.names (k text COLLATE "C" PRIMARY KEY, v integer);
INSERT INTO public.names SELECT CASE g % 3 WHEN 0 THEN 'a' WHEN 1 THEN 'B' ELSE 'b' END || g, g FROM generate_series(1, 3000) g;
CREATE TABLE public.logs (msg text, n integer);
INSERT INTO public.logs SELECT 'same', 1 FROM generate_series(1, 100);
INSERT INTO public.logs SELECT 'm' || g, g FROM generate_series(1, 500) g;
SQL
  printf 'public.names: global\npublic.logs: global\n' >"$BATS_TEST_TMPDIR/c.scope"
  mno-dump --quiet --source "$s" --all --scope "$BATS_TEST_TMPDIR/c.scope" -o "$BATS_TEST_TMPDIR/c.mnoa"
  # the target orders k as ICU does ("a1" < "B1" < "b1"), the archive as C ("B1" < "a1" < "b1")
  psql -X -q -v ON_ERROR_STOP=1 -d "$t" <<'SQL'
CREATE TABLE public.names (k text COLLATE "und-x-icu" PRIMARY KEY, v integer);
CREATE TABLE public.logs (msg text, n integer);
SQL
  mno-restore --quiet --target "$t" "$BATS_TEST_TMPDIR/c.mnoa"
  run mno-verify --archive "$BATS_TEST_TMPDIR/c.mnoa" --target "$t" --diff
  [ "$status" -eq 0 ]
  psql -X -q -v ON_ERROR_STOP=1 -d "$t" <<'SQL'
UPDATE public.names SET v = -1 WHERE k IN ('B1000', 'a1500', 'b2');
DELETE FROM public.names WHERE k = 'a3';
DELETE FROM public.logs WHERE ctid = (SELECT ctid FROM public.logs WHERE msg = 'same' LIMIT 1);
INSERT INTO public.logs VALUES ('same', 1), ('same', 1), ('same', 2);
SQL
  run mno-verify --archive "$BATS_TEST_TMPDIR/c.mnoa" --target "$t" --diff
  [ "$status" -eq 1 ]
  [[ "$output" == *$'\npublic.names: 4 keys differ\n  changed  k=B1000: v\n  changed  k=a1500: v\n  changed  k=b2: v\n  missing  k=a3\n'* ]]
  # one copy gone and two come back: one more "same" row than the archive's 100, and a new row
  [[ "$output" == *$'\npublic.logs: 2 keys differ\n  extra    msg=same, n=1\n  extra    msg=same, n=2\n'* ]]
}

@test "verify pg: a begin line (key, where, types) or header edited without re-seal is refused, even with --no-check-archive" {
  t=$(new_target)
  d=$BATS_TEST_TMPDIR
  zstd -dc "$VARCH" >"$d/a.mnoa"
  b=$(grep -n '"t":"begin","ns":"public.users"' "$d/a.mnoa" | cut -d: -f1)
  end=$(grep -n '"t":"end","ns":"public.users"' "$d/a.mnoa" | cut -d: -f1)
  was=$(sed -n "${b}p" "$d/a.mnoa" | tr -d '\n' | sha256sum | cut -d' ' -f1)
  for edit in 's/"key":\["id"\]/"key":["uid"]/' 's/"key":\["id"\]}/"key":["id"],"where":"id < 10"}/' \
              's/"type":"jsonb"/"type":"json"/'; do
    sed "${b}$edit" "$d/a.mnoa" >"$d/e.mnoa"
    now=$(sed -n "${b}p" "$d/e.mnoa" | tr -d '\n' | sha256sum | cut -d' ' -f1)
    [ "$now" != "$was" ]
    for opt in "" --no-check-archive --diff; do
      run mno-verify --archive "$d/e.mnoa" --target "$t" --trust-archive $opt
      [ "$status" -eq 2 ]
      [ "$output" = "mno-verify: error: $d/e.mnoa:$end: section public.users: begin line digest mismatch: end line says $was, computed $now (the begin line was changed; mno-cat --seal accepts a deliberate edit)" ]
    done
  done
  # re-sealed, the edit is accepted (the where then selects fewer target rows: a difference, exit 1)
  sed "${b}s/\"key\":\\[\"id\"\\]}/\"key\":[\"id\"],\"where\":\"id < 10\"}/" "$d/a.mnoa" | mno-cat --seal -o "$d/sealed.mnoa" -
  run mno-verify --archive "$d/sealed.mnoa" --target "$t" --no-extra --trust-archive
  [ "$status" -eq 1 ]
}
