#!/usr/bin/env bats
# 56-verify-live.bats: mno-verify --source URI --tenant NAME: a live source against a live target.
# The source's side is what mno-dump selects for the tenant (its scope and plan). MongoDB: the target
# is filled independently (a separate libmongoc client) with exactly the tenant's documents and the
# expected counts and sums are recomputed from the servers' BSON bytes by python's md5. PostgreSQL:
# the MnoHub fixtures against a restore of their dump, the live sums equal to the archive's.

setup_file() {
  export MNO_TOP=${MNO_TOP:-$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}
  export PATH="$MNO_BIN:$PATH"
  . "$MNO_TOP/tests/lib/env.sh"
  export MC="$MNO_TESTBIN/mongodump-client"
  local d=$BATS_FILE_TMPDIR c
  for c in lookups people invoices; do python3 "$BATS_TEST_DIRNAME/55-verify-mongo/data.py" "$c" >"$d/$c.jsonl"; done
  printf '# the collections of 55-verify-mongo/data.py\npeople: match channel_id in org_uids\ninvoices: match channel_id in org_uids\nlookups: global\n' >"$d/connec.scope"
  export SCOPE=$d/connec.scope
  python3 "$MNO_TOP/tests/bin/mongodump-hubarchive.py" acme org-acme-1 org-acme-2 >"$d/hub.mnoa"
  export HUBA=$d/hub.mnoa
  # a live MnoHub with the same organizations, for --hub
  export HUB; HUB=$(pg_newdb verify_live_hub)
  psql -X -q -v ON_ERROR_STOP=1 -d "$HUB" <<'SQL'
CREATE TABLE public.tenants (id bigint PRIMARY KEY, name text NOT NULL);
CREATE TABLE public.organizations (id bigint PRIMARY KEY, uid text NOT NULL, mnoe_tenant_id bigint);
INSERT INTO public.tenants VALUES (1, 'acme'), (2, 'other');
INSERT INTO public.organizations VALUES (1, 'org-acme-1', 1), (2, 'org-other-1', 2), (3, 'org-acme-2', 1);
SQL
  # the shared source: every tenant's documents
  export SRC; SRC=$(mongo_newdb verify_live_src)
  for c in lookups people invoices; do "$MC" insert "$SRC" "$c" <"$d/$c.jsonl" >/dev/null; done
}

setup() {
  . "$MNO_TOP/tests/lib/env.sh"
}

ACME='{"channel_id":{"$in":["org-acme-1","org-acme-2"]}}'

# A target holding exactly acme's documents (and every lookup): what a restore leaves.
new_target() {
  local u c
  u=$(mongo_newdb "verify_live_t$BATS_TEST_NUMBER")
  for c in lookups people invoices; do
    jq -c 'select(.channel_id != "org-other-1")' "$BATS_FILE_TMPDIR/$c.jsonl" | "$MC" insert "$u" "$c" >/dev/null
  done
  echo "$u"
}

cmd() { # uri json: one command, which must succeed
  local r
  r=$("$MC" command "$1" "$2")
  [ "$(jq -r '.ok | tostring | .[0:1]' <<<"$r")" = 1 ] || { echo "command failed: $r" >&2; return 1; }
}

# count and md5 sum (python, over the server's BSON bytes) of a collection's matching documents
count_sum() { # uri coll [filter]
  "$MC" hex "$1" "$2" "${3:-{\}}" | python3 -c '
import hashlib, sys
s = n = 0
for line in sys.stdin:
    s += int.from_bytes(hashlib.md5(bytes.fromhex(line.rstrip("\n").split("\t")[1])).digest(), "big")
    n += 1
print("%d %032x" % (n, s % (1 << 128)))'
}

live() { mno-verify --source "$SRC" --tenant acme --scope "$SCOPE" --orgs-from "$HUBA" "$@"; }

@test "verify live: the tenant's documents of the source against a restored target: ok, exit 0" {
  t=$(new_target)
  run live --target "$t"
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" == "source   $SRC: mongodb, source connec, tenant acme, scope connec.scope, 3 sections, 112 records, sum "* ]]
  [ "${lines[1]}" = "target   $t" ]
  [ "${lines[-1]}" = "verdict: ok: 3 of 3 collections match, 112 records" ]
  # the expected side is the source's acme documents, the actual side the target's: by python
  run live --target "$t" --json
  [ "$status" -eq 0 ]
  j=$output
  [ "$(jq -r '.mode, .source.tenant, .source.header.source' <<<"$j")" = "$(printf 'live\nacme\nconnec')" ]
  for c in people invoices lookups; do
    f=$ACME; [ "$c" = lookups ] && f='{}'
    want=$(count_sum "$SRC" "$c" "$f")
    [ "$(jq -r --arg ns "verify_live_src.$c" '.sections[] | select(.ns == $ns) | "\(.expected.count) \(.expected.sum)"' <<<"$j")" = "$want" ]
    [ "$(jq -r --arg ns "verify_live_src.$c" '.sections[] | select(.ns == $ns) | "\(.actual.count) \(.actual.sum)"' <<<"$j")" = "$(count_sum "$t" "$c")" ]
  done
  [ "$(count_sum "$SRC" people "$ACME" | cut -d' ' -f1)" = 80 ]
}

@test "verify live: the tenant's organizations from a live MnoHub (--hub) give the same report" {
  t=$(new_target)
  run mno-verify --source "$SRC" --tenant acme --scope "$SCOPE" --hub "$HUB" --target "$t"
  [ "$status" -eq 0 ]
  [ "${lines[-1]}" = "verdict: ok: 3 of 3 collections match, 112 records" ]
  MNO_HUB=$HUB run mno-verify --source "$SRC" --tenant other --scope "$SCOPE" --target "$t"
  [ "$status" -eq 1 ]
  [ "${lines[-1]}" = "verdict: DIFFERS: 2 of 3 collections do not match (2 DIFFERS)" ]
}

@test "verify live: a changed, a deleted and an added document -> DIFFERS; --diff names each key" {
  t=$(new_target)
  id=$(jq -r 'select(.channel_id == "org-acme-1") | ._id' "$BATS_FILE_TMPDIR/people.jsonl" | sed -n 5p)
  cmd "$t" "{\"update\":\"people\",\"updates\":[{\"q\":{\"_id\":\"$id\"},\"u\":{\"\$set\":{\"last_name\":\"Evil\"}}}]}"
  cmd "$t" '{"delete":"invoices","deletes":[{"q":{"title":"INV-0040"},"limit":1}]}'
  cmd "$t" '{"insert":"lookups","documents":[{"_id":{"$numberInt":"6"},"name":"currency-6"}]}'
  run live --target "$t" --diff
  [ "$status" -eq 1 ]
  [[ "$output" == *$'\nverify_live_src.people: 1 key differs\n  changed  _id='"$id"$': last_name\n'* ]]
  [[ "$output" == *$'\nverify_live_src.invoices: 1 key differs\n  missing  _id={"$oid":"5f000000000000000004d558"}\n'* ]]
  [[ "$output" == *$'\nverify_live_src.lookups: 1 key differs\n  extra    _id={"$numberInt":"6"}\n'* ]]
  [ "${lines[-1]}" = "verdict: DIFFERS: 3 of 3 collections do not match (3 DIFFERS)" ]
}

@test "verify live: a document of another tenant in the target -> the count differs, key named" {
  t=$(new_target)
  jq -c 'select(.channel_id == "org-other-1")' "$BATS_FILE_TMPDIR/invoices.jsonl" | head -n 1 | "$MC" insert "$t" invoices >/dev/null
  run live --target "$t" --diff
  [ "$status" -eq 1 ]
  [[ "$output" == *$'verify_live_src.invoices: 1 key differs\n  extra    _id={"$oid":"5f0000000000000000003dde"}\n'* ]]
}

@test "verify live: a dropped collection -> MISSING; a stray one -> EXTRA" {
  t=$(new_target)
  cmd "$t" '{"drop":"people"}'
  cmd "$t" '{"insert":"stray","documents":[{"_id":1}]}'
  run live --target "$t"
  [ "$status" -eq 1 ]
  grep -qE '^verify_live_src\.people +80 +- +[0-9a-f]{12} +- +MISSING in target$' <<<"$output"
  grep -qE '^verify_live_src\.stray +- +1 +- +- +EXTRA in target$' <<<"$output"
  [ "${lines[-1]}" = "verdict: DIFFERS: 2 of 4 collections do not match (1 MISSING in target, 1 EXTRA in target)" ]
}

@test "verify live: bad usage, an unknown tenant, a missing source, an unscoped collection: exit 2" {
  t=$(new_target)
  run mno-verify --source "$SRC" --target "$t"
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "mno-verify: error: --source needs --tenant NAME" ]
  MNO_HUB= run mno-verify --source "$SRC" --tenant acme --target "$t"
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "mno-verify: error: a mongodb source needs the tenant's organizations: give --orgs-from HUB_ARCHIVE or --hub URI (or set MNO_HUB)" ]
  run mno-verify --source "$HUB" --tenant acme --orgs-from "$HUBA" --target "$t"
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "mno-verify: error: --orgs-from and --hub go with a mongodb source" ]
  run mno-verify --source "$SRC" --tenant acme --orgs-from "$HUBA" --scope "$SCOPE" --target "$HUB"
  [ "$status" -eq 2 ]
  [ "$output" = "mno-verify: error: the source is mongodb but the target is postgresql" ]
  run mno-verify --source "$SRC" --tenant nobody --scope "$SCOPE" --hub "$HUB" --target "$t"
  [ "$status" -eq 2 ]
  [[ "$output" == "mno-verify: error: tenant 'nobody' not found in public.tenants of mnohub "* ]]
  run mno-verify --source "$SRC" --tenant other --scope "$SCOPE" --orgs-from "$HUBA" --target "$t"
  [ "$status" -eq 2 ]
  [[ "$output" == *"archive of tenant 'acme', not 'other'"* ]]
  run live --target "$t" --archive "$HUBA"
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "mno-verify: error: give either --archive FILE or --source URI" ]
  # a database that does not exist has nothing in scope: an error, not an empty "ok"
  run mno-verify --source "$(mongo_uri_db "$SRC" verify_live_none)" --tenant acme --scope "$SCOPE" --orgs-from "$HUBA" --target "$t"
  [ "$status" -eq 2 ]
  [[ "$output" == "mno-verify: error: database 'verify_live_none' at '"*"/verify_live_none' has no collections (a wrong database name?)" ]]
  # a collection the scope does not name
  cmd "$SRC" '{"insert":"unscoped_x","documents":[{"_id":1}]}'
  run live --target "$t"
  cmd "$SRC" '{"drop":"unscoped_x"}'
  [ "$status" -eq 2 ]
  [[ "$output" == "mno-verify: error: 1 collection not in scope '$SCOPE': 'unscoped_x'"* ]]
  run mno-verify --source "mongodb://u:hunter2@127.0.0.1:1/x?serverSelectionTimeoutMS=300" --tenant acme --scope "$SCOPE" --orgs-from "$HUBA" --target "$t"
  [ "$status" -eq 2 ]
  [[ "$output" == "mno-verify: error: "*"cannot connect to mongodb"* ]]
  [[ "$output" != *hunter2* ]]
}

@test "verify live: PostgreSQL: MnoHub's tenant against a restore of its dump; one changed value named by --diff" {
  src=$(pg_newdb verify_live_pgsrc)
  "$MNO_TOP/tests/fixtures/load" mnohub "$src" --tenants 3
  mno-dump --quiet --source "$src" --tenant acme -o "$BATS_TEST_TMPDIR/hub.mnoa"
  t=$(pg_newdb verify_live_pgt)
  mno-restore --quiet --create --target "$t" "$BATS_TEST_TMPDIR/hub.mnoa"
  run mno-verify --source "$src" --tenant acme --target "$t"
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" == "source   $src: postgresql, source mnohub, tenant acme, scope mnohub.scope, "* ]]
  n=$(mno-cat --list "$BATS_TEST_TMPDIR/hub.mnoa" | wc -l)
  c=$(mno-cat --list "$BATS_TEST_TMPDIR/hub.mnoa" | awk -F'\t' '{c += $2} END {print c}')
  [ "${lines[-1]}" = "verdict: ok: $n of $n tables match, $c records" ]
  # the live source's sums are the archive's, section by section
  mno-verify --source "$src" --tenant acme --target "$t" --json >"$BATS_TEST_TMPDIR/r.json"
  diff <(mno-cat --list "$BATS_TEST_TMPDIR/hub.mnoa" | cut -f1-3) \
       <(jq -r '.sections[] | "\(.ns)\t\(.expected.count)\t\(.expected.sum)"' "$BATS_TEST_TMPDIR/r.json")
  id=$(psql -X -At -d "$t" -c "SELECT min(id) FROM public.users")
  psql -X -q -d "$t" -c "UPDATE public.users SET name = 'changed' WHERE id = $id"
  run mno-verify --source "$src" --tenant acme --target "$t" --diff
  [ "$status" -eq 1 ]
  [[ "$output" == *$'\npublic.users: 1 key differs\n  changed  id='"$id"$': name\n'* ]]
  run mno-verify --source "$src" --tenant nobody --target "$t"
  [ "$status" -eq 2 ]
  [[ "$output" == "mno-verify: error: "*"nobody"* ]]
}
