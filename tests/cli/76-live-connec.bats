#!/usr/bin/env bats
# 76-live-connec.bats: mno-freeze on Connec! (MongoDB) after a real migration of tenant acme
# (MnoHub and Connec! dumped, restored, verified): the freeze re-checks the Connec! documents
# (--connec); --destroy on the Connec! database is refused when the MnoHub tenant is not
# frozen, without the reports, or when the documents changed since the dump (nothing
# deleted); it deletes exactly the tenant's documents (other tenants' sums unchanged), its
# final archive restores and verifies ok; killed mid-deletion (MNO_TEST_DESTROY_KILL), a rerun
# finishes from the journal; after the MnoHub's destroy, --orgs-from its final archive.

setup_file() {
  export MNO_TOP=${MNO_TOP:-$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}
  export PATH="$MNO_BIN:$PATH"
  . "$MNO_TOP/tests/lib/env.sh"
  mno_shm_sweep
  export HUB ENT CX CXE R=$BATS_FILE_TMPDIR
  HUB=$(pg_newdb live_cx_hub)
  ENT=$(pg_newdb live_cx_ent)
  CX=$(mongo_newdb live_cx_connec)
  CXE=$(mongo_newdb live_cx_connec_ent)
  "$MNO_TOP/tests/fixtures/load" mnohub "$HUB"
  "$MNO_TOP/tests/fixtures/load" connec "$CX"
  export MNO_SCOPE_DIR=$MNO_TOP/filters
  mno-dump --source "$HUB" --tenant acme --quiet -o "$R/hub.mnoa"
  mno-restore --target "$ENT" --create --quiet "$R/hub.mnoa"
  mno-verify --archive "$R/hub.mnoa" --target "$ENT" --json -o "$R/hub.json"
  mno-dump --source "$CX" --tenant acme --orgs-from "$R/hub.mnoa" --quiet -o "$R/connec.mnoa"
  mno-restore --target "$CXE" --create --quiet "$R/connec.mnoa"
  mno-verify --archive "$R/connec.mnoa" --target "$CXE" --json -o "$R/connec.json"
}

setup() {
  . "$MNO_TOP/tests/lib/env.sh"
  . "$MNO_TOP/tests/lib/live.sh"
  mno_shm_sweep
  cd "$BATS_TEST_TMPDIR"
}

# the same Connec! database (the reports name its collections by database), loaded again
fresh_connec() {
  mongo_newdb live_cx_connec >/dev/null
  "$MNO_TOP/tests/fixtures/load" connec "$CX"
}

fresh_hub() {
  local u
  u=$(pg_newdb "live_cx_h$BATS_TEST_NUMBER")
  pg_dump -d "$HUB" | psql -X -q -v ON_ERROR_STOP=1 -d "$u" >/dev/null
  echo "$u"
}

# csums HUB TENANT OUT: mno-cat --list of a fresh dump of TENANT's Connec! documents
csums() { mno-dump --source "$CX" --tenant "$2" --hub "$1" --quiet -o "$3.mnoa" && mno-cat --list "$3.mnoa" >"$3"; }
# every document of the database (collections, counts, sums), the toolkit's own collections aside
allsums() { mno-dump --source "$CX" --all --quiet -o "$1.mnoa" && mno-cat --list "$1.mnoa" >"$1"; }
# the database's documents, counted
ndocs() { mno-cat --list "$1.mnoa" | awk -F'\t' '{ n += $2 } END { print n }'; }
# the tenant's documents (channel_id an organization uid of acme), counted by the server, every collection
nacme() {
  local c n t=0
  for c in accounts company employees invoices items journals opportunities organizations payments people sales_orders tax_codes tax_rates; do
    n=$(mongo_cmd "$MNO_TEST_MONGO_URI" live_cx_connec '{"count": "'$c'", "query": {"channel_id": {"$in": ["org-acme-1", "org-acme-2", "org-acme-3", "org-acme-4", "org-acme-5", "org-acme-6", "org-acme-7", "org-acme-8"]}}}' \
      | jq -er '.n | if type == "object" then (.["$numberInt"] // .["$numberLong"]) else . end') || return 1
    t=$((t + n))
  done
  echo "$t"
}
freeze() { mno-freeze --target "$1" --tenant acme --verified "$R/hub.json" --verified "$R/connec.json" --connec "$CX" --undo-file f.mnoa >/dev/null; }

@test "connec: the reports of the migration are ok; 342 documents of acme (the test's own premise)" {
  [ "$(jq -r '[.verdict, .archive.header.source, .archive.header.tenant] | @tsv' "$R/connec.json")" = "ok	connec	acme" ]
  [ "$(mno-cat --list "$R/connec.mnoa" | awk -F'\t' '{ n += $2 } END { print n }')" = 342 ]
}

@test "freeze: refused without --connec, and when the Connec! documents changed since the dump (naming the collections)" {
  fresh_connec
  h=$(fresh_hub)
  sums "$h" acme before
  run mno-freeze --target "$h" --tenant acme --verified "$R/hub.json" --verified "$R/connec.json"
  [ "$status" -eq 2 ]
  [ "$output" = "mno-freeze: error: no --connec URI: the tenant's Connec! documents must still be those of the connec report (give --connec CONNEC_URI, the old Connec! database, to re-check them)" ]
  mongo_cmd "$MNO_TEST_MONGO_URI" live_cx_connec '{"update": "tax_codes", "updates": [{"q": {"channel_id": "org-acme-2"}, "u": {"$set": {"name": "changed"}}}]}' >/dev/null
  mongo_cmd "$MNO_TEST_MONGO_URI" live_cx_connec '{"insert": "people", "documents": [{"_id": "new-1", "channel_id": "org-acme-3", "name": "late"}]}' >/dev/null
  run mno-freeze --target "$h" --tenant acme --verified "$R/hub.json" --verified "$R/connec.json" --connec "$CX"
  [ "$status" -eq 2 ]
  [ "$output" = "mno-freeze: error: the tenant's documents in the source changed since the dump: live_cx_connec.people (49 documents in the archive, 50 now), live_cx_connec.tax_codes (16 documents in the archive, 16 now, other values); migrate them again (dump, restore, verify) first; nothing was changed" ]
  sums "$h" acme after
  diff before after
  [ -z "$(ls *.mnoa 2>/dev/null | grep -v -e before -e after)" ]
}

@test "destroy on Connec!: refused when the MnoHub tenant is not frozen, without the reports, without the MnoHub; nothing deleted" {
  fresh_connec
  h=$(fresh_hub)
  allsums before
  run mno-freeze --target "$CX" --tenant acme --verified "$R/hub.json" --verified "$R/connec.json" --destroy --hub "$h" --yes
  [ "$status" -eq 2 ]
  [ "$output" = "mno-freeze: error: tenant 'acme' is not frozen in MnoHub database 'live_cx_h$BATS_TEST_NUMBER' (rows not at the freeze rules' values: public.organizations 8, public.users 16): freeze it first; nothing was changed" ]
  freeze "$h"
  run mno-freeze --target "$CX" --tenant acme --verified "$R/hub.json" --destroy --hub "$h" --yes
  [ "$status" -eq 2 ]
  [ "$output" = "mno-freeze: error: no verify report of the tenant's connec copy: give --verified REPORT (mno-verify --json of the connec archive against its restored copy)" ]
  run mno-freeze --target "$CX" --tenant acme --destroy --hub "$h" --yes
  [ "$status" -eq 2 ]
  [ "$output" = "mno-freeze: error: no --verified report: mno-freeze changes the old environment only after its copy is proven (mno-verify --json reports of the tenant's archives against their restored copies)" ]
  run env -u MNO_HUB mno-freeze --target "$CX" --tenant acme --verified "$R/hub.json" --verified "$R/connec.json" --destroy --yes
  [ "$status" -eq 2 ]
  [ "$output" = "mno-freeze: error: --destroy on a Connec! database needs the MnoHub: give --hub HUB_URI (the tenant frozen there) or --orgs-from FINAL_ARCHIVE (of the MnoHub's destroy)" ]
  run mno-freeze --target "$CX" --tenant acme --verified "$R/hub.json" --verified "$R/connec.json" --destroy --orgs-from "$R/hub.mnoa" --yes
  [ "$status" -eq 2 ]
  [ "$output" = "mno-freeze: error: $R/hub.mnoa:1: not the final archive of mno-freeze --destroy of a MnoHub (the Connec! documents are destroyed only once the MnoHub tenant is frozen: give --hub HUB_URI, or destroyed: its final archive)" ]
  run mno-freeze --target "$CX" --tenant acme --verified "$R/hub.json" --verified "$R/connec.json" --hub "$h"
  [ "$status" -eq 2 ]
  [ "$output" = "mno-freeze: error: --hub, --orgs-from and --batch go with --destroy (on a Connec! target)
try 'mno-freeze --help'" ]
  # without --yes: the plan, exit 2
  run mno-freeze --target "$CX" --tenant acme --verified "$R/hub.json" --verified "$R/connec.json" --destroy --hub "$h"
  [ "$status" -eq 2 ]
  [ "${lines[${#lines[@]}-1]}" = "mno-freeze: error: --destroy deletes the 342 documents above: give --yes to do it; nothing was changed" ]
  [ "$(printf '%s\n' "${lines[@]}" | head -n -1 | cut -f1,3 | tr '\t\n' ' ')" = "live_cx_connec.accounts 41 live_cx_connec.company 8 live_cx_connec.employees 8 live_cx_connec.invoices 49 live_cx_connec.items 33 live_cx_connec.journals 26 live_cx_connec.opportunities 16 live_cx_connec.organizations 32 live_cx_connec.payments 32 live_cx_connec.people 49 live_cx_connec.sales_orders 16 live_cx_connec.tax_codes 16 live_cx_connec.tax_rates 16 " ]
  allsums after
  diff before after
  [ -z "$(ls *.final.mnoa 2>/dev/null)" ]
}

@test "destroy on Connec!: refused when the documents changed since the dump, naming the collection; nothing deleted, no final archive" {
  fresh_connec
  h=$(fresh_hub)
  freeze "$h"
  mongo_cmd "$MNO_TEST_MONGO_URI" live_cx_connec '{"delete": "items", "deletes": [{"q": {"channel_id": "org-acme-4"}, "limit": 1}]}' >/dev/null
  allsums before
  run mno-freeze --target "$CX" --tenant acme --verified "$R/hub.json" --verified "$R/connec.json" --destroy --hub "$h" --yes --final-archive final.mnoa
  [ "$status" -eq 2 ]
  [ "$output" = "mno-freeze: error: the tenant's documents in the source changed since the dump: live_cx_connec.items (33 documents in the archive, 32 now); migrate them again (dump, restore, verify) first; nothing was changed" ]
  allsums after
  diff before after
  [ "$(ndocs after)" = "$(ndocs before)" ]
  [ ! -e final.mnoa ]
}

@test "destroy on Connec!: the tenant's documents are gone, others' sums unchanged, the final archive restores and verifies ok, a rerun changes nothing" {
  fresh_connec
  h=$(fresh_hub)
  freeze "$h"
  for t in globex initech; do csums "$h" $t before-$t; done
  allsums before
  [ "$(nacme)" = 342 ]
  run mno-freeze --target "$CX" --tenant acme --verified "$R/hub.json" --verified "$R/connec.json" --destroy --hub "$h" --yes --final-archive final.mnoa --json
  [ "$status" -eq 0 ]
  [ "$(echo "$output" | jq -c '[.action, .source, .rows, .deleted, .final_archive, .resumed, (.tables | length)]')" = '["destroy","connec",342,342,"final.mnoa",false,13]' ]
  [ "$(stat -c %a final.mnoa)" = 600 ]
  # the final archive holds what was copied: the connec archive's sections, counts and sums
  [ "$(mno-cat --list final.mnoa)" = "$(mno-cat --list "$R/connec.mnoa")" ]
  [ "$(jq -r '.final | [.tool, .action, .database] | @tsv' <(head -n1 final.mnoa))" = "mno-freeze	destroy	live_cx_connec" ]
  allsums after
  [ "$(ndocs after)" = $(( $(ndocs before) - 342 )) ]
  [ "$(nacme)" = 0 ]
  run mno-dump --source "$CX" --tenant acme --hub "$h" --quiet -o gone.mnoa
  [ "$status" -eq 0 ]
  [ "$(mno-cat --list gone.mnoa | awk -F'\t' '{ n += $2 } END { print n }')" = 0 ]
  for t in globex initech; do csums "$h" $t after-$t; diff before-$t after-$t; done
  # the final archive into an empty database: mno-verify says ok
  e2=$(mongo_newdb live_cx_final)
  mno-restore --target "$e2" --create --quiet final.mnoa
  run mno-verify --archive final.mnoa --target "$e2"
  [ "$status" -eq 0 ]
  [[ "${lines[${#lines[@]}-1]}" == "verdict: ok: 13 of 13 collections match, 342 records" ]]
  # a second run changes nothing and says so
  run mno-freeze --target "$CX" --tenant acme --verified "$R/hub.json" --verified "$R/connec.json" --destroy --hub "$h" --yes
  [ "$status" -eq 0 ]
  [ "$output" = "mno-freeze: tenant 'acme' in connec database 'live_cx_connec': nothing to change (no document of the tenant left)" ]
  allsums again
  diff after again
}

@test "destroy on Connec!: killed (kill -9) mid-deletion, a rerun finishes from the journal: exactly the archived documents deleted" {
  fresh_connec
  h=$(fresh_hub)
  freeze "$h"
  for t in globex initech; do csums "$h" $t before-$t; done
  allsums before
  # 10 documents a batch; SIGKILL after the 5th batch's delete, before it is journaled
  MNO_TEST_DESTROY_KILL=5 run mno-freeze --target "$CX" --tenant acme --verified "$R/hub.json" --verified "$R/connec.json" --destroy --hub "$h" --yes --batch 10 --final-archive final.mnoa
  [ "$status" -eq 137 ]
  allsums killed
  [ "$(ndocs killed)" = $(( $(ndocs before) - 41 )) ]
  [ "$(nacme)" = 301 ]
  mongo_cmd "$MNO_TEST_MONGO_URI" live_cx_connec '{"find": "mno_live_journal"}' | jq -e '.cursor.firstBatch[0] | .state == "deleting" and .batch["$numberLong"] == "4"'
  # another final archive does not finish it; nothing more is deleted
  run mno-freeze --target "$CX" --tenant acme --verified "$R/hub.json" --verified "$R/connec.json" --destroy --hub "$h" --yes --final-archive other.mnoa
  [ "$status" -eq 2 ]
  [ "$output" = "mno-freeze: error: an interrupted destroy of tenant 'acme' is to be finished with its own final archive '$BATS_TEST_TMPDIR/final.mnoa' (the journal 'live_cx_connec.mno_live_journal'), not 'other.mnoa'" ]
  [ "$(nacme)" = 301 ]
  [ ! -e other.mnoa ]
  # the rerun (from elsewhere, without --final-archive) takes the journal's final archive and
  # its batches (10, not 7)
  mkdir other && cd other
  run mno-freeze --target "$CX" --tenant acme --verified "$R/hub.json" --verified "$R/connec.json" --destroy --hub "$h" --yes --batch 7
  [ "$status" -eq 0 ]
  [ "${lines[1]}" = "final archive: $BATS_TEST_TMPDIR/final.mnoa" ]
  [ "${lines[2]}" = "done: 342 documents deleted from 13 collections (41 of them by the interrupted run this one finished)" ]
  cd ..
  allsums after
  [ "$(ndocs after)" = $(( $(ndocs before) - 342 )) ]
  [ "$(nacme)" = 0 ]
  for t in globex initech; do csums "$h" $t after-$t; diff before-$t after-$t; done
  [ "$(mno-cat --list final.mnoa)" = "$(mno-cat --list "$R/connec.mnoa")" ]
  mongo_cmd "$MNO_TEST_MONGO_URI" live_cx_connec '{"find": "mno_live_journal"}' | jq -e '.cursor.firstBatch[0].state == "done"'
}

@test "destroy on Connec! after the MnoHub's destroy: --orgs-from its final archive" {
  fresh_connec
  h=$(fresh_hub)
  freeze "$h"
  mno-freeze --target "$h" --tenant acme --verified "$R/hub.json" --verified "$R/connec.json" --destroy --frozen-by f.mnoa --yes --final-archive hub-final.mnoa >/dev/null
  run mno-freeze --target "$CX" --tenant acme --verified "$R/hub.json" --verified "$R/connec.json" --destroy --hub "$h" --yes
  [ "$status" -eq 2 ]
  [ "$output" = "mno-freeze: error: tenant 'acme' not found in public.tenants" ]
  allsums before
  run mno-freeze --target "$CX" --tenant acme --verified "$R/hub.json" --verified "$R/connec.json" --destroy --orgs-from hub-final.mnoa --yes --final-archive final.mnoa
  [ "$status" -eq 0 ]
  [ "${lines[2]}" = "done: 342 documents deleted from 13 collections" ]
  allsums after
  [ "$(ndocs after)" = $(( $(ndocs before) - 342 )) ]
  [ "$(nacme)" = 0 ]
}

@test "usage errors of the live tools (one parser, lib/driver/live_args.c): each tool its own options" {
  u() { run "$@"; [ "$status" -eq 2 ]; echo "$output" | head -n1; }
  [ "$(u mno-freeze --target "$CX" --tenant acme --destroy --batch 0)" = "mno-freeze: error: --batch: expected a number from 1 to 100000" ]
  [ "$(u mno-freeze --target "$CX" --tenant acme --destroy --hub x --orgs-from y)" = "mno-freeze: error: give either --hub URI or --orgs-from FILE, not both" ]
  [ "$(u mno-freeze --target "$HUB" --tenant acme --destroy --connec "$CX")" = "mno-freeze: error: --connec does not go with --destroy (the Connec! documents are destroyed by mno-freeze --destroy --target CONNEC_URI)" ]
  [ "$(u mno-freeze --target "$HUB" --unfreeze f.mnoa --connec "$CX")" = "mno-freeze: error: --unfreeze FILE goes with --target only" ]
  [ "$(u mno-freeze --target "$HUB" --tenant acme --from x)" = "mno-freeze: error: unknown option '--from'" ]
  [ "$(u mno-disconnect --target "$HUB" --tenant acme --verified x)" = "mno-disconnect: error: unknown option '--verified'" ]
  [ "$(u mno-disconnect --target "$HUB" --undo f.mnoa --plan)" = "mno-disconnect: error: --undo FILE goes with --target only" ]
  [ "$(u mno-rename-tenant --target "$HUB" --from a --to a)" = "mno-rename-tenant: error: --from and --to are the same name" ]
  [ "$(u mno-rename-tenant --target "$HUB" --tenant a)" = "mno-rename-tenant: error: unknown option '--tenant'" ]
  [ "$(u env -u MNO_TARGET mno-disconnect --tenant acme)" = "mno-disconnect: error: no target: give --target URI (or set MNO_TARGET)" ]
  # a mongodb target is for mno-freeze --destroy only
  [ "$(u mno-disconnect --target "$CX" --tenant acme)" = "mno-disconnect: error: only PostgreSQL targets (MnoHub, a connector database) are supported; on a Connec! (mongodb://) target only mno-freeze --destroy applies (docs/live.md)" ]
  [ "$(u mno-disconnect --target "$CX" --undo f.mnoa)" = "mno-disconnect: error: only PostgreSQL targets (MnoHub, a connector database) are supported" ]
  [ "$(u mno-freeze --target "$CX" --tenant acme --verified "$R/hub.json" --verified "$R/connec.json")" = "mno-freeze: error: a Connec! (mongodb) target is only for --destroy: mno-freeze freezes the tenant in MnoHub (give --target HUB_URI)" ]
  run mno-freeze --help
  [ "$status" -eq 0 ]
  [[ "$output" == *"--batch N"* ]]
}
