#!/usr/bin/env bats
# 80-runbook.bats: scripts/mno-migrate-tenant (docs/runbook.md) on the demo's environment: three
# tenants in MnoHub, Connec!, an on-premise connector (erp, copied) and a cloud connector (crm,
# renamed in place). The whole migration with every step read back from the databases; killed
# after a tool and resumed (the same report); a row changed between dump and verify (stops
# before the freeze, exit 1); --dry-run changes nothing; bad plans (exit 2, the line named).

setup_file() {
  export MNO_TOP=${MNO_TOP:-$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}
  export PATH="$MNO_BIN:$PATH"
  export MNO_SCOPE_DIR=$MNO_TOP/filters
  . "$MNO_TOP/tests/lib/env.sh"
  mno_shm_sweep
  # the fixtures, loaded once; each test copies them (CREATE DATABASE ... TEMPLATE)
  "$MNO_TOP/tests/fixtures/load" mnohub "$(pg_newdb rb_tpl_hub)"
  "$MNO_TOP/tests/fixtures/load" connector "$(pg_newdb rb_tpl_connector)"
}

setup() {
  . "$MNO_TOP/tests/lib/env.sh"
  mno_shm_sweep
  cd "$BATS_TEST_TMPDIR"
  M=$MNO_TOP/scripts/mno-migrate-tenant
}

pg_copy() { # NAME TEMPLATE: a fresh copy, its URI printed
  PGOPTIONS=--client-min-messages=warning psql -X -q -d "$MNO_TEST_PG_URI" -c "DROP DATABASE IF EXISTS \"$1\"" -c "CREATE DATABASE \"$1\" TEMPLATE \"$2\"" >/dev/null
  echo "${MNO_TEST_PG_URI%/postgres}/$1"
}

# fresh P: the shared environment (P_hub, P_connec, P_erp, P_crm) and empty enterprise
# databases, their URIs exported as the plan's variables; ./acme.plan as the demo's
fresh() {
  local p=$1
  export SHARED_MNOHUB SHARED_CONNEC SHARED_ERP SHARED_CRM ENT_MNOHUB ENT_CONNEC ENT_ERP
  SHARED_MNOHUB=$(pg_copy "${p}_hub" rb_tpl_hub)
  SHARED_ERP=$(pg_copy "${p}_erp" rb_tpl_connector)
  SHARED_CRM=$(pg_copy "${p}_crm" rb_tpl_connector)
  SHARED_CONNEC=$(mongo_newdb "${p}_connec")
  "$MNO_TOP/tests/fixtures/load" connec "$SHARED_CONNEC"
  ENT_MNOHUB=$(pg_newdb "${p}_ent_hub")
  ENT_ERP=$(pg_newdb "${p}_ent_erp")
  ENT_CONNEC=$(mongo_newdb "${p}_ent_connec")
  cat >acme.plan <<'EOF'
# the demo's migration
tenant      acme
new-name    acme-ent

mnohub      SHARED_MNOHUB   ENT_MNOHUB
connec      SHARED_CONNEC   ENT_CONNEC
connector   erp  on-premise  SHARED_ERP  ENT_ERP
connector   crm  cloud       SHARED_CRM

filter      erp  rename-tenant
filter      erp  select exclude public.synchronizations

end         freeze
EOF
}

q() { psql -X -At -d "$1" -c "$2"; }
# every table of a PostgreSQL database: ns, row count, md5 of its rows' md5s in order
pg_sums() {
  psql -X -At -d "$1" <<'EOF'
SELECT format('SELECT %L || '' '' || count(*) || '' '' || coalesce(md5(string_agg(md5(t::text), '''' ORDER BY md5(t::text))), ''-'') FROM %I.%I t',
              schemaname || '.' || tablename, schemaname, tablename)
FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1
\gexec
EOF
}
# every collection of a MongoDB database: ns, count, sum (mno-dump --all, mno-cat --list)
mongo_sums() {
  local n
  n=$(mongo_cmd "$1" "${1##*/}" '{"listCollections": 1, "nameOnly": true}' | jq '.cursor.firstBatch | length')
  echo "collections: $n"
  [ "$n" = 0 ] || { mno-dump --quiet --all --source "$1" -o "$2.all.mnoa" && mno-cat --list "$2.all.mnoa"; }
}
all_sums() { # OUT: every database of the plan
  local v
  for v in SHARED_MNOHUB SHARED_ERP SHARED_CRM ENT_MNOHUB ENT_ERP; do echo "== $v"; pg_sums "${!v}"; done >"$1"
  for v in SHARED_CONNEC ENT_CONNEC; do echo "== $v"; mongo_sums "${!v}" "$1.$v"; done >>"$1"
}
tenant_sums() { # TENANT OUT: the tenant's sections in every shared database, as mno-dump finds them
  mno-dump --quiet --source "$SHARED_MNOHUB" --tenant "$1" -o "$2.hub.mnoa"
  { mno-cat --list "$2.hub.mnoa"
    mno-dump --quiet --source "$SHARED_CONNEC" --tenant "$1" --orgs-from "$2.hub.mnoa" | mno-cat --list -
    mno-dump --quiet --source "$SHARED_ERP" --tenant "$1" | mno-cat --list -
    mno-dump --quiet --source "$SHARED_CRM" --tenant "$1" | mno-cat --list -; } >"$2"
}
# the report without its times (the steps' start, end and seconds, when it was written)
report_json() { jq -S 'del(.generated) | .steps |= map(del(.started, .finished, .seconds))' "$1/migration-report.json"; }
report_md() { sed -E 's/\| [0-9T:-]+Z \| [0-9]+ \|$/| T | S |/; s/^(End of the plan: .*Report written )[0-9T:-]+Z/\1T/' "$1/migration-report.md"; }
mongo_count() { mongo_cmd "$1" "${1##*/}" "{\"count\": \"$2\"}" | jq -r '.n."$numberInt" // .n'; }
acme_orgs() { q "$SHARED_MNOHUB" "SELECT count(*) FILTER (WHERE o.account_frozen) || ' ' || count(*) FROM public.organizations o JOIN public.tenants t ON t.id = o.mnoe_tenant_id WHERE t.name = '$1'"; }

@test "runbook: the demo's migration, every step read back from the databases; no credential printed or written" {
  fresh rb1
  # the MnoHub source with a password: it must never be printed nor written
  SHARED_MNOHUB=${MNO_TEST_PG_SECRET_URI%/postgres}/rb1_hub
  for t in globex initech; do tenant_sums $t before-$t; done
  orgs=$(q "$SHARED_MNOHUB" "SELECT count(*) FROM public.organizations o JOIN public.tenants t ON t.id = o.mnoe_tenant_id WHERE t.name = 'acme'")
  [ "$orgs" -eq 8 ]
  globex_frozen=$(acme_orgs globex)
  run "$M" acme.plan
  echo "$output" >&2
  [ "$status" -eq 0 ]
  st=$BATS_TEST_TMPDIR/acme.plan.state
  # every command printed before it runs, URIs as their variables; never the password
  ! grep -rqF "$MNO_TEST_PG_PASSWORD" <<<"$output"
  ! grep -rqF "$MNO_TEST_PG_PASSWORD" "$st"
  [ "$(grep -c '^\$ ' <<<"$output")" -eq 18 ]
  grep -qxF '$ mno-disconnect --target "$SHARED_MNOHUB" --tenant acme --json --undo-file undo/disconnect-mnohub.mnoa >reports/mnohub.disconnect.json' <<<"$output"
  grep -qxF '$ mno-dump --quiet --source "$SHARED_CONNEC" --tenant acme --orgs-from archives/mnohub.mnoa.zst -o archives/connec.mnoa.zst' <<<"$output"
  grep -qxF '$ mno-filter-rename --tenant acme=acme-ent archives/connector-erp.mnoa.zst | mno-filter-select --exclude public.synchronizations - -o archives/connector-erp.filtered.mnoa.zst' <<<"$output"
  grep -qxF '$ mno-rename-tenant --target "$SHARED_CRM" --from acme --to acme-ent --json --undo-file undo/rename-crm.mnoa >reports/crm.rename.json' <<<"$output"
  [ "${lines[-1]}" = "mno-migrate-tenant: tenant acme migrated (new name acme-ent); end: freeze; report: $st/migration-report.md" ]
  # one record per step
  [ "$(ls "$st/steps" | grep -c '\.done$')" -eq 7 ]
  [ "$(jq -s -r 'map(.name) | join(" ")' "$st"/steps/*.done)" = "disconnect dump filter restore verify rename freeze" ]
  # 1. disconnect: the OAuth columns of acme cleared in MnoHub and both connectors, undo archives kept
  [ "$(q "$SHARED_MNOHUB" "SELECT count(*) FILTER (WHERE ai.oauth_keys IS NULL AND NOT ai.oauth_keys_valid) || ' ' || count(*) FROM public.app_instances ai JOIN public.organizations o ON o.id = ai.owner_id AND ai.owner_type = 'Organization' JOIN public.tenants t ON t.id = o.mnoe_tenant_id WHERE t.name = 'acme'")" = "12 12" ]
  [ "$(q "$SHARED_MNOHUB" "SELECT count(*) FROM public.app_instances ai JOIN public.organizations o ON o.id = ai.owner_id AND ai.owner_type = 'Organization' JOIN public.tenants t ON t.id = o.mnoe_tenant_id WHERE t.name <> 'acme' AND ai.oauth_keys IS NOT NULL")" -gt 0 ]
  for v in SHARED_ERP SHARED_CRM; do
    [ "$(q "${!v}" "SELECT count(*) FILTER (WHERE oauth_uid IS NULL AND encrypted_oauth_token IS NULL AND NOT sync_enabled) || ' ' || count(*) FROM public.organizations WHERE tenant IN ('acme', 'acme-ent')")" = "6 6" ]
  done
  [ "$(mno-cat --list "$st/undo/disconnect-mnohub.mnoa" | cut -f1,2)" = "public.app_instances	12" ]
  [ "$(mno-cat --list "$st/undo/disconnect-erp.mnoa" | cut -f1,2)" = "public.organizations	6" ]
  # 2. dump: acme's rows as the source holds them (after the disconnect)
  [ "$(mno-cat --header "$st/archives/mnohub.mnoa.zst" | jq -r .tenant)" = acme ]
  [ "$(mno-cat --records --ns public.organizations "$st/archives/mnohub.mnoa.zst" | wc -l)" -eq 8 ]
  [ "$(mno-cat --records --ns public.app_instances "$st/archives/mnohub.mnoa.zst" | jq -r '.v.oauth_keys' | sort -u)" = null ]
  # 3. filter: the erp copy renamed, without its synchronization log; the chain recorded
  ! mno-cat --list "$st/archives/connector-erp.filtered.mnoa.zst" | grep -q synchronizations
  [ "$(mno-cat --records --ns public.organizations "$st/archives/connector-erp.filtered.mnoa.zst" | jq -r .v.tenant | sort -u)" = acme-ent ]
  # 4. restore, 5. verify: each target holds its archive, table by table, read back with SQL
  for a in mnohub:ENT_MNOHUB:archives/mnohub.mnoa.zst erp:ENT_ERP:archives/connector-erp.filtered.mnoa.zst; do
    IFS=: read -r n v f <<<"$a"
    mno-cat --list "$st/$f" | grep -v '^#' | cut -f1,2 >expected-$n
    while IFS=$'\t' read -r ns c; do echo "$ns	$(q "${!v}" "SELECT count(*) FROM $ns")"; done <expected-$n >actual-$n
    diff expected-$n actual-$n
    [ "$(jq -r .verdict "$st/reports/$n.verify.json")" = ok ]
  done
  [ "$(q "$ENT_ERP" "SELECT string_agg(DISTINCT tenant, ',') FROM public.organizations")" = acme-ent ]
  [ -z "$(q "$ENT_ERP" "SELECT to_regclass('public.synchronizations')")" ]
  [ "$(q "$ENT_MNOHUB" "SELECT string_agg(name, ',') FROM public.tenants")" = acme ]
  [ "$(mongo_count "$ENT_CONNEC" people)" = "$(mno-cat --list "$st/archives/connec.mnoa.zst" | awk -F'\t' '$1 ~ /\.people$/ {print $2}')" ]
  [ "$(jq -r .verdict "$st/reports/connec.verify.json")" = ok ]
  # 6. rename: the cloud connector calls the tenant acme-ent now
  [ "$(q "$SHARED_CRM" "SELECT tenant || ' ' || count(*) FROM public.organizations WHERE tenant IN ('acme', 'acme-ent') GROUP BY tenant")" = "acme-ent 6" ]
  [ "$(q "$SHARED_CRM" "SELECT tenant || ' ' || count(*) FROM public.users WHERE tenant IN ('acme', 'acme-ent') GROUP BY tenant")" = "acme-ent 16" ]
  [ "$(q "$SHARED_ERP" "SELECT count(*) FROM public.organizations WHERE tenant = 'acme'")" -eq 6 ]
  # 7. freeze: acme's organizations and users frozen on the old MnoHub, nobody else's
  [ "$(acme_orgs acme)" = "8 8" ]
  [ "$(acme_orgs globex)" = "$globex_frozen" ]
  [ "$(mno-cat --list "$st/undo/freeze-mnohub.mnoa" | cut -f1,2 | tr '\t\n' ' ')" = "public.organizations 8 public.users 16 " ]
  # the other tenants are untouched everywhere
  for t in globex initech; do tenant_sums $t after-$t; diff before-$t after-$t; done
  # the report: what was done, per database, and how to undo it
  j=$st/migration-report.json
  [ "$(jq -r '[.result, .tenant, .new_name, .["end"]] | join(" ")' "$j")" = "done acme acme-ent freeze" ]
  [ "$(jq -r '[.databases[] | "\(.name):\(.verify // "-"):\(.source_unchanged.verdict // "-"):\(.disconnect.rows // "-"):\(.rename.rows // "-"):\(.freeze.rows // "-")"] | join(" ")' "$j")" = "mnohub:ok:ok:12:-:24 connec:ok:ok:-:-:- erp:ok:ok:6:-:- crm:-:-:6:22:-" ]
  [ "$(jq -r '.databases[] | select(.name == "erp") | .tables[] | select(.ns == "public.synchronizations") | [.archive.count, .restored, .verify] | @json' "$j")" = '[18,null,"left out by the filters"]' ]
  [ "$(jq -r '.databases[] | select(.name == "mnohub") | [.totals.archive.count, .totals.target.count] | @tsv' "$j")" = "963	963" ]
  [ "$(jq -r '.undo_archives | join(" ")' "$j")" = "undo/disconnect-mnohub.mnoa undo/freeze-mnohub.mnoa undo/disconnect-erp.mnoa undo/disconnect-crm.mnoa undo/rename-crm.mnoa" ]
  md=$st/migration-report.md
  grep -qxF 'Result: **done**.  ' "$md"
  grep -qxF -- '- Copied: MnoHub (963 records into `$ENT_MNOHUB`), Connec! (342 records into `$ENT_CONNEC`), connector erp (97 records into `$ENT_ERP`).' "$md"
  grep -qxF -- '- Verified: every target holds exactly its archive, and every source still holds what was dumped.' "$md"
  grep -qxF -- '- Frozen on the old environment: MnoHub 24 rows.' "$md"
  grep -qxF -- '- reconnect MnoHub: `mno-disconnect --target "$SHARED_MNOHUB" --undo undo/disconnect-mnohub.mnoa`' "$md"
  grep -qxF -- '- unfreeze MnoHub: `mno-freeze --target "$SHARED_MNOHUB" --unfreeze undo/freeze-mnohub.mnoa`' "$md"
  grep -qE '^public\.users +16  [0-9a-f]{12} +16  [0-9a-f]{12} +16  [0-9a-f]{12}  ok$' "$md"
  # a second run of the same state is refused; --resume has nothing left to do
  run "$M" acme.plan
  [ "$status" -eq 2 ]
  [ "$output" = "mno-migrate-tenant: error: acme.plan.state holds an earlier run of this migration: --resume to continue it, --from-step N to redo from step N, or another --state" ]
  run "$M" acme.plan --resume
  [ "$status" -eq 0 ]
  grep -qxF "(every step is done already)" <<<"$output"
}

# a shim for every tool but mno-cat: runs the real one, counts the calls, and after call number
# $SHIM_KILL_AT kills its whole process group (the script under setsid, its log's tees):
# a crash right after a tool did its work, before the script recorded anything
make_shims() {
  mkdir -p shim
  for t in "$MNO_BIN"/mno-*; do
    [ "${t##*/}" != mno-cat ] || continue   # (the script reads archives with it, changing nothing)
    cat >"shim/${t##*/}" <<EOF
#!/usr/bin/env bash
"$t" "\$@"
rc=\$?
n=\$(( \$(cat "$PWD/shim/count" 2>/dev/null || echo 0) + 1 ))
echo \$n >"$PWD/shim/count"
echo "\$n ${t##*/}" >>"$PWD/shim/calls"
[ "\$n" != "\${SHIM_KILL_AT:-0}" ] || kill -KILL 0
exit \$rc
EOF
    chmod +x "shim/${t##*/}"
  done
}

@test "runbook: killed right after a tool at seed-chosen calls, --resume twice finishes with the same report" {
  make_shims
  # the reference: a whole run, its tool calls counted
  fresh rb2
  PATH=$PWD/shim:$PATH run "$M" acme.plan --state ref
  [ "$status" -eq 0 ]
  calls=$(cat shim/count)
  [ "$calls" -eq 19 ]
  # two kill points from the seed (MNO_TEST_SEED), the second later than the first
  seed=${MNO_TEST_SEED:-17}
  k1=$(( seed % (calls - 1) + 1 ))
  k2=$(( k1 + 1 + (seed * 7) % (calls - k1) ))
  echo "seed $seed: killed after calls $k1 ($(sed -n "${k1}p" shim/calls)) and $k2 ($(sed -n "${k2}p" shim/calls)) of $calls" >&2
  fresh rb2
  rm -f shim/count shim/calls
  SHIM_KILL_AT=$k1 PATH=$PWD/shim:$PATH run setsid -w "$M" acme.plan --state st
  [ "$status" -ne 0 ]
  [ "$(cat shim/count)" -eq "$k1" ]
  [ ! -f st/steps/7-freeze.done ]
  SHIM_KILL_AT=$k2 PATH=$PWD/shim:$PATH run setsid -w "$M" acme.plan --state st --resume
  [ "$status" -ne 0 ]
  [ "$(cat shim/count)" -eq "$k2" ]
  PATH=$PWD/shim:$PATH run "$M" acme.plan --state st --resume
  echo "$output" >&2
  [ "$status" -eq 0 ]
  diff <(report_json ref) <(report_json st)
  diff <(report_md ref) <(report_md st)
  # and the databases are where the reference left them: acme frozen, crm renamed
  [ "$(acme_orgs acme)" = "8 8" ]
  [ "$(q "$SHARED_CRM" "SELECT count(*) FROM public.organizations WHERE tenant = 'acme-ent'")" -eq 6 ]
}

# Every 7th kill point by default (a few across the steps, so that the suite stays short);
# every one with MNO_TEST_RUNBOOK_ALL_KILLS=1.
@test "runbook: kill points in turn, each then resumed to the reference report (every one with MNO_TEST_RUNBOOK_ALL_KILLS=1)" {
  every=7
  [ "${MNO_TEST_RUNBOOK_ALL_KILLS:-0}" = 1 ] && every=1
  make_shims
  fresh rb3
  PATH=$PWD/shim:$PATH run "$M" acme.plan --state ref
  [ "$status" -eq 0 ]
  calls=$(cat shim/count)
  [ "$calls" -ge 10 ]
  for ((k = 2; k <= calls; k += every)); do
    fresh rb3
    rm -rf st shim/count shim/calls
    SHIM_KILL_AT=$k PATH=$PWD/shim:$PATH run setsid -w "$M" acme.plan --state st
    [ "$status" -ne 0 ]
    PATH=$PWD/shim:$PATH run "$M" acme.plan --state st --resume
    [ "$status" -eq 0 ] || { echo "kill after call $k: $output" >&2; false; }
    diff <(report_json ref) <(report_json st)
  done
}

@test "runbook: a row of the source changed between dump and verify: verify stops the script before rename and freeze (exit 1), the report says why" {
  fresh rb4
  run "$M" acme.plan --stop-after 4
  [ "$status" -eq 0 ]
  grep -qF "mno-migrate-tenant: stopped after step 4 (restore) as asked; go on with: mno-migrate-tenant acme.plan --resume --state $BATS_TEST_TMPDIR/acme.plan.state" <<<"$output"
  [ "$(jq -r .result acme.plan.state/migration-report.json)" = "stopped after step 4 (restore)" ]
  # a sync that slipped through: one of acme's teams renamed in the old MnoHub after the dump
  q "$SHARED_MNOHUB" "UPDATE public.teams SET name = name || ' (renamed)' WHERE id = (SELECT min(tm.id) FROM public.teams tm JOIN public.organizations o ON o.id = tm.organization_id JOIN public.tenants t ON t.id = o.mnoe_tenant_id WHERE t.name = 'acme')" >/dev/null
  run "$M" acme.plan --resume
  echo "$output" >&2
  [ "$status" -eq 1 ]
  why="verify found differences, nothing was renamed or frozen: mnohub: the source changed since the dump (public.teams 8 rows in the archive, 8 now, other values); migrate again (--from-step 2 into empty targets) or fix by hand, then --resume"
  grep -qxF "mno-migrate-tenant: $why" <<<"$output"
  grep -qxF '    mno-disconnect --target "$SHARED_MNOHUB" --undo undo/disconnect-mnohub.mnoa' <<<"$output"
  grep -qxF '    mno-disconnect --target "$SHARED_CRM" --undo undo/disconnect-crm.mnoa' <<<"$output"
  ! grep -q 'mno-rename-tenant\|mno-freeze' <<<"$output"
  # nothing frozen, nothing renamed
  [ "$(acme_orgs acme)" = "0 8" ]
  [ "$(q "$SHARED_CRM" "SELECT count(*) FROM public.organizations WHERE tenant = 'acme'")" -eq 6 ]
  st=acme.plan.state
  [ ! -f $st/steps/5-verify.done ]
  [ "$(jq -r '[.result, .reason] | join(": ")' $st/migration-report.json)" = "stopped: $why" ]
  [ "$(jq -r '[.steps[] | .status] | join(" ")' $st/migration-report.json)" = "done done done done stopped not run not run" ]
  grep -qxF "Result: **stopped**: $why.  " $st/migration-report.md
  grep -qxF -- '- Not verified: MnoHub: verify ok, source differs.' $st/migration-report.md
  # resuming again without fixing anything stops again
  run "$M" acme.plan --resume
  [ "$status" -eq 1 ]
  [ "$(acme_orgs acme)" = "0 8" ]
  # no skipping the verify; no other plan on this state
  run "$M" acme.plan --from-step 6
  [ "$status" -eq 2 ]
  [ "$output" = "mno-migrate-tenant: error: --from-step 6: step 5 (verify) is not done yet: --resume" ]
  sed -i 's/^end .*/end none/' acme.plan
  run "$M" acme.plan --resume
  [ "$status" -eq 2 ]
  [ "$output" = "mno-migrate-tenant: error: the plan changed since acme.plan.state was started (diff acme.plan acme.plan.state/plan): a migration runs one plan; start another state directory" ]
  [ "$(acme_orgs acme)" = "0 8" ]
  [ "$(q "$SHARED_CRM" "SELECT count(*) FROM public.organizations WHERE tenant = 'acme'")" -eq 6 ]
}

@test "runbook: a row of a target changed after the restore: its verify differs, exit 1 before the freeze" {
  fresh rb5
  run "$M" acme.plan --stop-after 4
  [ "$status" -eq 0 ]
  q "$ENT_ERP" "DELETE FROM public.user_organization_rels WHERE id = (SELECT min(id) FROM public.user_organization_rels)" >/dev/null
  run "$M" acme.plan --resume
  [ "$status" -eq 1 ]
  grep -qxF "mno-migrate-tenant: verify found differences, nothing was renamed or frozen: erp: the target differs from the archive (public.user_organization_rels differs); migrate again (--from-step 2 into empty targets) or fix by hand, then --resume" <<<"$output"
  [ "$(acme_orgs acme)" = "0 8" ]
  [ "$(jq -r '.databases[] | select(.name == "erp") | .tables[] | select(.ns == "public.user_organization_rels") | [.restored.count, .target.count, .verify] | @tsv' acme.plan.state/migration-report.json)" = "15	14	differs" ]
}

@test "runbook: end destroy: frozen, then the tenant's rows deleted from the old MnoHub after a final archive; the report counts the rows deleted" {
  fresh rb7
  sed -i 's/^end .*/end destroy/' acme.plan
  for t in globex initech; do tenant_sums $t before-$t; done
  run "$M" acme.plan
  echo "$output" >&2
  [ "$status" -eq 0 ]
  st=acme.plan.state
  # Connec! first (its organizations from the frozen MnoHub), then MnoHub
  grep -qxF '$ mno-freeze --target "$SHARED_CONNEC" --tenant acme --verified reports/mnohub.verify.json --verified reports/connec.verify.json --destroy --hub "$SHARED_MNOHUB" --final-archive final/connec.final.mnoa --yes --json >reports/connec.destroy.json' <<<"$output"
  grep -qxF '$ mno-freeze --target "$SHARED_MNOHUB" --tenant acme --verified reports/mnohub.verify.json --verified reports/connec.verify.json --destroy --frozen-by undo/freeze-mnohub.mnoa --final-archive final/mnohub.final.mnoa --yes --json >reports/mnohub.destroy.json' <<<"$output"
  [ "$(q "$SHARED_MNOHUB" "SELECT count(*) FROM public.tenants WHERE name = 'acme'")" -eq 0 ]
  # the Connec! final archive holds what was deleted: acme's documents are gone from the old Connec!
  mno-cat --check $st/final/connec.final.mnoa >/dev/null
  cn=$(mno-cat --list $st/final/connec.final.mnoa | awk -F'\t' '{c += $2} END {print c}')
  [ "$cn" -gt 0 ]
  [ "$(jq -r '.rows' $st/reports/connec.destroy.json)" -eq "$cn" ]
  [ "$(mno-dump --quiet --source "$SHARED_CONNEC" --tenant acme --orgs-from $st/final/mnohub.final.mnoa -o - | mno-cat --list - | awk -F'\t' '{c += $2} END {print c + 0}')" -eq 0 ]
  # every table's rows, before (the template) and after: 936 rows fewer
  rows() { pg_sums "$1" | awk '{c += $2} END {print c}'; }
  [ $(( $(rows "${MNO_TEST_PG_URI%/postgres}/rb_tpl_hub") - $(rows "$SHARED_MNOHUB") )) -eq 936 ]
  for t in globex initech; do tenant_sums $t after-$t; diff before-$t after-$t; done
  # the final archive holds the tenant as it was, frozen: 963 rows, of which 936 not global were deleted
  mno-cat --check $st/final/mnohub.final.mnoa >/dev/null
  [ "$(mno-cat --list $st/final/mnohub.final.mnoa | awk -F'\t' '{c += $2} END {print c}')" -eq 963 ]
  [ "$(jq -r '.databases[0].destroy | [.file, .rows] | @tsv' $st/migration-report.json)" = "final/mnohub.final.mnoa	936" ]
  [ "$(jq -r '.final_archives | join(" ")' $st/migration-report.json)" = "final/mnohub.final.mnoa final/connec.final.mnoa" ]
  grep -qxF -- '- Destroyed on the old environment: MnoHub 936 rows, final archive `final/mnohub.final.mnoa`; Connec! '"$cn"' documents, final archive `final/connec.final.mnoa`.' $st/migration-report.md
  ! grep -q 'unfreeze MnoHub\|reconnect MnoHub' $st/migration-report.md
  # killed right after the destroy (step 7 begun, not recorded): --resume does not destroy twice
  cp $st/migration-report.json first.json
  mv $st/steps/7-freeze.done $st/steps/7-freeze.started
  run "$M" acme.plan --resume
  [ "$status" -eq 0 ]
  grep -qxF "(mnohub: destroyed already, final archive final/mnohub.final.mnoa)" <<<"$output"
  ! grep -q '^\$ mno-freeze' <<<"$output"
  diff <(jq -S 'del(.generated) | .steps |= map(del(.started, .finished, .seconds))' first.json) <(report_json $st)
}

@test "runbook: --dry-run prints every step with the tools' --plan output and changes nothing (every database's sums before and after)" {
  fresh rb6
  all_sums before
  run "$M" acme.plan --dry-run
  echo "$output" >&2
  [ "$status" -eq 0 ]
  all_sums after
  diff before after
  [ ! -e acme.plan.state ]
  [ "${lines[0]}" = "mno-migrate-tenant: dry run of acme.plan: tenant acme (new name acme-ent), end freeze; nothing is changed" ]
  [ "${lines[-1]}" = "mno-migrate-tenant: dry run done: nothing was changed" ]
  # the tools' own plans: rows each would change or dump
  grep -qxF '$ mno-disconnect --target "$SHARED_MNOHUB" --tenant acme --plan' <<<"$output"
  grep -qE $'^    public\\.app_instances\tUPDATE .*\t12$' <<<"$output"
  grep -qE $'^    public\\.audit_events\t.*\t705$' <<<"$output"
  grep -qE $'^    rb6_connec\\.people\tmatch channel_id in org_uids\t.*\t49$' <<<"$output"
  grep -qE $'^    public\\.users\tUPDATE "public"."users" t SET "tenant" = \'acme-ent\' .*\t16$' <<<"$output"
  grep -qxF '$ mno-filter-rename --tenant acme=acme-ent archives/connector-erp.mnoa.zst | mno-filter-select --exclude public.synchronizations - -o archives/connector-erp.filtered.mnoa.zst' <<<"$output"
  grep -qxF '$ mno-restore --quiet --create --target "$ENT_CONNEC" archives/connec.mnoa.zst' <<<"$output"
  grep -qF '$ mno-freeze --target "$SHARED_MNOHUB" --tenant acme --verified reports/mnohub.verify.json --verified reports/connec.verify.json' <<<"$output"
  # a tool that refuses in the dry run stops it (exit 2), still changing nothing
  sed -i 's/^tenant      acme$/tenant      nosuch/; /rename-tenant/d; s/^new-name.*/new-name nosuch-ent/' acme.plan
  run "$M" acme.plan --dry-run
  [ "$status" -eq 2 ]
  grep -qxF "    mno-disconnect: error: tenant 'nosuch' not found in public.tenants" <<<"$output"
  [ "${lines[-1]}" = "mno-migrate-tenant: error: dry run: the command above failed: the plan cannot run as it is" ]
  all_sums after2
  diff before after2
}

@test "runbook: a bad plan is exit 2 naming the line, before anything runs" {
  export SHARED_MNOHUB=postgresql://x@127.0.0.1:1/hub ENT_MNOHUB=postgresql://x@127.0.0.1:1/ent_hub
  export SHARED_CONNEC=mongodb://127.0.0.1:1/connec ENT_CONNEC=mongodb://127.0.0.1:1/ent_connec
  export SHARED_CRM=postgresql://x@127.0.0.1:1/crm
  unset NOT_SET
  good='tenant acme
new-name acme-ent
mnohub SHARED_MNOHUB ENT_MNOHUB
connec SHARED_CONNEC ENT_CONNEC
connector crm cloud SHARED_CRM
end freeze'
  check() { # LINE_NO REPLACEMENT EXPECTED: line LINE_NO of the good plan replaced
    awk -v n="$1" -v r="$2" 'NR == n {print r; next} {print}' <<<"$good" >bad.plan
    run "$M" bad.plan
    [ "$status" -eq 2 ] || { echo "status $status: $output" >&2; return 1; }
    [ "$output" = "mno-migrate-tenant: error: $3" ] || { echo "got: $output" >&2; return 1; }
  }
  check 3 'mnohub postgresql://admin:s3cret@hub-db/mnohub ENT_MNOHUB' "bad.plan:3: 'postgresql://...' looks like a URI: a plan names the environment variable that holds it, never the URI (it may carry a password)"
  check 3 'mnohub NOT_SET ENT_MNOHUB' 'bad.plan:3: $NOT_SET is not set (export it with the database'"'"'s URI)'
  check 4 'connec SHARED_MNOHUB ENT_CONNEC' 'bad.plan:4: $SHARED_MNOHUB is not a mongodb:// URI'
  check 3 'mnohub SHARED_MNOHUB SHARED_MNOHUB' 'bad.plan:3: $SHARED_MNOHUB (the target of mnohub) is the same database as $SHARED_MNOHUB (the source of mnohub)'
  check 5 'connector crm clowd SHARED_CRM' "bad.plan:5: 'clowd': a connector is on-premise or cloud"
  check 5 'connector crm on-premise SHARED_CRM' "bad.plan:5: 'connector crm on-premise SOURCE_VAR TARGET_VAR'"
  check 2 'new-name acme' "bad.plan:5: cloud connector 'crm' is renamed in place: the plan needs 'new-name NAME', other than the tenant"
  check 6 'filter erp scrub filters/rehearsal.scrub' "bad.plan:6: filter of 'erp': no database of that name above (mnohub, connec or a connector's name)"
  check 6 'filter crm rename-tenant' "bad.plan:6: filter of 'crm': a cloud connector is not copied, nothing to filter"
  check 6 'filter connec scrub nosuch.scrub' "bad.plan:6: nosuch.scrub: no such rules file"
  check 6 'frobnicate' "bad.plan:6: unknown word 'frobnicate' (tenant, new-name, mnohub, connec, connector, filter, end)"
  check 6 'end thaw' "bad.plan:6: 'thaw': the end is freeze, destroy or none"
  check 6 '# no end' "bad.plan: no 'end' line (end freeze, end destroy or end none)"
  check 4 '# no connec' "bad.plan:6: end freeze needs the connec line: mno-freeze acts only on verified copies of MnoHub and Connec!"
  check 1 'tenant acme; drop' "bad.plan:1: 'tenant NAME' takes one word"
  # end freeze with a filter that changes MnoHub's rows: mno-freeze could not prove its source
  printf '%s\nfilter mnohub select exclude public.audit_events\n' "$(head -5 <<<"$good")" >bad.plan
  echo 'end freeze' >>bad.plan
  run "$M" bad.plan
  [ "$status" -eq 2 ]
  [ "$output" = "mno-migrate-tenant: error: bad.plan:7: end freeze needs mnohub restored as dumped, without filters: mno-freeze compares its source with the verified archive (rehearsals with filters: end none)" ]
  # nothing ran: no state directory; the password of the URI line was not printed
  [ ! -e bad.plan.state ]
  run "$M" nosuch.plan
  [ "$status" -eq 2 ]
  [ "$output" = "mno-migrate-tenant: error: nosuch.plan: cannot read the plan file" ]
  printf '%s\n' "$good" >good.plan
  run "$M" good.plan --resume
  [ "$status" -eq 2 ]
  [ "$output" = "mno-migrate-tenant: error: good.plan.state: no earlier run to continue (no steps/ directory)" ]
  [ ! -e good.plan.state ]
  run "$M" bad.plan --from-step 9
  [ "$status" -eq 2 ]
  [ "$output" = "mno-migrate-tenant: error: a step is a number from 1 to 7 ('9'): disconnect dump filter restore verify rename freeze" ]
}
