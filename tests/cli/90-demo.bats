#!/usr/bin/env bats
# 90-demo.bats: `make demo` (scripts/demo): a whole tenant migration by scripts/mno-migrate-tenant
# on throwaway servers that the demo starts and stops itself; its report, its archives checked
# independently, the other tenants untouched, and nothing left running.

setup() {
  export MNO_TOP=${MNO_TOP:-$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}
  export PATH="$MNO_BIN:$PATH"
  export TMPDIR=$BATS_TEST_TMPDIR
}

# no process of the demo (its servers live under $TMPDIR) may outlive it
no_leftovers() {
  ! pgrep -f "$BATS_TEST_TMPDIR/mno-demo" >/dev/null
  [ -z "$(ls -d "$BATS_TEST_TMPDIR"/mno-demo.* 2>/dev/null)" ]
}

@test "demo: migrates tenant acme end to end with scripts/mno-migrate-tenant, other tenants untouched, exit 0, servers stopped" {
  keep=$BATS_TEST_TMPDIR/keep
  run "$MNO_TOP/scripts/demo" --keep "$keep"
  echo "$output" >&2
  [ "$status" -eq 0 ]
  for h in "== 1. throwaway servers" "== 2. the shared environment: MnoHub, Connec! and two connector databases, 3 tenants" \
    "== 3. the enterprise environment of tenant acme: empty databases" "== 4. the plan (acme.plan)" \
    "== 5. the other tenants before: globex initech" "== 6. the migration: scripts/mno-migrate-tenant" \
    "== 7. the report (state/migration-report.md)" "== 8. the other tenants after: untouched" "== 9. stop the servers"; do
    grep -qxF "$h" <<<"$output"
  done
  grep -qxF "tenants: acme, globex, initech" <<<"$output"
  # the script's seven steps ran, each printed before its commands
  for i in 1 2 3 4 5 6 7; do grep -q "^== step $i of 7, " <<<"$output"; done
  grep -qxF '$ mno-freeze --target "$SHARED_MNOHUB" --tenant acme --verified reports/mnohub.verify.json --verified reports/connec.verify.json --connec "$SHARED_CONNEC" --json --undo-file undo/freeze-mnohub.mnoa >reports/mnohub.freeze.json' <<<"$output"
  grep -qxF 'Result: **done**.  ' <<<"$output"
  [ "$(grep -c ' sums as before$' <<<"$output")" -eq 8 ]
  ! grep -q DIFFERS <<<"$output"
  [[ "${lines[-1]}" == "demo: ok: tenant acme migrated and verified (mnohub ok, connec ok, erp ok), renamed on crm, frozen; globex and initech untouched; in "*" s" ]]
  no_leftovers
  # the kept archives: sealed, of tenant acme (the erp copy: acme-ent), and the reports' totals are their trailers'
  st=$keep/state
  [ "$(jq -r .result "$st/migration-report.json")" = "done" ]
  for a in mnohub connec erp; do
    f=$(jq -r --arg a $a '.databases[] | select(.name == $a) | .restored_archive' "$st/migration-report.json")
    mno-cat --check "$st/$f" >/dev/null
    [ "$(mno-cat --header "$st/$f" | jq -r .tenant)" = "$( [ $a = erp ] && echo acme-ent || echo acme)" ]
    j=$st/reports/$a.verify.json
    [ "$(jq -r .verdict "$j")" = ok ]
    [ "$(jq -r '.archive.trailer.sum' "$j")" = "$(jq -r .totals.actual_sum "$j")" ]
    [ "$(jq -r '.archive.trailer.count' "$j")" = "$(mno-cat --list "$st/$f" | awk -F'\t' '!/^#/ {c += $2} END {print c}')" ]
    [ "$(jq -r '.archive.trailer.count' "$j")" -gt 0 ]
  done
  # Connec! holds only acme's documents: every channel_id is an organization uid of the hub archive
  mno-cat --records "$st/archives/mnohub.mnoa.zst" | jq -r 'select(.ns == "public.organizations") | .v.uid' | sort -u >"$BATS_TEST_TMPDIR/orgs"
  [ -s "$BATS_TEST_TMPDIR/orgs" ]
  mno-cat --records "$st/archives/connec.mnoa.zst" | jq -r '.v.channel_id' | sort -u >"$BATS_TEST_TMPDIR/channels"
  [ -z "$(comm -23 "$BATS_TEST_TMPDIR/channels" "$BATS_TEST_TMPDIR/orgs")" ]
}

@test "demo: an unknown tenant is an error (exit 2) that names it; the servers are stopped" {
  run "$MNO_TOP/scripts/demo" --tenant nosuch
  [ "$status" -eq 2 ]
  grep -q "nosuch" <<<"$output"
  grep -qxF "demo: error: the command above failed (exit status 2)" <<<"$output"
  no_leftovers
  run "$MNO_TOP/scripts/demo" --bogus
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "demo: error: unknown option '--bogus'" ]
}
