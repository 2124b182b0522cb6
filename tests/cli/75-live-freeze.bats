#!/usr/bin/env bats
# 75-live-freeze.bats: mno-freeze on the fixtures after a real migration of tenant acme (MnoHub
# dumped, restored, verified; Connec! likewise): refused without a report, with a DIFFERS
# report, with another tenant's report, without the Connec! report, when the source changed
# after the dump; then freeze, rerun (no change), unfreeze (sums as before), other tenants
# untouched, unfreeze refused after a concurrent change.

setup_file() {
  export MNO_TOP=${MNO_TOP:-$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}
  export PATH="$MNO_BIN:$PATH"
  . "$MNO_TOP/tests/lib/env.sh"
  mno_shm_sweep
  export HUB ENT CX CXE R=$BATS_FILE_TMPDIR
  HUB=$(pg_newdb live_frz_hub)
  ENT=$(pg_newdb live_frz_ent)
  CX=$(mongo_newdb live_frz_connec)
  CXE=$(mongo_newdb live_frz_connec_ent)
  "$MNO_TOP/tests/fixtures/load" mnohub "$HUB"
  "$MNO_TOP/tests/fixtures/load" connec "$CX"
  export MNO_SCOPE_DIR=$MNO_TOP/filters
  # the migration of acme: dump, restore, verify (the reports freeze needs)
  mno-dump --source "$HUB" --tenant acme --quiet -o "$R/hub.mnoa"
  mno-restore --target "$ENT" --create --quiet "$R/hub.mnoa"
  mno-verify --archive "$R/hub.mnoa" --target "$ENT" --json -o "$R/hub.json"
  mno-dump --source "$CX" --tenant acme --orgs-from "$R/hub.mnoa" --quiet -o "$R/connec.mnoa"
  mno-restore --target "$CXE" --create --quiet "$R/connec.mnoa"
  mno-verify --archive "$R/connec.mnoa" --target "$CXE" --json -o "$R/connec.json"
  # globex's MnoHub report (another tenant)
  G=$(pg_newdb live_frz_ent_g)
  mno-dump --source "$HUB" --tenant globex --quiet -o "$R/globex.mnoa"
  mno-restore --target "$G" --create --quiet "$R/globex.mnoa"
  mno-verify --archive "$R/globex.mnoa" --target "$G" --json -o "$R/globex.json"
  # a report with a DIFFERS row: the enterprise copy lost a user
  D=$(pg_newdb live_frz_ent_d)
  mno-restore --target "$D" --create --quiet "$R/hub.mnoa"
  psql -X -q -d "$D" -c "DELETE FROM public.identities; DELETE FROM public.users WHERE id = (SELECT max(id) FROM public.users)"
  mno-verify --archive "$R/hub.mnoa" --target "$D" --json -o "$R/differs.json" || true
}

setup() {
  . "$MNO_TOP/tests/lib/env.sh"
  . "$MNO_TOP/tests/lib/live.sh"
  mno_shm_sweep
  cd "$BATS_TEST_TMPDIR"
}

fresh_hub() {
  local u
  u=$(pg_newdb "live_frz_h$BATS_TEST_NUMBER")
  pg_dump -d "$HUB" | psql -X -q -v ON_ERROR_STOP=1 -d "$u" >/dev/null
  echo "$u"
}

q() { psql -X -At -d "$1" -c "$2"; }
frozen() { q "$1" "SELECT count(*) FILTER (WHERE o.account_frozen) || ' ' || count(*) FROM public.organizations o JOIN public.tenants t ON t.id = o.mnoe_tenant_id WHERE t.name = '$2'"; }

@test "freeze: the reports of the migration are ok (the test's own premise)" {
  [ "$(jq -r '[.verdict, .archive.header.source, .archive.header.tenant] | @tsv' "$R/hub.json")" = "ok	mnohub	acme" ]
  [ "$(jq -r '[.verdict, .archive.header.source, .archive.header.tenant] | @tsv' "$R/connec.json")" = "ok	connec	acme" ]
  [ "$(jq -r '.verdict' "$R/differs.json")" = differs ]
}

@test "freeze: refused without a report, with a DIFFERS report, another tenant's, or no Connec! report; nothing changed" {
  h=$(fresh_hub)
  before=$(frozen "$h" acme)
  run mno-freeze --target "$h" --tenant acme
  [ "$status" -eq 2 ]
  [ "$output" = "mno-freeze: error: no --verified report: mno-freeze changes the old environment only after its copy is proven (mno-verify --json reports of the tenant's archives against their restored copies)" ]
  run mno-freeze --target "$h" --tenant acme --verified "$R/differs.json" --verified "$R/connec.json"
  [ "$status" -eq 2 ]
  [ "$output" = "mno-freeze: error: $R/differs.json: the mnohub copy of tenant 'acme' is not proven: verdict differs: public.users differs, public.identities differs; migrate and verify again" ]
  run mno-freeze --target "$h" --tenant acme --verified "$R/globex.json" --verified "$R/connec.json"
  [ "$status" -eq 2 ]
  [ "$output" = "mno-freeze: error: $R/globex.json: a report of tenant 'globex', not of 'acme'" ]
  run mno-freeze --target "$h" --tenant acme --verified "$R/hub.json"
  [ "$status" -eq 2 ]
  [ "$output" = "mno-freeze: error: no verify report of the tenant's connec copy: give --verified REPORT (mno-verify --json of the connec archive against its restored copy)" ]
  run mno-freeze --target "$h" --tenant acme --verified "$R/connec.json"
  [ "$status" -eq 2 ]
  [ "$output" = "mno-freeze: error: no verify report of the tenant's mnohub copy: give --verified REPORT (mno-verify --json of the mnohub archive against its restored copy)" ]
  echo '{"tool":"mno-dump"}' >notreport.json
  run mno-freeze --target "$h" --tenant acme --verified notreport.json --verified "$R/connec.json"
  [ "$status" -eq 2 ]
  [ "$output" = "mno-freeze: error: notreport.json: not an mno-verify --json report" ]
  [ "$(frozen "$h" acme)" = "$before" ]
  [ -z "$(ls *.mnoa 2>/dev/null)" ]
}

@test "freeze: refused when the source changed after the dump, naming the tables" {
  h=$(fresh_hub)
  before=$(frozen "$h" acme)
  q "$h" "UPDATE public.teams SET name = name || ' (renamed)' WHERE id = (SELECT min(tm.id) FROM public.teams tm JOIN public.organizations o ON o.id = tm.organization_id JOIN public.tenants t ON t.id = o.mnoe_tenant_id WHERE t.name = 'acme')" >/dev/null
  n=$(q "$h" "SELECT count(*) FROM public.teams tm JOIN public.organizations o ON o.id = tm.organization_id JOIN public.tenants t ON t.id = o.mnoe_tenant_id WHERE t.name = 'acme'")
  run mno-freeze --target "$h" --tenant acme --verified "$R/hub.json" --verified "$R/connec.json" --connec "$CX"
  [ "$status" -eq 2 ]
  [ "$output" = "mno-freeze: error: the tenant's rows in the source changed since the dump: public.teams ($n rows in the archive, $n now, other values); migrate them again (dump, restore, verify) first; nothing was changed" ]
  [ "$(frozen "$h" acme)" = "$before" ]
  [ -z "$(ls *.mnoa 2>/dev/null)" ]
}

@test "freeze: freeze, rerun (nothing to change), unfreeze: values as before; other tenants untouched" {
  h=$(fresh_hub)
  for t in acme globex initech; do sums "$h" $t before-$t; done
  run mno-freeze --target "$h" --tenant acme --verified "$R/hub.json" --verified "$R/connec.json" --connec "$CX" --plan
  [ "$status" -eq 0 ]
  [ "$(echo "$output" | cut -f1,3 | tr '\t\n' ' ')" = "public.organizations 8 public.users 16 " ]
  run mno-freeze --target "$h" --tenant acme --verified "$R/hub.json" --verified "$R/connec.json" --connec "$CX" --undo-file f.mnoa --json
  [ "$status" -eq 0 ]
  [ "$(echo "$output" | jq -c '[.rows, .changed, .undo_file, [.tables[].rows]]')" = '[24,true,"f.mnoa",[8,16]]' ]
  [ "$(frozen "$h" acme)" = "8 8" ]
  [ "$(q "$h" "SELECT count(*) FILTER (WHERE NOT u.account_frozen) FROM public.users u JOIN public.tenants t ON t.id = u.mnoe_tenant_id WHERE t.name = 'acme'")" = 0 ]
  for t in globex initech; do sums "$h" $t after-$t; diff before-$t after-$t; done
  run mno-freeze --target "$h" --tenant acme --verified "$R/hub.json" --verified "$R/connec.json" --connec "$CX"
  [ "$status" -eq 0 ]
  [ "$output" = "mno-freeze: tenant 'acme' in mnohub database 'live_frz_h4': nothing to change" ]
  run mno-freeze --target "$h" --unfreeze f.mnoa
  [ "$status" -eq 0 ]
  for t in acme globex initech; do sums "$h" $t undone-$t; diff before-$t undone-$t; done
}

@test "freeze: unfreeze: a row unfrozen by hand since is left as it is; a row gone is named and nothing changes" {
  h=$(fresh_hub)
  mno-freeze --target "$h" --tenant acme --verified "$R/hub.json" --verified "$R/connec.json" --connec "$CX" --undo-file f.mnoa >/dev/null
  id=$(q "$h" "SELECT min(o.id) FROM public.organizations o JOIN public.tenants t ON t.id = o.mnoe_tenant_id WHERE t.name = 'acme'")
  id2=$(q "$h" "SELECT max(o.id) FROM public.organizations o JOIN public.tenants t ON t.id = o.mnoe_tenant_id WHERE t.name = 'acme'")
  q "$h" "UPDATE public.organizations SET account_frozen = false WHERE id = $id" >/dev/null
  q "$h" "DELETE FROM public.organizations WHERE id = $id2" >/dev/null
  run mno-freeze --target "$h" --unfreeze f.mnoa
  [ "$status" -eq 2 ]
  [ "$output" = "mno-freeze: error: f.mnoa: undo refused: 1 row changed since mno-freeze set it (putting the prior values back would overwrite someone else's write): public.organizations id=$id2 (gone); nothing was changed" ]
  [ "$(frozen "$h" acme)" = "6 7" ]
}

@test "destroy: refused when not frozen; without --yes it prints the plan and exits 2; nothing changed" {
  h=$(fresh_hub)
  sums "$h" acme before
  run mno-freeze --target "$h" --tenant acme --verified "$R/hub.json" --verified "$R/connec.json" --destroy --frozen-by none.mnoa --yes
  [ "$status" -eq 2 ]
  [ "$output" = "mno-freeze: error: tenant 'acme' is not frozen (rows not at $MNO_TOP/filters/freeze.rules's values: public.organizations 8, public.users 16): freeze it first; nothing was changed" ]
  mno-freeze --target "$h" --tenant acme --verified "$R/hub.json" --verified "$R/connec.json" --connec "$CX" --undo-file f.mnoa >/dev/null
  sums "$h" acme frozen
  run mno-freeze --target "$h" --tenant acme --verified "$R/hub.json" --verified "$R/connec.json" --destroy --frozen-by f.mnoa
  [ "$status" -eq 2 ]
  [ "${lines[${#lines[@]}-1]}" = "mno-freeze: error: --destroy deletes the 936 rows above: give --yes to do it; nothing was changed" ]
  # children first (the dump's section order reversed: memberships come after users), no global table
  [ "$(printf '%s\n' "${lines[@]}" | head -n -1 | cut -f1 | tr '\n' ' ')" = "public.widgets public.subscriptions public.orga_relations public.org_invites public.identities public.deletion_requests public.dashboards public.credit_cards public.audit_events public.users public.teams public.sub_tenants public.bills public.app_instances public.organizations public.invoices public.tenants " ]
  # without the freeze's undo archive the re-check cannot see the source as it was dumped
  run mno-freeze --target "$h" --tenant acme --verified "$R/hub.json" --verified "$R/connec.json" --destroy --yes
  [ "$status" -eq 2 ]
  [ "$output" = "mno-freeze: error: --destroy needs --frozen-by FILE, the freeze's undo archive (the source is re-checked as it was before the freeze)" ]
  sums "$h" acme after
  diff frozen after
  [ -z "$(ls *.final.mnoa 2>/dev/null)" ]
}

@test "destroy: refused when the source changed after the dump, even once frozen" {
  h=$(fresh_hub)
  mno-freeze --target "$h" --tenant acme --verified "$R/hub.json" --verified "$R/connec.json" --connec "$CX" --undo-file f.mnoa >/dev/null
  q "$h" "DELETE FROM public.widgets WHERE id = (SELECT min(w.id) FROM public.widgets w JOIN public.dashboards d ON d.id = w.dashboard_id JOIN public.users u ON u.id = d.owner_id AND d.owner_type = 'User' JOIN public.tenants t ON t.id = u.mnoe_tenant_id WHERE t.name = 'acme')" >/dev/null
  run mno-freeze --target "$h" --tenant acme --verified "$R/hub.json" --verified "$R/connec.json" --destroy --frozen-by f.mnoa --yes
  [ "$status" -eq 2 ]
  [[ "$output" == "mno-freeze: error: the tenant's rows in the source changed since the dump: public.widgets ("*" rows in the archive, "*" now); migrate them again (dump, restore, verify) first; nothing was changed" ]]
  [ "$(frozen "$h" acme)" = "8 8" ]
}

@test "destroy: the tenant's rows are gone, other tenants' sums unchanged, the final archive restores and verifies ok" {
  h=$(fresh_hub)
  for t in globex initech; do sums "$h" $t before-$t; done
  mno-freeze --target "$h" --tenant acme --verified "$R/hub.json" --verified "$R/connec.json" --connec "$CX" --undo-file f.mnoa >/dev/null
  sums "$h" acme frozen
  run mno-freeze --target "$h" --tenant acme --verified "$R/hub.json" --verified "$R/connec.json" --destroy --frozen-by f.mnoa --yes --final-archive final.mnoa --json
  [ "$status" -eq 0 ]
  [ "$(echo "$output" | jq -c '[.action, .rows, .final_archive, (.tables | length)]')" = '["destroy",936,"final.mnoa",17]' ]
  [ "$(stat -c %a final.mnoa)" = 600 ]
  # the final archive holds the tenant as it was (frozen), global tables included
  [ "$(mno-cat --list final.mnoa)" = "$(cat frozen)" ]
  run mno-dump --source "$h" --tenant acme --quiet -o gone.mnoa
  [ "$status" -eq 2 ]
  [ "$output" = "mno-dump: error: tenant 'acme' not found in public.tenants" ]
  [ "$(q "$h" "SELECT count(*) FROM public.users WHERE uid LIKE 'usr-acme-%' AND uid NOT IN ('usr-acme-1x')")" = 0 ]
  for t in globex initech; do sums "$h" $t after-$t; diff before-$t after-$t; done
  # the final archive into an empty database: mno-verify says ok
  e2=$(pg_newdb "live_frz_final$BATS_TEST_NUMBER")
  mno-restore --target "$e2" --create --quiet final.mnoa
  run mno-verify --archive final.mnoa --target "$e2"
  [ "$status" -eq 0 ]
  [[ "${lines[${#lines[@]}-1]}" == "verdict: ok: 20 of 20 tables match, 963 records" ]]
}
