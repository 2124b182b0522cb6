#!/usr/bin/env bats
# 90-demo.bats: `make demo` (scripts/demo): a whole tenant migration on throwaway servers that
# the script starts and stops itself; its report lines, its archives checked independently,
# and nothing left running.

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

@test "demo: migrates tenant acme end to end, every report ok, exit 0, servers stopped" {
  keep=$BATS_TEST_TMPDIR/keep
  run "$MNO_TOP/scripts/demo" --keep "$keep"
  echo "$output" >&2
  [ "$status" -eq 0 ]
  for h in "== 1. throwaway servers" "== 2. the shared environment: MnoHub, a connector database and Connec!, 3 tenants" \
    "== 3. dump tenant acme (zstd archives)" "== 4. restore into empty enterprise databases" \
    "== 5. verify: each archive against its target (checksum reports)" "== 6. stop the servers"; do
    grep -qxF "$h" <<<"$output"
  done
  grep -qxF "tenants: acme, globex, initech" <<<"$output"
  [ "$(grep -c '^verdict: ok: ' <<<"$output")" -eq 3 ]
  [ "$(grep -c '^verdict: ' <<<"$output")" -eq 3 ]
  ! grep -E '  (DIFFERS|MISSING in target|EXTRA in target)$' <<<"$output"
  [[ "${lines[-1]}" == "demo: ok: tenant acme migrated and verified (mnohub ok, connector ok, connec ok) in "*" s" ]]
  no_leftovers
  # the kept archives: sealed, of tenant acme, and the reports' totals are their trailers'
  for a in mnohub connector connec; do
    mno-cat --check "$keep/$a.mnoa.zst" >/dev/null
    [ "$(mno-cat --header "$keep/$a.mnoa.zst" | jq -r .tenant)" = acme ]
    j=$keep/$a.report.json
    [ "$(jq -r .verdict "$j")" = ok ]
    [ "$(jq -r '.archive.trailer.sum' "$j")" = "$(jq -r .totals.actual_sum "$j")" ]
    [ "$(jq -r '.archive.trailer.count' "$j")" = "$(mno-cat --list "$keep/$a.mnoa.zst" | awk -F'\t' '{c += $2} END {print c}')" ]
    [ "$(jq -r '.archive.trailer.count' "$j")" -gt 0 ]
    grep -qxF "verdict: ok: $(jq -r '.totals.sections' "$j") of $(jq -r '.totals.sections' "$j") $( [ $a = connec ] && echo collections || echo tables) match, $(jq -r '.archive.trailer.count' "$j") records" <<<"$output"
  done
  # Connec! holds only acme's documents: every channel_id is an organization uid of the hub archive
  mno-cat --records "$keep/mnohub.mnoa.zst" | jq -r 'select(.ns == "public.organizations") | .v.uid' | sort -u >"$BATS_TEST_TMPDIR/orgs"
  [ -s "$BATS_TEST_TMPDIR/orgs" ]
  mno-cat --records "$keep/connec.mnoa.zst" | jq -r '.v.channel_id' | sort -u >"$BATS_TEST_TMPDIR/channels"
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
