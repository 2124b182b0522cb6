#!/usr/bin/env bats
# 30-dump-mongo.bats: mno-dump of a Connec!-like MongoDB database: exactly the tenant's documents, byte-exact BSON, options and indexes, --plan, the tool contract (atomic 0600 output, errors, no credentials), resume after dropped connections.
# Expected values come from elsewhere than mno-dump: the server's own answers to the same filter
# (tests/bin/mongodump-client), counts from the data generator, sums recomputed in Python.
# The data is tests/cli/30-dump-mongo/data.py; fault tests need the project's test server.

setup_file() {
  export MNO_TOP=${MNO_TOP:-$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}
  export PATH="$MNO_BIN:$PATH"
  . "$MNO_TOP/tests/lib/env.sh"
  export D=$BATS_TEST_DIRNAME/30-dump-mongo
  export CL=$MNO_TESTBIN/mongodump-client
  export SCOPE=$D/test.scope
  export ACME='{"channel_id":{"$in":["org-acme-1","org-acme-2"]}}'
  export DM; DM=$(mongo_newdb dump_mongo)
  load_db "$DM"
  mongo_cmd "$DM" dump_mongo '{"createIndexes":"people","indexes":[{"key":{"last_name":1,"created_at":-1},"name":"name_created"},{"key":{"code":1},"name":"code_unique","unique":true}]}' >/dev/null
  export HUB=$BATS_FILE_TMPDIR/hub.mnoa
  python3 "$MNO_TOP/tests/bin/mongodump-hubarchive.py" acme org-acme-1 org-acme-2 >"$HUB"
  export ARCH=$BATS_FILE_TMPDIR/acme.mnoa
  mno-dump --source "$DM" --tenant acme --scope "$SCOPE" --orgs-from "$HUB" -o "$ARCH"
  "$CL" archive-hex "$ARCH" >"$BATS_FILE_TMPDIR/acme.hex"
}

setup() {
  . "$MNO_TOP/tests/lib/env.sh"
  mno_shm_sweep
  cd "$BATS_TEST_TMPDIR"
}

teardown() {
  local d
  for d in "$BATS_TEST_TMPDIR"/fault-*; do [ -d "$d" ] && mongod_stop "$d"; done
  return 0
}

# load_db URI: the collections of data.py; invoices created with options first.
load_db() {
  local c
  mongo_cmd "$1" "$(basename "${1%%\?*}")" '{"create":"invoices","validator":{"title":{"$type":"string"}},"validationLevel":"moderate"}' >/dev/null
  for c in people invoices edge lookups sessions; do
    python3 "$D/data.py" "$c" | "$CL" insert "$1" "$c" >/dev/null
  done
}

# count_of COLL [all]: documents of COLL that belong to acme (or all), counted from the generator.
count_of() {
  python3 "$D/data.py" "$1" | python3 -c '
import json, sys
acme = ("org-acme-1", "org-acme-2")
print(sum(1 for l in sys.stdin if sys.argv[1] == "all" or json.loads(l).get("channel_id") in acme))' "${2:-acme}"
}

# ns_hex FILE NS: the archive-hex lines of section NS.
ns_hex() { awk -F'\t' -v ns="$2" '$1 == ns' "$1"; }

# header FILE KEY: a header field (JSON) of a plain or zstd archive.
header() { mno-cat --header "$1" | jq -c ".$2"; }

@test "dump mongo: exactly the tenant's documents, byte for byte as the server holds them, in _id order" {
  for c in edge invoices people; do
    "$CL" hex "$DM" "$c" "$ACME" >expect.hex
    ns_hex "$BATS_FILE_TMPDIR/acme.hex" "dump_mongo.$c" >got.hex
    [ "$(wc -l <got.hex)" -eq "$(count_of "$c")" ]
    [ "$(wc -l <got.hex)" -gt 0 ]
    diff expect.hex got.hex
  done
  # global: the whole collection; skip: nothing
  "$CL" hex "$DM" lookups >expect.hex
  [ "$(wc -l <expect.hex)" -eq 5 ]
  diff expect.hex <(ns_hex "$BATS_FILE_TMPDIR/acme.hex" dump_mongo.lookups)
  [ -z "$(ns_hex "$BATS_FILE_TMPDIR/acme.hex" dump_mongo.sessions)" ]
  run mno-cat --list "$ARCH"
  [ "$status" -eq 0 ]
  [ "$(cut -f1,2,4 <<<"$output")" = "$(printf 'dump_mongo.edge\t%s\tok\ndump_mongo.invoices\t%s\tok\ndump_mongo.lookups\t5\tok\ndump_mongo.people\t%s\tok' \
      "$(count_of edge)" "$(count_of invoices)" "$(count_of people)")" ]
}

@test "dump mongo: nothing of another tenant, nor of nobody (no or null channel_id)" {
  # the server holds other tenants' documents, so the test can fail
  [ "$("$CL" count "$DM" people '{"channel_id":"org-other-1"}')" -gt 0 ]
  [ "$("$CL" count "$DM" people '{"channel_id":"org-acme-10"}')" -gt 0 ]
  run mno-cat --records "$ARCH"
  [ "$status" -eq 0 ]
  [[ "$output" != *org-other-1* ]]
  [[ "$output" != *org-acme-10* ]]
  # every record of a matched collection carries one of acme's uids
  [ "$(mno-cat --records "$ARCH" | jq -r 'select(.ns != "dump_mongo.lookups") | .v.channel_id' | sort -u | tr '\n' ' ')" = "org-acme-1 org-acme-2 " ]
}

@test "dump mongo: every BSON edge type survives byte-exact (--all: the whole edge collection)" {
  mno-dump --source "$DM" --all --scope "$SCOPE" -o all.mnoa
  "$CL" archive-hex all.mnoa >all.hex
  "$CL" hex "$DM" edge >expect.hex
  [ "$(wc -l <expect.hex)" -eq "$(count_of edge all)" ]
  diff expect.hex <(ns_hex all.hex dump_mongo.edge)
  # the _id order is the server's order across types
  "$CL" ids "$DM" edge >ids.expect
  mno-cat --records --ns dump_mongo.edge all.mnoa | jq -c '{_id: .v._id}' >ids.got
  diff <(jq -c . ids.expect) ids.got
  # and every other collection whole
  for c in invoices lookups people; do
    diff <("$CL" hex "$DM" "$c") <(ns_hex all.hex "dump_mongo.$c")
  done
  [ "$(header all.mnoa tenant)" = null ]
  [ "$(header all.mnoa all)" = true ]
}

@test "dump mongo: random documents of every type, over many batches: each record line is libbson's own canonical Extended JSON, in _id order" {
  # the documents are read in one thread and printed in another: nothing lost, reordered or
  # changed across batches (some documents fill a batch alone), the same bytes as libbson prints
  u=$(mongo_newdb dump_mongo_random)
  python3 "$D/random.py" 42 12000 | "$CL" insert "$u" rnd >/dev/null
  printf 'rnd: match channel_id in org_uids\n' >rnd.scope
  mno-dump --source "$u" --all --scope rnd.scope -o r.mnoa
  "$CL" ejson "$u" rnd >expect.rec
  [ "$(wc -l <expect.rec)" -eq 12000 ]
  grep '"t":"rec"' r.mnoa >got.rec
  [ "$(wc -l <got.rec)" -eq 12000 ]
  # a record is libbson's text, or the lossless form (docs/format.md) when that text does not
  # parse back to the same bytes; the sums below prove the bytes of both
  [ -z "$(paste expect.rec got.rec | awk -F'\t' '$1 != $2 && $2 !~ /^\{"t":"rec","ns":"[^"]*","bson":"/' | head -3)" ]
  [ "$(grep -c '"bson":' got.rec)" -lt 1200 ]
  diff <("$CL" hex "$u" rnd | python3 "$D/sums.py") <(mno-cat --list r.mnoa | cut -f1-3)
  # and the same through zstd, with zstd's own threads
  mno-dump --source "$u" --all --scope rnd.scope --threads 2 -o r.mnoa.zst
  cmp <(mno-cat --records r.mnoa) <(mno-cat --records r.mnoa.zst)
}

@test "dump mongo: an output that fails mid-collection (a full disk): exit 2, the error, the reading thread stopped" {
  u=$(mongo_newdb dump_mongo_random)
  python3 "$D/random.py" 7 6000 | "$CL" insert "$u" rnd >/dev/null
  printf 'rnd: match channel_id in org_uids\n' >rnd.scope
  run mno-dump --source "$u" --all --scope rnd.scope --quiet -o /dev/full
  [ "$status" -eq 2 ]
  [ "$output" = "mno-dump: error: /dev/full: write error: No space left on device" ]
  run bash -c 'mno-dump --source "$1" --all --scope rnd.scope --quiet >/dev/full' _ "$u"
  [ "$status" -eq 2 ]
  [ "$output" = "mno-dump: error: <stdout>: write error: No space left on device" ]
}

@test "dump mongo: each section's count and sum equal md5 sums recomputed from the BSON bytes" {
  python3 "$D/sums.py" <"$BATS_FILE_TMPDIR/acme.hex" >expect.sums
  mno-cat --list "$ARCH" | cut -f1-3 >got.sums
  diff expect.sums got.sums
  # the trailer: the sum of the sections' sums, the number of records
  tr=$(tail -1 "$ARCH")
  want=$(python3 -c '
import sys
rows = [l.split("\t") for l in open(sys.argv[1]).read().splitlines()]
print("%d %d %032x" % (len(rows), sum(int(r[1]) for r in rows), sum(int(r[2], 16) for r in rows) % (1 << 128)))' expect.sums)
  [ "$(jq -r '"\(.sections) \(.count) \(.sum)"' <<<"$tr")" = "$want" ]
}

@test "dump mongo: begin carries the collection's options and indexes (listIndexes), key _id" {
  mno-cat --records "$ARCH" >/dev/null
  begin() { grep -F "\"t\":\"begin\",\"ns\":\"dump_mongo.$1\"" "$ARCH"; }
  idx=$(mongo_cmd "$DM" dump_mongo '{"listIndexes":"people"}' | jq -c '.cursor.firstBatch')
  [ "$(begin people | jq -c .indexes)" = "$idx" ]
  [ "$(jq -r '.[].name' <<<"$idx" | sort | tr '\n' ' ')" = "_id_ code_unique name_created " ]
  [ "$(begin people | jq -c .key)" = '["_id"]' ]
  [ "$(begin people | jq -c .options)" = '{}' ]
  opts=$(mongo_cmd "$DM" dump_mongo '{"listCollections":1,"filter":{"name":"invoices"}}' | jq -c '.cursor.firstBatch[0].options')
  [ "$(begin invoices | jq -c .options)" = "$opts" ]
  [ "$(begin invoices | jq -c .options.validationLevel)" = '"moderate"' ]
}

@test "dump mongo: the archive header names engine, source, tenant, scope, producer and nothing of the URI" {
  run mno-cat --header "$ARCH"
  [ "$status" -eq 0 ]
  [ "$(jq -c 'keys' <<<"$output")" = '["created","engine","format","id","producer","scope","source","t","tenant","version"]' ]
  [ "$(jq -c '[.format, .version, .engine, .source, .tenant, .scope, .producer]' <<<"$output")" = '["mnoa",2,"mongodb","connec","acme","test.scope","mno-dump 0.1.0"]' ]
  [[ "$(jq -r .created <<<"$output")" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$ ]]
  hostport=${MNO_TEST_MONGO_URI#*://}; hostport=${hostport%%/*}; hostport=${hostport#*@}
  ! grep -qF "$hostport" "$ARCH"
}

@test "dump mongo: --plan prints per collection the rule, the filter and the count, and dumps nothing" {
  run mno-dump --source "$DM" --tenant acme --scope "$SCOPE" --orgs-from "$HUB" --plan
  [ "$status" -eq 0 ]
  f='{ "channel_id" : { "$in" : [ "org-acme-1", "org-acme-2" ] } }'
  r='match channel_id in org_uids'
  expect=$(printf 'dump_mongo.edge\t%s\t%s\t%s\ndump_mongo.invoices\t%s\t%s\t%s\ndump_mongo.lookups\tglobal\t{ }\t%s\ndump_mongo.people\t%s\t%s\t%s' \
    "$r" "$f" "$(count_of edge)" "$r" "$f" "$(count_of invoices)" "$(count_of lookups all)" "$r" "$f" "$(count_of people)")
  [ "$output" = "$expect" ]
  [ -z "$(ls)" ]
  run mno-dump --source "$DM" --tenant acme --scope "$SCOPE" --orgs-from "$HUB" --plan -o x.mnoa
  [ "$status" -eq 2 ]
  [ "$output" = "mno-dump: error: -o, -z, --level and --threads do not go with --plan
try 'mno-dump --help'" ]
}

@test "dump mongo: a collection the scope does not mention is an error naming them all, unless --skip-unscoped" {
  u=$(mongo_newdb dump_mongo_unscoped)
  for c in people zeta alpha_extra; do python3 "$D/data.py" people | "$CL" insert "$u" "$c" >/dev/null; done
  run mno-dump --source "$u" --tenant acme --scope "$SCOPE" --orgs-from "$HUB" -o out.mnoa
  [ "$status" -eq 2 ]
  [ "$output" = "mno-dump: error: 2 collections not in scope '$SCOPE': 'alpha_extra', 'zeta' (add them to the scope file, or pass --skip-unscoped to leave them out)" ]
  [ ! -e out.mnoa ] && [ ! -e out.mnoa.partial ]
  run mno-dump --source "$u" --tenant acme --scope "$SCOPE" --orgs-from "$HUB" --skip-unscoped -o out.mnoa
  [ "$status" -eq 0 ]
  [ "$output" = "mno-dump: warning: skipping collection 'alpha_extra': not in scope '$SCOPE'
mno-dump: warning: skipping collection 'zeta': not in scope '$SCOPE'" ]
  [ "$(mno-cat --list out.mnoa | cut -f1,2)" = "$(printf 'dump_mongo_unscoped.people\t%s' "$(count_of people)")" ]
}

@test "dump mongo: -o FILE is mode 0600 with no .partial left; stdout without -o carries the same records" {
  umask 022
  run mno-dump --source "$DM" --tenant acme --scope "$SCOPE" --orgs-from "$HUB" -o out.mnoa
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  [ "$(stat -c %a out.mnoa)" = 600 ]
  [ "$(ls)" = out.mnoa ]
  mno-dump --source "$DM" --tenant acme --scope "$SCOPE" --orgs-from "$HUB" >stdout.mnoa
  mno-cat --check stdout.mnoa
  # the same lines but the header (its id and time) and the trailer's digest of it
  body() { grep -v '"t":"header"' "$1" | sed -E 's/,"header_sha256":"[0-9a-f]{64}"//'; }
  diff <(body out.mnoa) <(body stdout.mnoa)
  diff <(body out.mnoa) <(body "$ARCH")
}

@test "dump mongo: -z, a .zst name and --level/--threads write zstd that mno-cat reads back to the same records" {
  mno-dump --source "$DM" --tenant acme --scope "$SCOPE" --orgs-from "$HUB" -z -o z.mnoa
  mno-dump --source "$DM" --tenant acme --scope "$SCOPE" --orgs-from "$HUB" --level 19 --threads 2 -o out.mnoa.zst
  mno-dump --source "$DM" --tenant acme --scope "$SCOPE" --orgs-from "$HUB" -z >piped.zst
  for f in z.mnoa out.mnoa.zst piped.zst; do
    [ "$(head -c 4 "$f" | od -An -tx1 | tr -d ' ')" = 28b52ffd ]
    zstd -tq "$f"
    [ "$(stat -c %a "$f")" = "$([ "$f" = piped.zst ] && stat -c %a piped.zst || echo 600)" ]
    diff <(mno-cat --records "$f") <(mno-cat --records "$ARCH")
  done
}

@test "dump mongo: --hub reads the tenant's organizations from a live MnoHub, by name or id" {
  hub=$(pg_newdb dump_mongo_hub)
  psql -X -q -v ON_ERROR_STOP=1 -d "$hub" <<'SQL'
CREATE TABLE public.tenants (id bigint PRIMARY KEY, name text);
CREATE TABLE public.organizations (id bigint PRIMARY KEY, uid text, mnoe_tenant_id bigint);
INSERT INTO public.tenants VALUES (1, 'acme'), (2, 'other');
INSERT INTO public.organizations VALUES (1, 'org-acme-1', 1), (2, 'org-other-1', 2), (3, 'org-acme-2', 1), (4, 'org-acme-10', 2);
SQL
  mno-dump --source "$DM" --tenant acme --scope "$SCOPE" --hub "$hub" -o live.mnoa
  diff <(mno-cat --records live.mnoa) <(mno-cat --records "$ARCH")
  MNO_HUB=$hub mno-dump --source "$DM" --tenant 1 --scope "$SCOPE" -o byid.mnoa
  diff <(mno-cat --records byid.mnoa) <(mno-cat --records "$ARCH")
  [ "$(header byid.mnoa tenant)" = '"1"' ]
  run mno-dump --source "$DM" --tenant nobody --scope "$SCOPE" --hub "$hub" -o x.mnoa
  [ "$status" -eq 2 ]
  [ "$output" = "mno-dump: error: tenant 'nobody' not found in public.tenants of mnohub $hub" ] ||
    { echo "# got: $output"; false; }
  [ -z "$(ls x.mnoa* 2>/dev/null)" ]
  # the password of a hub URI is never printed, right or wrong, and never archived
  secret=$(sed 's|/postgres$|/dump_mongo_hub|' <<<"$MNO_TEST_PG_SECRET_URI")
  run mno-dump --source "$DM" --tenant acme --scope "$SCOPE" --hub "$secret" -o sec.mnoa
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  ! grep -qF "$MNO_TEST_PG_PASSWORD" sec.mnoa
  wrong=${secret/$MNO_TEST_PG_PASSWORD/Wr0ng-pw-4711}
  run mno-dump --source "$DM" --tenant acme --scope "$SCOPE" --hub "$wrong" -o sec2.mnoa
  [ "$status" -eq 2 ]
  [[ "$output" == "mno-dump: error: "*'password authentication failed for user "mno_secret"'* ]]
  [[ "$output" != *Wr0ng-pw-4711* ]]
  [ ! -e sec2.mnoa ] && [ ! -e sec2.mnoa.partial ]
}

@test "dump mongo: a MnoHub archive of another tenant, or without organizations, is refused" {
  python3 "$MNO_TOP/tests/bin/mongodump-hubarchive.py" other org-other-1 >other.mnoa
  run mno-dump --source "$DM" --tenant acme --scope "$SCOPE" --orgs-from other.mnoa -o x.mnoa
  [ "$status" -eq 2 ]
  [ "$output" = "mno-dump: error: other.mnoa:1: archive of tenant 'other', not 'acme'" ]
  python3 "$MNO_TOP/tests/bin/mongodump-hubarchive.py" acme --no-orgs >noorgs.mnoa
  run mno-dump --source "$DM" --tenant acme --scope "$SCOPE" --orgs-from noorgs.mnoa -o x.mnoa
  [ "$status" -eq 2 ]
  [ "$output" = "mno-dump: error: noorgs.mnoa: archive has no public.organizations section" ]
  [ "$(ls)" = "noorgs.mnoa
other.mnoa" ]
}

@test "dump mongo: bad URI, unreachable server, credentials: exit 2, a clear message, no password, no file" {
  run mno-dump --source "mongodb://mno:Hunter2-pw@127.0.0.1:1/dump_mongo?serverSelectionTimeoutMS=300" --tenant acme --scope "$SCOPE" --orgs-from "$HUB" -o x.mnoa
  [ "$status" -eq 2 ]
  [[ "$output" == "mno-dump: error: "*"cannot connect to mongodb"* ]]
  [[ "$output" != *Hunter2-pw* ]]
  run mno-dump --source "mongodb://mno:Hunter2-pw@[::1" --tenant acme --scope "$SCOPE" --orgs-from "$HUB" -o x.mnoa
  [ "$status" -eq 2 ]
  [ "$output" = "mno-dump: error: invalid mongodb uri 'mongodb://mno@[::1': Invalid host string in URI" ]
  [[ "$output" != *Hunter2-pw* ]]
  # the test server (or a real one) refuses an unknown user: still no password anywhere
  withpw=$(sed 's|^mongodb://\([^@/]*@\)\{0,1\}|mongodb://mno_nobody:Hunter2-pw@|' <<<"$DM")
  run mno-dump --source "$withpw&serverSelectionTimeoutMS=2000" --tenant acme --scope "$SCOPE" --orgs-from "$HUB" -o y.mnoa
  [[ "$output" != *Hunter2-pw* ]]
  if [ "$status" -eq 0 ]; then ! grep -qF Hunter2-pw y.mnoa; else [ "$status" -eq 2 ] && [ ! -e y.mnoa ]; fi
  [ -z "$(ls x.mnoa* y.mnoa.partial 2>/dev/null)" ]
  run mno-dump --source "$DM" --tenant acme --orgs-from "$HUB" --scope nowhere.scope
  [ "$status" -eq 2 ]
  [[ "$output" == "mno-dump: error: "*"nowhere.scope"* ]]
}

@test "dump mongo: usage errors and the environment (MNO_SOURCE, MNO_HUB)" {
  run env -u MNO_SOURCE mno-dump --tenant acme
  [ "$status" -eq 2 ]
  [ "$output" = "mno-dump: error: no source: give --source URI (or set MNO_SOURCE)
try 'mno-dump --help'" ]
  run mno-dump --source "$DM" --tenant acme --all
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "mno-dump: error: give either --tenant NAME or --all, not both" ]
  run env -u MNO_HUB mno-dump --source "$DM" --tenant acme
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "mno-dump: error: a mongodb source needs the tenant's organizations: give --orgs-from HUB_ARCHIVE or --hub URI (or set MNO_HUB)" ]
  run mno-dump --source "$DM" --tenant acme --orgs-from "$HUB" --hub postgresql://x/y
  [ "${lines[0]}" = "mno-dump: error: give either --orgs-from FILE or --hub URI, not both" ]
  run mno-dump --source "$DM" --tenant acme --retries many
  [ "${lines[0]}" = "mno-dump: error: --retries: expected a number from 0 to 100" ]
  run mno-dump --source "$DM" --tenant acme --bogus
  [ "${lines[0]}" = "mno-dump: error: unknown option '--bogus'" ]
  run mno-dump --source "$DM" --tenant
  [ "${lines[0]}" = "mno-dump: error: option '--tenant' needs a value" ]
  MNO_SOURCE=$DM mno-dump --tenant acme --scope "$SCOPE" --orgs-from "$HUB" -j 2 -o env.mnoa
  diff <(mno-cat --records env.mnoa) <(mno-cat --records "$ARCH")
  run mno-dump --help
  [ "$status" -eq 0 ]
  [[ "$output" == "usage: mno-dump --source URI --tenant NAME [options]"* ]]
}

@test "dump mongo: the default scope is filters/connec.scope beside the tools, or in MNO_SCOPE_DIR" {
  u=$(mongo_newdb dump_mongo_default)
  for c in people invoices; do python3 "$D/data.py" "$c" | "$CL" insert "$u" "$c" >/dev/null; done
  env -u MNO_SCOPE_DIR mno-dump --source "$u" --tenant acme --orgs-from "$HUB" -o def.mnoa
  [ "$(header def.mnoa scope)" = '"connec.scope"' ]
  [ "$(mno-cat --list def.mnoa | cut -f1,2)" = "$(printf 'dump_mongo_default.invoices\t%s\ndump_mongo_default.people\t%s' "$(count_of invoices)" "$(count_of people)")" ]
  mkdir scopes && printf 'people: global\ninvoices: skip\n' >scopes/connec.scope
  MNO_SCOPE_DIR=$PWD/scopes mno-dump --source "$u" --tenant acme --orgs-from "$HUB" -o dir.mnoa
  [ "$(mno-cat --list dir.mnoa | cut -f1,2)" = "$(printf 'dump_mongo_default.people\t%s' "$(count_of people all)")" ]
  run env MNO_SCOPE_DIR=$PWD/none mno-dump --source "$u" --tenant acme --orgs-from "$HUB" -o x.mnoa
  [ "$status" -eq 2 ]
  [ "$output" = "mno-dump: error: no scope file for a connec source: '$PWD/none/connec.scope' does not exist (give --scope FILE, or set MNO_SCOPE_DIR to the directory of the scope files)" ]
}

@test "dump mongo: --progress writes a row per collection on stderr; --quiet and a non-terminal stay silent" {
  mno-dump --source "$DM" --tenant acme --scope "$SCOPE" --orgs-from "$HUB" --progress -o p.mnoa 2>err
  [ "$(wc -l <err)" -eq 5 ]
  grep -qE "^\[4/4\] dump_mongo.people: $(count_of people) rows, [0-9.]+ MB, [0-9.]+ s" err
  grep -qE "^\[1/4\] dump_mongo.edge: $(count_of edge) rows, " err
  grep -qE "^done: 4 sections, $(($(count_of edge) + $(count_of invoices) + 5 + $(count_of people))) rows, " err
  mno-dump --source "$DM" --tenant acme --scope "$SCOPE" --orgs-from "$HUB" --quiet -o q.mnoa 2>err
  [ ! -s err ]
  mno-dump --source "$DM" --tenant acme --scope "$SCOPE" --orgs-from "$HUB" -o n.mnoa 2>err
  [ ! -s err ]
}

@test "dump mongo: the Connec! fixtures, organizations from mno-dump's own MnoHub archive: exactly acme's documents, byte-exact, no near miss" {
  hub=$(pg_newdb dump_mongo_fxhub)
  "$MNO_TOP/tests/fixtures/load" mnohub "$hub"
  fx=$(mongo_newdb dump_mongo_fx)
  "$MNO_TOP/tests/fixtures/load" connec "$fx" --manifest man.tsv
  # the real chain: the tenant's MnoHub archive gives the organizations, the default scope
  # (filters/connec.scope) covers every fixture collection
  mno-dump --source "$hub" --tenant acme -o hub.mnoa
  env -u MNO_SCOPE_DIR mno-dump --source "$fx" --tenant acme --orgs-from hub.mnoa -o connec.mnoa.zst
  [ "$(mno-cat --header connec.mnoa.zst | jq -c '[.engine, .source, .tenant, .scope]')" = '["mongodb","connec","acme","connec.scope"]' ]
  mno-cat connec.mnoa.zst | "$CL" archive-hex - >got.hex
  # acme's organizations, read from the hub by SQL; the documents the server selects with them
  filter=$(psql -X -At -d "$hub" -c "SELECT o.uid FROM organizations o JOIN tenants t ON t.id = o.mnoe_tenant_id WHERE t.name = 'acme'" |
    jq -Rsc '{channel_id: {"$in": (split("\n") | map(select(length > 0)))}}')
  [ "$(jq '.channel_id["$in"] | length' <<<"$filter")" -eq 8 ]
  colls=$(awk -F'\t' '$1 == "acme" { print $2 }' man.tsv | LC_ALL=C sort)
  [ "$(wc -w <<<"$colls")" -eq 13 ]
  [ "$("$CL" colls "$fx" | tr '\n' ' ')" = "$(tr '\n' ' ' <<<"$colls")" ]
  for c in $colls; do
    "$CL" hex "$fx" "$c" "$filter" >expect.hex
    ns_hex got.hex "dump_mongo_fx.$c" >sec.hex
    diff expect.hex sec.hex
    [ "$(wc -l <sec.hex)" -eq "$(awk -F'\t' -v c="$c" '$1 == "acme" && $2 == c { print $3 }' man.tsv)" ]
  done
  [ "$(wc -l <got.hex)" -eq "$(awk -F'\t' '$1 == "acme" { n += $3 } END { print n }' man.tsv)" ]
  # globex's near misses are on the server, not in the archive
  [ "$("$CL" count "$fx" people '{"channel_id":{"$in":["org-acme-1x","org-acme-01"]}}')" -gt 0 ]
  mno-cat --records connec.mnoa.zst | jq -r .v.channel_id | LC_ALL=C sort -u >uids
  [ "$(cat uids | tr '\n' ' ')" = "$(jq -r '.channel_id["$in"][]' <<<"$filter" | LC_ALL=C sort | tr '\n' ' ')" ]
  # the largest edge document (just under 1 MiB) came through whole
  [ "$(mno-cat --records --ns dump_mongo_fx.journals connec.mnoa.zst | jq -r 'select(.v._id == "big-1mb") | .v.big | utf8bytelength')" -eq 1000000 ]
  # a live hub gives the same documents; --plan counts are the generator's
  mno-dump --source "$fx" --tenant acme --hub "$hub" -o live.mnoa
  diff <(mno-cat --records live.mnoa) <(mno-cat --records connec.mnoa.zst)
  mno-dump --source "$fx" --tenant acme --hub "$hub" --plan | cut -f1,4 >plan.tsv
  diff <(awk -F'\t' '$1 == "acme" { print "dump_mongo_fx." $2 "\t" $3 }' man.tsv | LC_ALL=C sort) plan.tsv
}

# ---- faults: the project's test server only ----

# fault_server NAME OPTIONS...: a separate test server with the data and faults armed; prints its db URI.
fault_server() {
  local name=$1 u; shift
  u=$(mongod_start_extra "$BATS_TEST_TMPDIR/fault-$name" "$@" 3>&-) || return 1
  u=$(mongo_uri_db "$u" dump_mongo)
  load_db "$u"
  printf '%s\n' "$u"
}

# big_people URI N: a people collection of N acme/other documents (more than one 4096-document batch).
big_people() {
  python3 -c '
import sys
for i in range(int(sys.argv[1])):
    print("{\"_id\":\"p%06d\",\"channel_id\":\"%s\",\"n\":%d}" % (i, ("org-acme-1", "org-other-1", "org-acme-2")[i % 3], i))' "$2" \
    | "$CL" insert "$1" big >/dev/null
}

@test "dump mongo: a connection dropped mid-cursor is resumed after the last _id: complete, correct archive" {
  [ "${MNO_TEST_MONGOD:-}" = 1 ] || skip "needs the project's test server (fault knobs)"
  # 49 acme documents in edge, invoices and lookups, then people: the drop comes inside people
  u=$(fault_server drop)
  mongo_cmd "$u" admin '{"mnoFault":1,"dropAfterDocs":100}' >/dev/null
  run mno-dump --source "$u" --tenant acme --scope "$SCOPE" --orgs-from "$HUB" --retries 1 -o r.mnoa
  [ "$status" -eq 0 ]
  # the fault fired (it disarms when it drops)
  [ "$(mongo_cmd "$u" admin '{"mnoFault":1}' | jq -c '.faults | has("dropAfterDocs")')" = false ]
  diff <("$CL" archive-hex r.mnoa) "$BATS_FILE_TMPDIR/acme.hex"
  mno-cat --check r.mnoa
}

@test "dump mongo: two drops in one collection need two retries; with fewer: exit 2, a clear error, no file" {
  [ "${MNO_TEST_MONGOD:-}" = 1 ] || skip "needs the project's test server (fault knobs)"
  u=$(fault_server drop2)
  # 8000 acme documents: the first find serves 3000 and getMore 1 drops; the resumed find
  # serves 4096 and getMore 2 drops; the second resumed find reads the last 904
  big_people "$u" 12000
  arm() { mongo_cmd "$u" admin '{"mnoFault":1,"clear":true,"dropAfterDocs":3000,"dropOn":"getMore:2"}' >/dev/null; }
  printf 'big: match channel_id in org_uids\n' >big.scope
  arm
  run mno-dump --source "$u" --tenant acme --scope big.scope --orgs-from "$HUB" --skip-unscoped --retries 1 -o b.mnoa
  [ "$status" -eq 2 ]
  [[ "${lines[-1]}" == "mno-dump: error: section dump_mongo.big: connection lost 2 times, retries used up (--retries 1), after _id \"p"[0-9]*"\": "* ]]
  [ -z "$(ls b.mnoa* 2>/dev/null)" ]
  arm
  run mno-dump --source "$u" --tenant acme --scope big.scope --orgs-from "$HUB" --skip-unscoped --retries 2 -o b.mnoa
  [ "$status" -eq 0 ]
  [ "$(mongo_cmd "$u" admin '{"mnoFault":1}' | jq -c '.faults | [has("dropAfterDocs"), has("dropOn")]')" = '[false,false]' ]
  diff <("$CL" archive-hex b.mnoa) <("$CL" hex "$u" big "$ACME")
  [ "$(mno-cat --list b.mnoa | cut -f2)" = 8000 ]
}

@test "dump mongo: retries used up (--retries 0) and a query failing mid-dump: exit 2, the server's text, no file" {
  [ "${MNO_TEST_MONGOD:-}" = 1 ] || skip "needs the project's test server (fault knobs)"
  u=$(fault_server fail)
  mongo_cmd "$u" admin '{"mnoFault":1,"dropAfterDocs":100}' >/dev/null
  run mno-dump --source "$u" --tenant acme --scope "$SCOPE" --orgs-from "$HUB" --retries 0 -o r.mnoa
  [ "$status" -eq 2 ]
  last=$("$CL" ids "$DM" people "$ACME" | sed -n 51p | jq -r ._id)
  [[ "$output" == "mno-dump: error: section dump_mongo.people: connection lost 1 time, retries used up (--retries 0), after _id \"$last\": "* ]] ||
    { echo "# got: $output"; echo "# last: $last"; false; }
  [ -z "$(ls r.mnoa* 2>/dev/null)" ]
  big_people "$u" 9000
  printf 'big: match channel_id in org_uids\n' >big.scope
  mongo_cmd "$u" admin '{"mnoFault":1,"clear":true,"failOn":"getMore:1:13:not authorized on dump_mongo to execute command getMore"}' >/dev/null
  run mno-dump --source "$u" --tenant acme --scope big.scope --orgs-from "$HUB" --skip-unscoped -o f.mnoa.zst
  [ "$status" -eq 2 ]
  [ "${lines[-1]}" = "mno-dump: error: section dump_mongo.big: cannot read documents: not authorized on dump_mongo to execute command getMore (code 13)" ]
  [ -z "$(ls f.mnoa* 2>/dev/null)" ]
}
