#!/usr/bin/env bats
# 20-dump-pg.bats: mno-dump against PostgreSQL on the fixtures: the tenant's rows exactly (as
# tests/fixtures/expect.sql says, independently of the scope), no other tenant's values,
# referential completeness, every edge value equal to psql's COPY output, sums equal to the
# server's, one snapshot under a concurrent writer, -j 2 = -j 1, --plan, and the errors.

setup_file() {
  export MNO_TOP=${MNO_TOP:-$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}
  export PATH="$MNO_BIN:$PATH"
  . "$MNO_TOP/tests/lib/env.sh"
  export D=$BATS_TEST_DIRNAME/20-dump-pg
  export HUB CONN
  HUB=$(pg_newdb dump_pg_hub)
  CONN=$(pg_newdb dump_pg_conn)
  "$MNO_TOP/tests/fixtures/load" mnohub "$HUB"
  "$MNO_TOP/tests/fixtures/load" connector "$CONN"
  export A=$BATS_FILE_TMPDIR
  for t in acme globex initech; do
    mno-dump --source "$HUB" --tenant "$t" --scope "$MNO_TOP/filters/mnohub.scope" --quiet -o "$A/$t.mnoa"
  done
  psql -X -At -d "$HUB" -c "SELECT uid FROM public.organizations" >"$A/org-uids"
}

setup() {
  . "$MNO_TOP/tests/lib/env.sh"
  export PGOPTIONS="-c TimeZone=UTC -c DateStyle=ISO -c IntervalStyle=postgres -c extra_float_digits=3 -c bytea_output=hex"
}

teardown() {
  # the concurrent writer's session, should its test stop early
  psql -X -q -d "$MNO_TEST_PG_URI" -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'mno-test-writer'" >/dev/null 2>&1 || true
}

# body FILE: the archive without its header line and the trailer's digest of it and mac (they
# differ with the header's id and time)
body() {
  tail -n +2 "$1" | sed -E 's/,"(header_sha256|mac)":"[0-9a-f]{64}"//g'
}

hub_dump() { mno-dump --source "$HUB" --scope "$MNO_TOP/filters/mnohub.scope" --quiet "$@"; }

@test "dump pg: each tenant's archive holds exactly the rows expect.sql gives, table by table" {
  for t in acme globex initech; do
    python3 "$D/check.py" rows "$A/$t.mnoa" >"$A/$t.got"
    psql -X -At -F $'\t' -v tenant="$t" -f "$MNO_TOP/tests/fixtures/expect.sql" -d "$HUB" | sort >"$A/$t.want"
    diff "$A/$t.want" "$A/$t.got"
    [ "$(wc -l <"$A/$t.got")" -gt 500 ]
  done
  # the sections: every table of the schema, parents first
  run mno-cat --list "$A/acme.mnoa"
  [ "$status" -eq 0 ]
  echo "$output" | cut -f1 | tr '\n' ' ' >"$A/order"
  [ "$(cat "$A/order")" = "public.apps public.products public.product_pricings public.tenants public.invoices public.organizations public.app_instances public.bills public.sub_tenants public.teams public.users public.audit_events public.credit_cards public.dashboards public.deletion_requests public.identities public.org_invites public.orga_relations public.subscriptions public.widgets " ]
}

@test "dump pg: no uid or email of another tenant appears anywhere in a tenant's archive" {
  for t in acme globex initech; do
    psql -X -At -d "$HUB" -v t="$t" >"$A/foreign" <<'SQL'
SELECT o.uid FROM public.organizations o JOIN public.tenants t ON t.id = o.mnoe_tenant_id WHERE t.name <> :'t'
UNION ALL SELECT u.uid FROM public.users u JOIN public.tenants t ON t.id = u.mnoe_tenant_id WHERE t.name <> :'t'
UNION ALL SELECT u.email FROM public.users u JOIN public.tenants t ON t.id = u.mnoe_tenant_id WHERE t.name <> :'t'
UNION ALL SELECT a.uid FROM public.app_instances a JOIN public.organizations o ON o.id = a.owner_id AND a.owner_type = 'Organization'
  JOIN public.tenants t ON t.id = o.mnoe_tenant_id WHERE t.name <> :'t'
SQL
    [ "$(wc -l <"$A/foreign")" -gt 20 ]
    run python3 "$D/check.py" absent "$A/$t.mnoa" "$A/foreign"
    if [ "$t" = initech ]; then
      # the fixtures' near miss: an initech widget's free-text note says "copied from
      # org-acme-1" (not a reference: the widget's organization_ids are initech's)
      [ "$status" -eq 1 ]
      [ "$output" = "org-acme-1" ]
      [ "$(grep -c 'org-acme-1' "$A/$t.mnoa")" -eq "$(grep -c 'copied from org-acme-1\|xorg-acme-1,org-acme-1_old' "$A/$t.mnoa")" ]
    else
      [ "$status" -eq 0 ]
      [ "$output" = "" ]
    fi
  done
}

@test "dump pg: every reference in a dumped row resolves inside the archive (FK, polymorphic pair, uid in text and json)" {
  for t in acme globex initech; do
    run python3 "$D/check.py" refs "$A/$t.mnoa" "$A/org-uids"
    [ "$status" -eq 0 ]
    [ "$output" = "" ]
  done
}

@test "dump pg: every edge value equals psql's COPY output of the same rows; mno-cat --check passes" {
  run mno-cat --check "$A/acme.mnoa"
  [ "$status" -eq 0 ]
  for ns in $(mno-cat --list "$A/acme.mnoa" | cut -f1); do
    ids=$(jq -r --arg ns "$ns" 'select(.t == "rec" and .ns == $ns) | .v.id' "$A/acme.mnoa" | paste -sd,)
    [ -n "$ids" ]
    psql -X -v ON_ERROR_STOP=1 -d "$HUB" -c "\\copy (SELECT * FROM $ns WHERE id IN ($ids) ORDER BY id) TO STDOUT" >"$A/want.copy"
    python3 "$D/check.py" copy "$A/acme.mnoa" "$ns" >"$A/got.copy"
    cmp "$A/want.copy" "$A/got.copy"
  done
  # acme holds the edge values: a 1 MB text, every byte in bytea, NaN/Infinity, BC dates
  grep -q '"NaN"' "$A/acme.mnoa"
  grep -q ' BC"' "$A/acme.mnoa"
  grep -q '\\\\x000102030405' "$A/acme.mnoa"
}

@test "dump pg: --all: every section's count and sum equal the server's (mno-verify on the source)" {
  hub_dump --all -o "$A/all.mnoa.zst"
  run mno-verify --archive "$A/all.mnoa.zst" --target "$HUB"
  [ "$status" -eq 0 ]
  [[ "${lines[-1]}" == "verdict: ok: 20 of 20 tables match, "*" records" ]]
  [ "$(stat -c %a "$A/all.mnoa.zst")" = 600 ]
  [ ! -e "$A/all.mnoa.zst.partial" ]
}

@test "dump pg: -j 2 writes the same records and sums as -j 1" {
  hub_dump --tenant acme -j 2 -o "$A/acme-j2.mnoa"
  diff <(body "$A/acme.mnoa") <(body "$A/acme-j2.mnoa")
  hub_dump --all -j 1 -o "$A/all-j1.mnoa"
  hub_dump --all -j 3 -o "$A/all-j3.mnoa"
  diff <(body "$A/all-j1.mnoa") <(body "$A/all-j3.mnoa")
}

@test "dump pg: the tenant by id gives the same archive as by name; MNO_SOURCE gives the source" {
  id=$(psql -X -At -d "$HUB" -c "SELECT id FROM public.tenants WHERE name = 'globex'")
  MNO_SOURCE=$HUB mno-dump --tenant "$id" --scope "$MNO_TOP/filters/mnohub.scope" --quiet -o "$A/g.mnoa"
  diff <(body "$A/globex.mnoa") <(body "$A/g.mnoa")
}

@test "dump pg: the connector scope keys by the tenant column" {
  mno-dump --source "$CONN" --tenant acme --scope "$MNO_TOP/filters/connector.scope" --quiet -o "$A/conn.mnoa"
  jq -r 'select(.t == "rec") | [(.ns | sub("public.";"")), .v.id] | @tsv' "$A/conn.mnoa" | sort >"$A/conn.got"
  psql -X -At -F $'\t' -d "$CONN" <<'SQL' | sort >"$A/conn.want"
WITH o AS (SELECT id FROM public.organizations WHERE tenant = 'acme'),
     u AS (SELECT id FROM public.users WHERE tenant = 'acme')
SELECT 'organizations', id FROM o
UNION ALL SELECT 'users', id FROM u
UNION ALL SELECT 'user_organization_rels', id FROM public.user_organization_rels
  WHERE organization_id IN (SELECT id FROM o) AND user_id IN (SELECT id FROM u)
UNION ALL SELECT 'id_maps', id FROM public.id_maps WHERE organization_id IN (SELECT id FROM o)
UNION ALL SELECT 'synchronizations', id FROM public.synchronizations WHERE organization_id IN (SELECT id FROM o)
SQL
  diff "$A/conn.want" "$A/conn.got"
  [ "$(wc -l <"$A/conn.got")" -gt 20 ]
  ! jq -r 'select(.t == "rec") | .v.tenant // empty' "$A/conn.mnoa" | grep -v '^acme$'
}

@test "dump pg: --plan prints per table the rule, the SQL and the row count, and dumps nothing" {
  cd "$BATS_TEST_TMPDIR"
  run hub_dump --tenant acme --plan
  [ "$status" -eq 0 ]
  [ "${#lines[@]}" -eq 20 ]
  [ "${lines[0]}" = $'public.apps\tglobal\tSELECT t."id", t."uid", t."nid", t."name", t."stack", t."api_key", t."rank", t."created_at", t."updated_at" FROM ONLY "public"."apps" t ORDER BY t."id"\t'"$(psql -X -At -d "$HUB" -c 'SELECT count(*) FROM public.apps')" ]
  [[ "${lines[3]}" == $'public.tenants\troot name id\tSELECT '*$' FROM ONLY "public"."tenants" t WHERE (t."name"::text = current_setting(\'mno.tenant\') OR t."id"::text = current_setting(\'mno.tenant\')) ORDER BY t."id"\t1' ]]
  want=$(grep -c $'^widgets\t' "$A/acme.want")
  [[ "${lines[19]}" == $'public.widgets\tparent dashboard_id -> public.dashboards.id or uids json settings at organization_ids -> public.organizations.uid\tSELECT '*$'\t'"$want" ]]
  [ -z "$(ls -A "$BATS_TEST_TMPDIR")" ]
}

@test "dump pg: tables the scope does not mention are an error naming them all; --skip-unscoped names them on stderr" {
  grep -v -e '^public.teams:' -e '^public.identities:' "$MNO_TOP/filters/mnohub.scope" >"$BATS_TEST_TMPDIR/part.scope"
  run mno-dump --source "$HUB" --tenant acme --scope "$BATS_TEST_TMPDIR/part.scope" -o "$BATS_TEST_TMPDIR/x.mnoa"
  [ "$status" -eq 2 ]
  [[ "$output" == "mno-dump: error: "*"'public.identities', 'public.teams'"* ]]
  [ ! -e "$BATS_TEST_TMPDIR/x.mnoa" ]
  run mno-dump --source "$HUB" --tenant acme --scope "$BATS_TEST_TMPDIR/part.scope" --skip-unscoped --quiet -o "$BATS_TEST_TMPDIR/x.mnoa"
  [ "$status" -eq 0 ]
  [[ "$output" == *"'public.identities'"* ]]
  [[ "$output" == *"'public.teams'"* ]]
  [ "$(mno-cat --list "$BATS_TEST_TMPDIR/x.mnoa" | wc -l)" -eq 18 ]
}

@test "dump pg: unknown tenant -> exit 2, the message, no output file" {
  run hub_dump --tenant umbrella -o "$BATS_TEST_TMPDIR/u.mnoa"
  [ "$status" -eq 2 ]
  [ "$output" = "mno-dump: error: tenant 'umbrella' not found in public.tenants" ]
  [ -z "$(ls -A "$BATS_TEST_TMPDIR")" ]
}

@test "dump pg: unreachable server, bad URI, wrong password -> exit 2, no credential printed" {
  port=$(_mno_pg_free_port)
  run mno-dump --source "postgresql://postgres:Hunter2pw@127.0.0.1:$port/x" --tenant acme --scope "$MNO_TOP/filters/mnohub.scope" -o "$BATS_TEST_TMPDIR/u.mnoa"
  [ "$status" -eq 2 ]
  [[ "$output" == "mno-dump: error: "*"cannot connect to postgresql"*"Connection refused"* ]]
  [[ "$output" != *Hunter2pw* ]]
  run mno-dump --source "postgresql://postgres:Hunter2pw@127.0.0.1:$MNO_TEST_PGPORT/x?sslmode=nonsense" --tenant acme --scope "$MNO_TOP/filters/mnohub.scope"
  [ "$status" -eq 2 ]
  [[ "$output" == "mno-dump: error: "*"sslmode"* ]]
  [[ "$output" != *Hunter2pw* ]]
  bad=${MNO_TEST_PG_SECRET_URI/:$MNO_TEST_PG_PASSWORD@/:wrong-$MNO_TEST_PG_PASSWORD@}
  run mno-dump --source "$bad" --tenant acme --scope "$MNO_TOP/filters/mnohub.scope" -o "$BATS_TEST_TMPDIR/u.mnoa"
  [ "$status" -eq 2 ]
  [[ "$output" == *'password authentication failed for user "mno_secret"'* ]]
  [[ "$output" != *"$MNO_TEST_PG_PASSWORD"* ]]
  [ -z "$(ls -A "$BATS_TEST_TMPDIR")" ]
}

@test "dump pg: permission denied on a table -> exit 2, the server's message, no output file" {
  psql -X -q -v ON_ERROR_STOP=1 -d "$HUB" <<'SQL'
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'dump_pg_reader') THEN CREATE ROLE dump_pg_reader LOGIN; END IF;
END $$;
GRANT USAGE ON SCHEMA public TO dump_pg_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO dump_pg_reader;
REVOKE SELECT ON public.identities FROM dump_pg_reader;
SQL
  src="postgresql://dump_pg_reader@127.0.0.1:$MNO_TEST_PGPORT/dump_pg_hub"
  for j in 1 3; do
    run mno-dump --source "$src" --tenant acme --scope "$MNO_TOP/filters/mnohub.scope" -j $j -o "$BATS_TEST_TMPDIR/p.mnoa"
    [ "$status" -eq 2 ]
    [[ "$output" == "mno-dump: error: "*"public.identities"*"permission denied for table identities"* ]]
  done
  [ -z "$(ls -A "$BATS_TEST_TMPDIR")" ]
}

@test "dump pg: a query that fails mid-dump -> exit 2, the section and the server's message, no output file" {
  u=$(pg_newdb dump_pg_fail)
  psql -X -q -v ON_ERROR_STOP=1 -d "$u" <<'SQL'
CREATE TABLE public.tenants (id bigint PRIMARY KEY, name text);
CREATE TABLE public.notes (id bigint PRIMARY KEY, body text, refs text);
INSERT INTO public.tenants VALUES (1, 'acme');
INSERT INTO public.notes VALUES (1, 'fine', '["acme"]'), (2, 'broken', '{not json');
SQL
  printf 'tenants: root name\nnotes: uids json refs -> tenants.name\n' >"$BATS_TEST_TMPDIR/f.scope"
  for j in 1 2; do
    run mno-dump --source "$u" --tenant acme --scope "$BATS_TEST_TMPDIR/f.scope" -j $j -o "$BATS_TEST_TMPDIR/f.mnoa"
    [ "$status" -eq 2 ]
    [[ "$output" == "mno-dump: error: "*"public.notes"*"invalid input syntax for type json"* ]]
    [ ! -e "$BATS_TEST_TMPDIR/f.mnoa" ]
    [ ! -e "$BATS_TEST_TMPDIR/f.mnoa.partial" ]
  done
}

@test "dump pg: a writer changing rows during the dump does not make the archive inconsistent" {
  u=$(pg_newdb dump_pg_live)
  "$MNO_TOP/tests/fixtures/load" mnohub "$u"
  # each writer transaction sets one organization's employees to i and adds audit event i:
  # in any one snapshot, employees = the number of writer events = the largest of them
  org=$(psql -X -At -d "$u" -c "SELECT min(id) FROM public.organizations WHERE mnoe_tenant_id = (SELECT id FROM public.tenants WHERE name = 'acme')")
  psql -X -q -d "$u" -c "UPDATE public.organizations SET employees = 0 WHERE id = $org"
  PGAPPNAME=mno-test-writer psql -X -q -d "$u" >/dev/null 2>&1 3>&- <<SQL &
DO \$\$
BEGIN
  FOR i IN 1..1000000 LOOP
    UPDATE public.organizations SET employees = i, updated_at = now() WHERE id = $org;
    INSERT INTO public.audit_events (id, key, organization_id, description, created_at)
      VALUES (900000000 + i, 'writer', $org, i::text, now());
    UPDATE public.users SET surname = 'w' || i WHERE mnoe_tenant_id = (SELECT id FROM public.tenants WHERE name = 'acme');
    COMMIT;
  END LOOP;
END \$\$;
SQL
  writer=$!
  for i in $(seq 1 200); do
    [ "$(psql -X -At -d "$u" -c "SELECT count(*) FROM public.audit_events WHERE key = 'writer'")" -gt 5 ] && break
    sleep 0.05
  done
  for j in 1 2 1 2; do
    mno-dump --source "$u" --tenant acme --scope "$MNO_TOP/filters/mnohub.scope" -j $j --quiet -o "$BATS_TEST_TMPDIR/live.mnoa"
    mno-cat --check "$BATS_TEST_TMPDIR/live.mnoa"
    emp=$(jq -r --arg id "$org" 'select(.t == "rec" and .ns == "public.organizations" and .v.id == $id) | .v.employees' "$BATS_TEST_TMPDIR/live.mnoa")
    n=$(jq -r 'select(.t == "rec" and .ns == "public.audit_events" and .v.key == "writer") | .v.description' "$BATS_TEST_TMPDIR/live.mnoa" | wc -l)
    max=$(jq -r 'select(.t == "rec" and .ns == "public.audit_events" and .v.key == "writer") | .v.description' "$BATS_TEST_TMPDIR/live.mnoa" | sort -n | tail -1)
    [ "$emp" -gt 0 ]
    [ "$emp" = "$n" ]
    [ "$emp" = "$max" ]
    # every acme user carries the surname of that same transaction
    [ "$(jq -r 'select(.t == "rec" and .ns == "public.users") | .v.surname' "$BATS_TEST_TMPDIR/live.mnoa" | sort -u)" = "w$emp" ]
    python3 "$D/check.py" refs "$BATS_TEST_TMPDIR/live.mnoa" "$A/org-uids"
  done
  kill "$writer" 2>/dev/null || true
  psql -X -q -d "$u" -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'mno-test-writer'" >/dev/null
  wait "$writer" 2>/dev/null || true
}

@test "dump pg: dump -> mno-restore --create into an empty database -> dump again gives the same records" {
  # an authenticated archive (MNO_ARCHIVE_KEY): --create runs its ddl (docs/restore.md)
  export MNO_ARCHIVE_KEY=dump-pg-test-key
  hub_dump --tenant acme -o "$BATS_TEST_TMPDIR/keyed.mnoa"
  [[ "$(tail -n 1 "$BATS_TEST_TMPDIR/keyed.mnoa" | jq -r .mac)" =~ ^[0-9a-f]{64}$ ]]
  diff <(body "$A/acme.mnoa") <(body "$BATS_TEST_TMPDIR/keyed.mnoa")
  t=$(pg_newdb dump_pg_rt)
  run mno-restore --target "$t" --create --quiet "$BATS_TEST_TMPDIR/keyed.mnoa"
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  run mno-verify --archive "$A/acme.mnoa" --target "$t"
  [ "$status" -eq 0 ]
  [[ "${lines[-1]}" == "verdict: ok: 20 of 20 tables match, "*" records" ]]
  # the restored database is a MnoHub of one tenant: the same scope dumps the same sections
  # (the DDL carries no foreign keys, so sections that only they ordered may come in another order)
  mno-dump --source "$t" --tenant acme --scope "$MNO_TOP/filters/mnohub.scope" --quiet -o "$BATS_TEST_TMPDIR/again.mnoa"
  diff <(body "$A/acme.mnoa" | sort) <(body "$BATS_TEST_TMPDIR/again.mnoa" | sort)
  diff <(mno-cat --list "$A/acme.mnoa" | sort) <(mno-cat --list "$BATS_TEST_TMPDIR/again.mnoa" | sort)
}

@test "dump pg: an archive without a mac: --create makes the tables from their columns and key, says so" {
  t=$(pg_newdb dump_pg_rt_nokey)
  run mno-restore --target "$t" --create --quiet "$A/acme.mnoa"
  [ "$status" -eq 0 ]
  [ "$output" = "mno-restore: note: 20 tables created from the archive's columns and key only; its ddl was not run: the archive is not authenticated (MNO_ARCHIVE_KEY, a FILE checked first) and --trust-archive was not given" ]
  run mno-verify --archive "$A/acme.mnoa" --target "$t"
  [ "$status" -eq 0 ]
  # the key is the primary key; the ddl's unique constraint is not there
  [ "$(psql -X -At -d "$t" -c "SELECT string_agg(conname, ',' ORDER BY conname) FROM pg_constraint WHERE conrelid = 'public.organizations'::regclass")" = organizations_pkey ]
  # with a key set, an archive without a mac is not authenticated either
  run env MNO_ARCHIVE_KEY=other mno-restore --target "$(pg_newdb dump_pg_rt_other)" --create --quiet "$A/acme.mnoa"
  [ "$status" -eq 0 ]
  [[ "$output" == "mno-restore: note: 20 tables created from the archive's columns and key only;"* ]]
}

@test "dump pg: without --scope the source kind picks filters/mnohub.scope or filters/connector.scope" {
  mno-dump --source "$HUB" --tenant acme --quiet -o "$BATS_TEST_TMPDIR/h.mnoa"
  [ "$(head -1 "$BATS_TEST_TMPDIR/h.mnoa" | jq -r .source)" = mnohub ]
  diff <(body "$A/acme.mnoa") <(body "$BATS_TEST_TMPDIR/h.mnoa")
  mno-dump --source "$CONN" --tenant acme --quiet -o "$BATS_TEST_TMPDIR/c.mnoa"
  [ "$(head -1 "$BATS_TEST_TMPDIR/c.mnoa" | jq -r .source)" = connector ]
  [ "$(mno-cat --list "$BATS_TEST_TMPDIR/c.mnoa" | cut -f1 | tr '\n' ' ')" = "public.organizations public.id_maps public.synchronizations public.users public.user_organization_rels " ]
}
