#!/usr/bin/env bats
# 75-live-rename.bats: mno-rename-tenant on the connector fixture: plan, do, rerun (no change),
# undo, the values equal to before (dump sums), uid collisions refused with the uids, --merge,
# the checklist line, undo refused after a concurrent change, kill -9 between the two tables'
# updates (one transaction: no half-renamed tenant), other tenants untouched.

setup_file() {
  export MNO_TOP=${MNO_TOP:-$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}
  export PATH="$MNO_BIN:$PATH"
  . "$MNO_TOP/tests/lib/env.sh"
  export CONN HUB
  CONN=$(pg_newdb live_ren_conn)
  HUB=$(pg_newdb live_ren_hub)
  "$MNO_TOP/tests/fixtures/load" connector "$CONN"
  psql -X -q -v ON_ERROR_STOP=1 -d "$HUB" -f "$MNO_TOP/tests/fixtures/mnohub.sql"
  export MNO_SCOPE_DIR=$MNO_TOP/filters
}

setup() {
  . "$MNO_TOP/tests/lib/env.sh"
  . "$MNO_TOP/tests/lib/live.sh"
  cd "$BATS_TEST_TMPDIR"
}

teardown() {
  psql -X -q -d "$MNO_TEST_PG_URI" -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'mno-test-lock'" >/dev/null 2>&1 || true
}

fresh_conn() {
  local u
  u=$(pg_newdb "live_ren_c$BATS_TEST_NUMBER")
  pg_dump -d "$CONN" | psql -X -q -v ON_ERROR_STOP=1 -d "$u" >/dev/null
  echo "$u"
}

q() { psql -X -At -d "$1" -c "$2"; }
tenants() { q "$1" "SELECT 'o', tenant, count(*) FROM public.organizations GROUP BY 2 UNION ALL SELECT 'u', tenant, count(*) FROM public.users GROUP BY 2 ORDER BY 1, 2"; }

@test "rename: --plan prints both tables' statements and rows and changes nothing" {
  c=$(fresh_conn)
  before=$(tenants "$c")
  run mno-rename-tenant --target "$c" --from acme --to asb --plan
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "$(printf 'public.organizations\tUPDATE "public"."organizations" t SET "tenant" = '"'asb'"' WHERE (t."tenant"::text = '"'acme'"') AND NOT (t."tenant" IS NOT DISTINCT FROM '"'asb'"')\t6')" ]
  [ "${lines[1]}" = "$(printf 'public.users\tUPDATE "public"."users" t SET "tenant" = '"'asb'"' WHERE (t."tenant"::text = '"'acme'"') AND NOT (t."tenant" IS NOT DISTINCT FROM '"'asb'"')\t16')" ]
  [ "${#lines[@]}" -eq 2 ]
  [ "$(tenants "$c")" = "$before" ]
  [ -z "$(ls)" ]
}

@test "rename: do, rerun (nothing to change), undo: values and sums as before, other tenants untouched, checklist line" {
  c=$(fresh_conn)
  for t in acme globex initech; do sums "$c" $t before-$t; done
  run mno-rename-tenant --target "$c" --from acme --to asb --undo-file u.mnoa
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "mno-rename-tenant: tenant 'acme' -> 'asb' in connector database 'live_ren_c2': 22 rows to change" ]
  [ "${lines[3]}" = "undo archive: u.mnoa" ]
  [ "${lines[4]}" = "done: 22 rows changed in one transaction" ]
  [ "${lines[5]}" = "mno-rename-tenant: checklist: outside the database, move the webhook path /maestrano/connec/notifications/acme to /maestrano/connec/notifications/asb and the connector's tenant configuration (Maestrano[asb], cache key connec_version_asb) to the new name; this tool cannot change them" ]
  [ "$(q "$c" "SELECT count(*) FROM public.organizations WHERE tenant = 'asb'")" = 6 ]
  [ "$(q "$c" "SELECT count(*) FROM public.users WHERE tenant = 'asb'")" = 16 ]
  [ "$(q "$c" "SELECT count(*) FROM public.organizations WHERE tenant = 'acme'") $(q "$c" "SELECT count(*) FROM public.users WHERE tenant = 'acme'")" = "0 0" ]
  # the tenant's dump under its new name: the same rows but the tenant column
  sums "$c" asb after-asb
  [ "$(cut -f1,2 after-asb)" = "$(cut -f1,2 before-acme)" ]
  for t in globex initech; do sums "$c" $t after-$t; diff before-$t after-$t; done
  run mno-rename-tenant --target "$c" --from acme --to asb --json
  [ "$status" -eq 0 ]
  [ "$(echo "$output" | jq -c '[.rows, .changed, .undo_file]')" = '[0,false,null]' ]
  run mno-rename-tenant --target "$c" --from acme --to asb
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "mno-rename-tenant: tenant 'acme' -> 'asb' in connector database 'live_ren_c2': nothing to change (no row holds the old name: already renamed)" ]
  run mno-rename-tenant --target "$c" --undo u.mnoa
  [ "$status" -eq 0 ]
  [ "${lines[${#lines[@]}-1]}" = "done: 22 rows restored in one transaction" ]
  for t in acme globex initech; do sums "$c" $t undone-$t; diff before-$t undone-$t; done
}

@test "rename: refused when a uid is under both names, listing the uids; --merge does not lift it" {
  c=$(fresh_conn)
  before=$(tenants "$c")
  # the fixture's globex holds near-miss rows with acme's uids
  want_o=$(q "$c" "SELECT string_agg(uid, ', ' ORDER BY uid) FROM (SELECT DISTINCT uid FROM public.organizations WHERE tenant = 'acme' AND uid IN (SELECT uid FROM public.organizations WHERE tenant = 'globex')) s")
  want_u=$(q "$c" "SELECT string_agg(uid, ', ' ORDER BY uid) FROM (SELECT DISTINCT uid FROM public.users WHERE tenant = 'acme' AND uid IN (SELECT uid FROM public.users WHERE tenant = 'globex')) s")
  [ -n "$want_o" ] && [ -n "$want_u" ]
  for merge in "" --merge; do
    run mno-rename-tenant --target "$c" --from acme --to globex $merge
    [ "$status" -eq 2 ]
    [ "$output" = "mno-rename-tenant: error: rename refused: tenant 'globex' already holds rows with the same unique values as 'acme' (public.organizations: $want_o; public.users: $want_u); nothing was changed" ]
  done
  [ "$(tenants "$c")" = "$before" ]
  [ -z "$(ls)" ]
}

@test "rename: NEW already holding rows needs --merge; with it and no collision the tenants join" {
  c=$(fresh_conn)
  q "$c" "UPDATE public.organizations SET tenant = 'asb' WHERE id = (SELECT max(id) FROM public.organizations WHERE tenant = 'initech')" >/dev/null
  run mno-rename-tenant --target "$c" --from initech --to asb
  [ "$status" -eq 2 ]
  [ "$output" = "mno-rename-tenant: error: rename refused: tenant 'asb' already exists (1 rows); give --merge to join 'initech' to it (no unique value collides); nothing was changed" ]
  run mno-rename-tenant --target "$c" --from initech --to asb --merge --undo-file m.mnoa
  [ "$status" -eq 0 ]
  [ "$(q "$c" "SELECT count(*) FROM public.organizations WHERE tenant = 'asb'")" = 7 ]
  # the undo puts back only what the rename moved
  run mno-rename-tenant --target "$c" --undo m.mnoa
  [ "$status" -eq 0 ]
  [ "$(q "$c" "SELECT count(*) FROM public.organizations WHERE tenant = 'asb'")" = 1 ]
}

@test "rename: unknown tenant, a MnoHub target, the same name twice: exit 2, nothing changed" {
  c=$(fresh_conn)
  run mno-rename-tenant --target "$c" --from nobody --to asb
  [ "$status" -eq 2 ]
  [ "$output" = "mno-rename-tenant: error: tenant 'nobody' not found in public.organizations, public.users" ]
  run mno-rename-tenant --target "$HUB" --from acme --to asb
  [ "$status" -eq 2 ]
  [ "$output" = "mno-rename-tenant: error: database 'live_ren_hub' is a mnohub database: mno-rename-tenant renames a tenant in a connector database" ]
  run mno-rename-tenant --target "$c" --from acme --to acme
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "mno-rename-tenant: error: --from and --to are the same name" ]
  printf 'connector public.organizations: unique nope\n' >bad.rules
  run mno-rename-tenant --target "$c" --from acme --to asb --rules bad.rules
  [ "$status" -eq 2 ]
  [ "$output" = "mno-rename-tenant: error: bad.rules:1: public.organizations: no column 'nope'" ]
  # an undo archive of another tool
  mno-disconnect --target "$c" --tenant acme --undo-file d.mnoa >/dev/null
  run mno-rename-tenant --target "$c" --undo d.mnoa
  [ "$status" -eq 2 ]
  [ "$output" = "mno-rename-tenant: error: d.mnoa:1: an undo archive of mno-disconnect, not of mno-rename-tenant" ]
}

@test "rename: undo refused after a concurrent change of a row's tenant, keys named" {
  c=$(fresh_conn)
  mno-rename-tenant --target "$c" --from acme --to asb --undo-file u.mnoa >/dev/null 2>&1
  id=$(q "$c" "SELECT min(id) FROM public.users WHERE tenant = 'asb'")
  q "$c" "UPDATE public.users SET tenant = 'elsewhere' WHERE id = $id" >/dev/null
  before=$(tenants "$c")
  run mno-rename-tenant --target "$c" --undo u.mnoa
  [ "$status" -eq 2 ]
  [ "$output" = "mno-rename-tenant: error: u.mnoa: undo refused: 1 row changed since mno-rename-tenant set it (putting the prior values back would overwrite someone else's write): public.users id=$id; nothing was changed" ]
  [ "$(tenants "$c")" = "$before" ]
}

@test "rename: kill -9 between the two tables' updates: one transaction, no half-renamed tenant; rerun renames" {
  c=$(fresh_conn)
  before=$(tenants "$c")
  sums "$c" acme acme-before
  # users held with a SHARE lock: organizations is updated, users waits
  lock_hold "$c" "BEGIN; LOCK TABLE public.users IN SHARE MODE;"
  mno-rename-tenant --target "$c" --from acme --to asb --undo-file u.mnoa >out 2>&1 &
  pid=$!
  wait_for 'backend_waiting "UPDATE %users%"'
  kill -9 $pid
  wait $pid || true
  lock_release
  wait_for 'backend_gone "UPDATE %users%"'
  [ "$(tenants "$c")" = "$before" ]
  sums "$c" acme acme-after
  diff acme-before acme-after
  run mno-rename-tenant --target "$c" --undo u.mnoa --json
  [ "$status" -eq 0 ]
  [ "$(echo "$output" | jq -c '[.restored, [.tables[].already]]')" = '[0,[6,16]]' ]
  run mno-rename-tenant --target "$c" --from acme --to asb --undo-file u2.mnoa
  [ "$status" -eq 0 ]
  [ "$(q "$c" "SELECT count(*) FROM public.users WHERE tenant = 'asb'")" = 16 ]
}
