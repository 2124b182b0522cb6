#!/usr/bin/env bats
# 70-filters-rename.bats: mno-filter-rename on fixture archives (connector, MnoHub, Connec!):
# --tenant over the scope's root columns and the header, --map on columns and dotted fields,
# --map-file, the refusals (key columns, _id, a NEW value already there; exit 2, the mapping
# or map file line named, no output file), --merge, the report; read back from restored servers;
# and a chain of select | scrub | rename in both engines into mno-restore -.

bats_require_minimum_version 1.5.0

setup_file() {
  export MNO_TOP=${MNO_TOP:-$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}
  export PATH="$MNO_BIN:$PATH"
  . "$MNO_TOP/tests/lib/env.sh"
  export HUB CONN CNC
  HUB=$(pg_newdb filters_rn_hub)
  CONN=$(pg_newdb filters_rn_conn)
  CNC=$(mongo_newdb filters_rn_connec)
  "$MNO_TOP/tests/fixtures/load" mnohub "$HUB"
  "$MNO_TOP/tests/fixtures/load" connector "$CONN"
  "$MNO_TOP/tests/fixtures/load" connec "$CNC"
  export A=$BATS_FILE_TMPDIR
  mno-dump --source "$HUB" --scope "$MNO_TOP/filters/mnohub.scope" --tenant acme --quiet -o "$A/hub.mnoa"
  mno-dump --source "$CONN" --scope "$MNO_TOP/filters/connector.scope" --tenant acme --quiet -o "$A/conn.mnoa"
  mno-dump --source "$CONN" --all --allow-dangling --quiet -o "$A/connall.mnoa"
  mno-dump --source "$CNC" --scope "$MNO_TOP/filters/connec.scope" --tenant acme --orgs-from "$A/hub.mnoa" --quiet -o "$A/cnc.mnoa"
}

setup() {
  . "$MNO_TOP/tests/lib/env.sh"
  mno_shm_sweep
  export PGOPTIONS="-c TimeZone=UTC -c DateStyle=ISO -c IntervalStyle=postgres -c extra_float_digits=3 -c bytea_output=hex"
  cd "$BATS_TEST_TMPDIR"
}

q() { psql -X -At -F $'\t' -d "$1" -c "$2"; }
no_output_file() { [ ! -e "$1" ] && [ ! -e "$1.partial" ]; }

@test "rename: --tenant acme=asb on a connector archive: organizations.tenant, users.tenant and the header; counts on stderr; read back" {
  run --separate-stderr mno-filter-rename --tenant acme=asb --scope "$MNO_TOP/filters/connector.scope" -o out.mnoa "$A/conn.mnoa"
  [ "$status" -eq 0 ]
  no=$(q "$CONN" "SELECT count(*) FROM public.organizations WHERE tenant = 'acme'")
  nu=$(q "$CONN" "SELECT count(*) FROM public.users WHERE tenant = 'acme'")
  [ "$stderr" = "mno-filter-rename: public.organizations: $no values changed
mno-filter-rename: public.users: $nu values changed" ]
  [ "$(mno-cat --header out.mnoa | jq -r .tenant)" = asb ]
  t=$(pg_newdb filters_rn_t1)
  mno-restore --quiet --create --target "$t" out.mnoa
  [ "$(q "$t" "SELECT count(*) FROM public.organizations WHERE tenant = 'asb'")" = "$no" ]
  [ "$(q "$t" "SELECT count(*) FROM public.users WHERE tenant = 'asb'")" = "$nu" ]
  [ "$(q "$t" "SELECT count(*) FROM public.organizations WHERE tenant <> 'asb'") $(q "$t" "SELECT count(*) FROM public.users WHERE tenant <> 'asb'")" = "0 0" ]
  # everything else as it was: the other columns (server side) and the other sections (bytes)
  [ "$(q "$t" "SELECT md5(string_agg(uid || name, ',' ORDER BY id)) FROM public.organizations")" = "$(q "$CONN" "SELECT md5(string_agg(uid || name, ',' ORDER BY id)) FROM public.organizations WHERE tenant = 'acme'")" ]
  for ns in public.id_maps public.synchronizations public.user_organization_rels; do
    diff <(grep -F "\"ns\":\"$ns\"" "$A/conn.mnoa") <(grep -F "\"ns\":\"$ns\"" out.mnoa)
  done
  run mno-verify --archive out.mnoa --target "$t"
  [ "$status" -eq 0 ]
  # the default scope comes from the header's source, as mno-dump's does
  MNO_SCOPE_DIR=$MNO_TOP/filters mno-filter-rename --tenant acme=asb "$A/conn.mnoa" 2>/dev/null | mno-cat --records - >a
  mno-cat --records out.mnoa >b
  diff a b
}

@test "rename: a NEW value already in the column is refused (two tenants would become one); --merge allows it" {
  run --separate-stderr mno-filter-rename --tenant acme=globex --scope "$MNO_TOP/filters/connector.scope" -o out.mnoa "$A/connall.mnoa"
  [ "$status" -eq 2 ]
  ln=$(grep -n '^public.organizations: *root tenant' "$MNO_TOP/filters/connector.scope" | cut -d: -f1)
  [[ "$stderr" =~ ^"mno-filter-rename: error: --tenant acme=globex ($MNO_TOP/filters/connector.scope:$ln): public.organizations.tenant already holds 'globex' (record at $A/connall.mnoa:"[0-9]+"): two values would become one; --merge allows it"$ ]]
  no_output_file out.mnoa
  run --separate-stderr mno-filter-rename --merge --tenant acme=globex --scope "$MNO_TOP/filters/connector.scope" -o out.mnoa "$A/connall.mnoa"
  [ "$status" -eq 0 ]
  [ "$(mno-cat --records --ns public.organizations out.mnoa | jq -r .v.tenant | sort -u | tr '\n' ' ')" = "$(mno-cat --records --ns public.organizations "$A/connall.mnoa" | jq -r .v.tenant | sed 's/^acme$/globex/' | sort -u | tr '\n' ' ')" ]
  # --map: the same refusal, naming the option
  run --separate-stderr mno-filter-rename --map public.users.tenant=acme:initech -o out2.mnoa "$A/connall.mnoa"
  [ "$status" -eq 2 ]
  [[ "$stderr" == "mno-filter-rename: error: --map public.users.tenant=acme:initech: public.users.tenant already holds 'initech' (record at "* ]]
  no_output_file out2.mnoa
}

@test "rename: --map and --map-file on PostgreSQL columns and MongoDB dotted fields; --json report" {
  uid=$(q "$HUB" "SELECT o.uid FROM public.organizations o JOIN public.tenants t ON t.id = o.mnoe_tenant_id WHERE t.name = 'acme' ORDER BY o.id LIMIT 1")
  run --separate-stderr mno-filter-rename --json --map "public.organizations.uid=$uid:org-renamed" --map public.dashboards.organization_ids=none:none2 -o out.mnoa "$A/hub.mnoa"
  [ "$status" -eq 0 ]
  [ "$(jq -c '[.tool, .changed, (.sections | map(.ns + "=" + (.changed | tostring)))]' <<<"$stderr")" = '["mno-filter-rename",1,["public.organizations=1","public.dashboards=0"]]' ]
  [ "$(mno-cat --records --ns public.organizations out.mnoa | grep -c '"uid":"org-renamed"')" = 1 ]
  ! mno-cat --records --ns public.organizations out.mnoa | grep -qF "\"uid\":\"$uid\""
  # MongoDB: a field in a sub-document, from a map file
  addr=$(mno-cat --records "$A/cnc.mnoa" | jq -r 'select(.ns | endswith(".people")) | .v.email.address | strings' | head -1)
  n=$(mno-cat --records "$A/cnc.mnoa" | jq -r 'select(.ns | endswith(".people")) | .v.email.address | strings' | grep -cxF "$addr")
  printf '# people\n\nfilters_rn_connec.people.email.address\t%s\tnew@example.org\n' "$addr" >m.tsv
  run --separate-stderr mno-filter-rename --map-file m.tsv -o m.mnoa "$A/cnc.mnoa"
  [ "$status" -eq 0 ]
  [ "$stderr" = "mno-filter-rename: filters_rn_connec.people: $n values changed" ]
  [ "$(mno-cat --records m.mnoa | jq -r 'select(.ns | endswith(".people")) | .v.email.address | strings' | grep -cxF new@example.org)" = "$n" ]
  t=$(mongo_newdb filters_rn_mongo)
  mno-restore --quiet --create --target "$t" m.mnoa
  run mno-verify --archive m.mnoa --target "$t"
  [ "$status" -eq 0 ]
  [[ "$output" == *"filters  mno-filter-rename --map-file m.tsv -o m.mnoa $A/cnc.mnoa"* ]]
}

@test "rename: refusals: key columns, _id, bad mappings; exit 2, the mapping named, no output file" {
  fails() { # MESSAGE ARGS...
    local want=$1; shift
    run --separate-stderr mno-filter-rename -o out.mnoa "$@"
    [ "$status" -eq 2 ] || { echo "status $status $stderr"; return 1; }
    [ "$stderr" = "mno-filter-rename: error: $want" ] || { echo "got:  $stderr"; echo "want: mno-filter-rename: error: $want"; return 1; }
    no_output_file out.mnoa
  }
  fails "--map public.users.id=1:2: public.users.id is in the section's key (order and identity hang on it): refused" --map public.users.id=1:2 "$A/conn.mnoa"
  fails "--map filters_rn_connec.people._id=a:b: filters_rn_connec.people._id is the document's _id (order and identity hang on it): refused" --map filters_rn_connec.people._id=a:b "$A/cnc.mnoa"
  fails "--map public.users.nosuch=a:b: section public.users has no column nosuch" --map public.users.nosuch=a:b "$A/conn.mnoa"
  fails "--map public.nosuch.c=a:b: no section public.nosuch in the archive" --map public.nosuch.c=a:b "$A/conn.mnoa"
  printf 'public.users.tenant\tacme\n' >bad.tsv
  fails "bad.tsv:1: expected NS.FIELD, OLD and NEW separated by tabs" --map-file bad.tsv "$A/conn.mnoa"
  printf '# x\npublic.users.id\t1\t2\n' >key.tsv
  fails "key.tsv:2: public.users.id is in the section's key (order and identity hang on it): refused" --map-file key.tsv "$A/conn.mnoa"
  run mno-filter-rename --map public.users=a:b "$A/conn.mnoa"
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "mno-filter-rename: error: --map public.users=a:b: expected NS.FIELD=OLD:NEW (NS: two parts, schema.table or database.collection)" ]
  run mno-filter-rename --tenant acme "$A/conn.mnoa"
  [ "${lines[0]}" = "mno-filter-rename: error: --tenant: expected OLD=NEW" ]
  run mno-filter-rename "$A/conn.mnoa"
  [ "${lines[0]}" = "mno-filter-rename: error: give at least one --map, --map-file or --tenant" ]
  run mno-filter-rename --help
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" == "usage: mno-filter-rename "* ]]
}

@test "rename: --tenant on a MnoHub archive maps tenants.name (not the id key) and the header" {
  run --separate-stderr mno-filter-rename --tenant acme=asb --scope "$MNO_TOP/filters/mnohub.scope" -o out.mnoa "$A/hub.mnoa"
  [ "$status" -eq 0 ]
  [ "$stderr" = "mno-filter-rename: public.tenants: 1 values changed" ]
  [ "$(mno-cat --records --ns public.tenants out.mnoa | jq -r .v.name)" = asb ]
  [ "$(mno-cat --header out.mnoa | jq -r .tenant)" = asb ]
}

@test "rename: a chain select | scrub | rename into mno-restore -, both engines; mno-verify names the chain" {
  export MNO_SCRUB_KEY=k
  t=$(pg_newdb filters_rn_chain)
  mno-filter-select --exclude public.synchronizations "$A/conn.mnoa" \
    | mno-filter-scrub --rules "$MNO_TOP/filters/rehearsal.scrub" \
    | mno-filter-rename --tenant acme=asb --scope "$MNO_TOP/filters/connector.scope" 2>/dev/null \
    | tee chain.mnoa | mno-restore --quiet --create --target "$t" -
  [ "$(q "$t" "SELECT count(*) FROM public.users WHERE tenant = 'asb' AND email ~ '^[0-9a-f]{64}@'")" = "$(q "$CONN" "SELECT count(*) FROM public.users WHERE tenant = 'acme'")" ]
  [ "$(q "$t" "SELECT to_regclass('public.synchronizations') IS NULL")" = t ]
  run mno-verify --archive chain.mnoa --target "$t"
  [ "$status" -eq 0 ]
  [ "${lines[1]}" = "filters  mno-filter-select --exclude public.synchronizations $A/conn.mnoa | mno-filter-scrub --rules $MNO_TOP/filters/rehearsal.scrub | mno-filter-rename --tenant acme=asb --scope $MNO_TOP/filters/connector.scope" ]
  tm=$(mongo_newdb filters_rn_chain_m)
  mno-filter-select --only '*.people,*.invoices' "$A/cnc.mnoa" | mno-filter-scrub --rules "$MNO_TOP/filters/rehearsal.scrub" \
    | mno-filter-rename --map filters_rn_connec.invoices.payment_method=CHEQUE:CASH 2>/dev/null | tee m.mnoa \
    | mno-restore --quiet --create --target "$tm" -
  run mno-verify --archive m.mnoa --target "$tm"
  [ "$status" -eq 0 ]
  [[ "${lines[-1]}" == "verdict: ok: 2 of 2 collections match, "* ]]
}
