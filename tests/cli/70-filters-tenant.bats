#!/usr/bin/env bats
# 70-filters-tenant.bats: mno-filter-tenant gives exactly what mno-dump --tenant writes with the
# same scope file (same sections, counts and sums: the records themselves), for every fixture
# tenant and every scope file (mnohub, connector, connec with --orgs-from); a chain of all four
# filters in both engines into mno-restore -; and its errors.

bats_require_minimum_version 1.5.0

setup_file() {
  export MNO_TOP=${MNO_TOP:-$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}
  export PATH="$MNO_BIN:$PATH"
  . "$MNO_TOP/tests/lib/env.sh"
  export HUB CONN CNC F=$MNO_TOP/filters
  HUB=$(pg_newdb filters_tn_hub)
  CONN=$(pg_newdb filters_tn_conn)
  CNC=$(mongo_newdb filters_tn_connec)
  "$MNO_TOP/tests/fixtures/load" mnohub "$HUB"
  "$MNO_TOP/tests/fixtures/load" connector "$CONN"
  "$MNO_TOP/tests/fixtures/load" connec "$CNC"
  export A=$BATS_FILE_TMPDIR
  mno-dump --source "$HUB" --all --scope "$F/mnohub.scope" --quiet -o "$A/hub-all.mnoa"
  mno-dump --source "$CONN" --all --allow-dangling --scope "$F/connector.scope" --quiet -o "$A/conn-all.mnoa"
  mno-dump --source "$CNC" --all --scope "$F/connec.scope" --quiet -o "$A/cnc-all.mnoa"
  for t in acme globex initech; do
    mno-dump --source "$HUB" --tenant "$t" --scope "$F/mnohub.scope" --quiet -o "$A/hub-$t.mnoa"
    mno-dump --source "$CONN" --tenant "$t" --scope "$F/connector.scope" --quiet -o "$A/conn-$t.mnoa"
    mno-dump --source "$CNC" --tenant "$t" --scope "$F/connec.scope" --orgs-from "$A/hub-$t.mnoa" --quiet -o "$A/cnc-$t.mnoa"
  done
}

setup() {
  . "$MNO_TOP/tests/lib/env.sh"
  mno_shm_sweep
  export PGOPTIONS="-c TimeZone=UTC -c DateStyle=ISO -c IntervalStyle=postgres -c extra_float_digits=3 -c bytea_output=hex"
  cd "$BATS_TEST_TMPDIR"
}

q() { psql -X -At -F $'\t' -d "$1" -c "$2"; }

# same_as_dump DUMPED FILTERED: the same sections in the same order, each with the same count
# and sum, the same trailer, and the same record lines
same_as_dump() {
  diff -u <(mno-cat --list "$1") <(mno-cat --list "$2" | grep -v '^#')
  diff <(tail -n 1 "$1" | jq -c '[.sections, .count, .sum]') <(tail -n 1 "$2" | jq -c '[.sections, .count, .sum]')
  diff <(mno-cat --records "$1") <(mno-cat --records "$2")
}

@test "tenant: MnoHub (mnohub.scope): every fixture tenant's filtered --all archive is mno-dump --tenant's" {
  for t in acme globex initech; do
    mno-filter-tenant --tenant "$t" --scope "$F/mnohub.scope" -o "$t.mnoa" "$A/hub-all.mnoa"
    same_as_dump "$A/hub-$t.mnoa" "$t.mnoa"
    [ "$(mno-cat --header "$t.mnoa" | jq -c '[.tenant, .scope, .all]')" = "[\"$t\",\"mnohub.scope\",null]" ]
  done
  # the tenant by id selects as mno-dump's root rule does (tenants: root name id)
  id=$(q "$HUB" "SELECT id FROM public.tenants WHERE name = 'globex'")
  mno-dump --source "$HUB" --tenant "$id" --scope "$F/mnohub.scope" --quiet -o byid.mnoa
  mno-filter-tenant --tenant "$id" --scope "$F/mnohub.scope" "$A/hub-all.mnoa" >fbyid.mnoa
  same_as_dump byid.mnoa fbyid.mnoa
}

@test "tenant: connector databases (connector.scope): every fixture tenant" {
  for t in acme globex initech; do
    mno-filter-tenant --tenant "$t" --scope "$F/connector.scope" "$A/conn-all.mnoa" >"$t.mnoa"
    same_as_dump "$A/conn-$t.mnoa" "$t.mnoa"
  done
}

@test "tenant: Connec! (connec.scope, --orgs-from the tenant's MnoHub archive, default scope from the header): every fixture tenant" {
  for t in acme globex initech; do
    MNO_SCOPE_DIR=$F mno-filter-tenant --tenant "$t" --orgs-from "$A/hub-$t.mnoa" -z -o "$t.mnoa.zst" "$A/cnc-all.mnoa"
    zstd -q -d -c "$t.mnoa.zst" >"$t.mnoa"
    same_as_dump "$A/cnc-$t.mnoa" "$t.mnoa"
  done
  # zstd input, on stdin
  zstd -q -c "$A/cnc-all.mnoa" | mno-filter-tenant --tenant acme --orgs-from "$A/hub-acme.mnoa" --scope "$F/connec.scope" >z.mnoa
  same_as_dump "$A/cnc-acme.mnoa" z.mnoa
}

@test "tenant: a chain of all four filters in both engines into mno-restore -; mno-verify names the chain" {
  export MNO_SCRUB_KEY=k
  t=$(pg_newdb filters_tn_chain)
  mno-filter-tenant --tenant acme --scope "$F/connector.scope" "$A/conn-all.mnoa" \
    | mno-filter-scrub --rules "$F/rehearsal.scrub" \
    | mno-filter-rename --tenant acme=acme-poc --scope "$F/connector.scope" 2>/dev/null \
    | mno-filter-select --exclude public.synchronizations \
    | tee chain.mnoa | mno-restore --quiet --create --target "$t" -
  [ "$(q "$t" "SELECT count(*) FROM public.organizations WHERE tenant = 'acme-poc' AND oauth_uid IS NULL")" = "$(q "$CONN" "SELECT count(*) FROM public.organizations WHERE tenant = 'acme'")" ]
  [ "$(q "$t" "SELECT count(*) FROM public.organizations WHERE tenant <> 'acme-poc'")" = 0 ]
  [ "$(q "$t" "SELECT to_regclass('public.synchronizations') IS NULL")" = t ]
  run mno-verify --archive chain.mnoa --target "$t"
  [ "$status" -eq 0 ]
  [ "${lines[1]}" = "filters  mno-filter-tenant --tenant acme --scope $F/connector.scope $A/conn-all.mnoa | mno-filter-scrub --rules $F/rehearsal.scrub | mno-filter-rename --tenant acme=acme-poc --scope $F/connector.scope | mno-filter-select --exclude public.synchronizations" ]
  [ "$(mno-cat --header chain.mnoa | jq -r .tenant)" = acme-poc ]
  # MongoDB: tenant | scrub | rename | select
  tm=$(mongo_newdb filters_tn_chain_m)
  mno-filter-tenant --tenant acme --scope "$F/connec.scope" --orgs-from "$A/hub-acme.mnoa" "$A/cnc-all.mnoa" \
    | mno-filter-scrub --rules "$F/rehearsal.scrub" \
    | mno-filter-rename --map filters_tn_connec.invoices.payment_method=CHEQUE:CASH 2>/dev/null \
    | mno-filter-select --exclude '*.journals' \
    | tee m.mnoa | mno-restore --quiet --create --target "$tm" -
  run mno-verify --archive m.mnoa --target "$tm"
  [ "$status" -eq 0 ]
  [[ "$output" == *"filters  mno-filter-tenant --tenant acme "*" | mno-filter-select --exclude '*.journals'"* ]]
  # the people are acme's only, emails hashed
  mno-cat --records m.mnoa | jq -r 'select(.ns | endswith(".people")) | .v.channel_id' | sort -u >ch
  mno-cat --records --ns public.organizations "$A/hub-acme.mnoa" | jq -r .v.uid | sort -u >uids
  [ -s ch ]
  [ -z "$(comm -23 ch uids)" ]
}

@test "tenant: memory is flat: eight times the records, the same peak RSS (only the kept parents' keys are held)" {
  python3 "$BATS_TEST_DIRNAME/70-filters-tenant/gen.py" 20000 >small.mnoa
  python3 "$BATS_TEST_DIRNAME/70-filters-tenant/gen.py" 160000 >large.mnoa
  printf 'public.orgs: root tenant\npublic.big: parent org_id -> public.orgs.id\n' >t.scope
  rss() { /usr/bin/time -f %M -o "$1" "${@:2}" >/dev/null; }
  rss small.rss mno-filter-tenant --tenant t7 --scope t.scope small.mnoa
  rss large.rss mno-filter-tenant --tenant t7 --scope t.scope large.mnoa
  rss small-sel.rss mno-filter-select small.mnoa
  rss large-sel.rss mno-filter-select large.mnoa
  # the large archive is about 30 MB more: a filter that held it would grow by that much
  [ $(( $(tail -n 1 large.rss) - $(tail -n 1 small.rss) )) -lt 8192 ]
  [ $(( $(tail -n 1 large-sel.rss) - $(tail -n 1 small-sel.rss) )) -lt 8192 ]
  # and the tenant's rows: organizations 7, 107, ..., 907 and their rows
  run mno-filter-tenant --tenant t7 --scope t.scope large.mnoa
  [ "$(mno-cat --list - <<<"$output" | grep -v '^#' | cut -f1,2 | tr '\t\n' ': ')" = "public.orgs:10 public.big:1600 " ]
}

@test "tenant: errors: a tenant archive, no --orgs-from for MongoDB, a table the scope does not name, usage" {
  run --separate-stderr mno-filter-tenant --tenant globex --scope "$F/mnohub.scope" -o out.mnoa "$A/hub-acme.mnoa"
  [ "$status" -eq 2 ]
  [ "$stderr" = "mno-filter-tenant: error: $A/hub-acme.mnoa:1: archive of tenant 'acme', not of a whole database (mno-dump --all)" ]
  [ ! -e out.mnoa ] && [ ! -e out.mnoa.partial ]
  run --separate-stderr mno-filter-tenant --tenant acme --scope "$F/connec.scope" -o out.mnoa "$A/cnc-all.mnoa"
  [ "$status" -eq 2 ]
  [ "$stderr" = "mno-filter-tenant: error: $A/cnc-all.mnoa:1: a mongodb archive needs the tenant's organizations: give --orgs-from HUB_ARCHIVE" ]
  grep -v 'public.audit_events' "$F/mnohub.scope" >partial.scope
  run --separate-stderr mno-filter-tenant --tenant acme --scope partial.scope -o out.mnoa "$A/hub-all.mnoa"
  [ "$status" -eq 2 ]
  [ "$stderr" = "mno-filter-tenant: error: partial.scope: public.audit_events is not in the scope file (mno-dump places such a table by its declared foreign keys, which an archive does not carry: add a rule for it)" ]
  [ ! -e out.mnoa ] && [ ! -e out.mnoa.partial ]
  run mno-filter-tenant "$A/hub-all.mnoa"
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "mno-filter-tenant: error: --tenant NAME is required" ]
  run mno-filter-tenant --help
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" == "usage: mno-filter-tenant "* ]]
}
