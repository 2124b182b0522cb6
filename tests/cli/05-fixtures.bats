#!/usr/bin/env bats
# 05-fixtures.bats: the test environment (private PostgreSQL cluster) and the fixture data sets.

setup_file() {
  export MNO_TOP=${MNO_TOP:-$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}
}

setup() {
  . "$MNO_TOP/tests/lib/env.sh"
}

@test "env: the PostgreSQL cluster answers on MNO_TEST_PG_URI with the speed settings" {
  [ -n "$MNO_TEST_PG_URI" ]
  run psql -X -At -d "$MNO_TEST_PG_URI" -c "SELECT current_user, current_setting('fsync'), current_setting('synchronous_commit'), current_setting('full_page_writes')"
  [ "$status" -eq 0 ]
  [ "$output" = "postgres|off|off|off" ]
  [ "$MNO_TEST_PG_URI" = "postgresql://postgres@127.0.0.1:$MNO_TEST_PGPORT/postgres" ]
}

@test "env: the unix socket in the cluster's directory works" {
  run psql -X -At -h "$MNO_TEST_PGSOCKET" -p "$MNO_TEST_PGPORT" -U postgres -d postgres -c "SELECT 41 + 1"
  [ "$status" -eq 0 ]
  [ "$output" = "42" ]
}

@test "env: role mno_secret needs its password over TCP" {
  run psql -X -At -d "$MNO_TEST_PG_SECRET_URI" -c "SELECT current_user"
  [ "$status" -eq 0 ]
  [ "$output" = "mno_secret" ]
  run psql -X -At -d "postgresql://mno_secret:wrong@127.0.0.1:$MNO_TEST_PGPORT/postgres" -c "SELECT 1"
  [ "$status" -ne 0 ]
  [[ "$output" == *'password authentication failed for user "mno_secret"'* ]]
}

@test "env: pg_newdb creates a fresh database and prints its URI, twice" {
  run pg_newdb fixtures_newdb
  [ "$status" -eq 0 ]
  [ "$output" = "postgresql://postgres@127.0.0.1:$MNO_TEST_PGPORT/fixtures_newdb" ]
  psql -X -q -d "$output" -c "CREATE TABLE t(i int); INSERT INTO t VALUES (1)"
  run pg_newdb fixtures_newdb
  [ "$status" -eq 0 ]
  run psql -X -At -d "$output" -c "SELECT count(*) FROM pg_class WHERE relname = 't'"
  [ "$output" = "0" ]
}

@test "env: pg_start gives a second cluster its own port; pg_stop stops it and is safe twice" {
  d=$BATS_TEST_TMPDIR/pg2
  run bash -c '. "$MNO_TOP/tests/lib/pg.sh"; pg_start "$1" || exit 9
    [ "$MNO_TEST_PGPORT" != "$2" ] || exit 8
    psql -X -At -d "$MNO_TEST_PG_URI" -c "SELECT 7" || exit 7
    pg_stop; pg_stop
    psql -X -At -d "$MNO_TEST_PG_URI" -c "SELECT 1" 2>/dev/null && exit 6
    [ ! -f "$1/data/postmaster.pid" ] || exit 5
    echo stopped' _ "$d" "$MNO_TEST_PGPORT"
  [ "$status" -eq 0 ]
  [ "$output" = "$(printf '7\nstopped')" ]
}

# ---- fixtures (tests/fixtures) -----------------------------------------------------------

# sql URI QUERY: one psql query, unaligned, tab-separated
sql() { psql -X -At -F $'\t' -v ON_ERROR_STOP=1 -d "$1" -c "$2"; }
# hex STRING: the bytes of STRING in lowercase hex
hex() { printf '%s' "$1" | od -An -tx1 -v | tr -d ' \n'; }
# table_md5s URI TABLE...: "TABLE md5" of every table's rows in key order
table_md5s() {
  local u=$1 t; shift
  for t in "$@"; do
    printf '%s %s\n' "$t" "$(sql "$u" "SELECT md5(coalesce(string_agg(x::text, E'\n' ORDER BY id), '')) FROM public.$t x")"
  done
}
MNOHUB_TABLES="tenants sub_tenants users organizations orga_relations teams org_invites apps app_instances credit_cards invoices bills deletion_requests audit_events identities products product_pricings subscriptions dashboards widgets"
CONNECTOR_TABLES="organizations users user_organization_rels id_maps synchronizations"


@test "fixtures: mnohub loads; per-tenant rows (expect.sql) equal what the generator made, globals whole" {
  u=$(pg_newdb fixtures_mnohub)
  run "$MNO_TOP/tests/fixtures/load" mnohub "$u" --manifest "$BATS_TEST_TMPDIR/m"
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  for t in acme globex initech; do
    psql -X -At -F $'\t' -v tenant=$t -f "$MNO_TOP/tests/fixtures/expect.sql" -d "$u" |
      cut -f1 | sort | uniq -c | awk -v t=$t '{print t "\t" $2 "\t" $1}'
  done | grep -Pv '\t(apps|products|product_pricings)\t' | sort >"$BATS_TEST_TMPDIR/got"
  grep -v '^\*' "$BATS_TEST_TMPDIR/m" | awk -F'\t' '$3 > 0' | sort >"$BATS_TEST_TMPDIR/want"
  diff "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/got"
  [ "$(wc -l <"$BATS_TEST_TMPDIR/want")" -eq 51 ]   # 17 tenant tables x 3 tenants, none empty
  run sql "$u" "SELECT (SELECT count(*) FROM apps), (SELECT count(*) FROM products), (SELECT count(*) FROM product_pricings), (SELECT count(*) FROM tenants)"
  [ "$output" = $'12\t5\t10\t3' ]
  grep -qP '^acme\taudit_events\t705$' "$BATS_TEST_TMPDIR/m"
  # every row of every table belongs to exactly one tenant, or the table is global; but the
  # rows of no tenant: two cross-tenant memberships, one audit event linking two tenants
  for t in acme globex initech; do
    psql -X -At -F $'\t' -v tenant=$t -f "$MNO_TOP/tests/fixtures/expect.sql" -d "$u"
  done | sort >"$BATS_TEST_TMPDIR/all"
  run bash -c "grep -Pv '^(apps|products|product_pricings)\t' '$BATS_TEST_TMPDIR/all' | uniq -d | head -3"
  [ -z "$output" ]
  for tb in $MNOHUB_TABLES; do
    case $tb in apps|products|product_pricings) continue ;; esac
    n=$(sql "$u" "SELECT count(*) FROM public.$tb")
    case $tb in orga_relations) n=$((n - 2)) ;; audit_events) n=$((n - 1)) ;; esac
    [ "$(grep -cP "^$tb\t" "$BATS_TEST_TMPDIR/all")" -eq "$n" ] || { echo "$tb: $n rows, not all placed"; false; }
  done
  # sequences continue after the loaded keys
  run sql "$u" "WITH n AS (INSERT INTO audit_events (key, created_at) VALUES ('x', now()) RETURNING id) SELECT n.id = (SELECT max(id) + 1 FROM audit_events) FROM n"
  [ "$output" = t ]
}

@test "fixtures: mnohub edge values of tenant acme are byte-exact" {
  u=$(pg_newdb fixtures_mnohub_edge)
  "$MNO_TOP/tests/fixtures/load" mnohub "$u" --tenants 2
  text=$'Ünïcödé «ταБЬℓσ» 日本語 🚀👩\u200d💻 שָׁלוֹם مرحبا\ttab\nnewline\r\\back\\slash \'single\' "double" a,b (paren) {brace} [x] %_ ;-- \\N end'
  run sql "$u" "SELECT encode(convert_to(name, 'UTF8'), 'hex') FROM organizations WHERE uid = 'org-acme-1'"
  [ "$output" = "$(hex "$text")" ]
  run sql "$u" "SELECT encode(convert_to(name, 'UTF8'), 'hex'), encode(convert_to(geo_city, 'UTF8'), 'hex'), company = '', phone IS NULL FROM users WHERE uid = 'usr-acme-1'"
  [ "$output" = "$(hex "$text")"$'\t'"$(hex '\N')"$'\tt\tt' ]
  run sql "$u" "SELECT company IS NULL, phone = '', name = '' FROM users WHERE uid = 'usr-acme-2'"
  [ "$output" = $'t\tt\tf' ]
  run sql "$u" "SELECT encode(avatar, 'hex') FROM users WHERE uid = 'usr-acme-1'"
  [ "$output" = "$(for i in $(seq 0 255); do printf '%02x' $i; done)" ]
  run sql "$u" "SELECT string_agg(format('%s|%s|%s|%s|%s', uid, credit_limit, score, ratio, founded_on), ' ' ORDER BY uid) FROM organizations WHERE uid IN ('org-acme-1', 'org-acme-2', 'org-acme-3', 'org-acme-4')"
  [ "$output" = "org-acme-1|-123456789012345678901234567890.123456789012345678901234567890|NaN|-0|1900-02-28 org-acme-2|98765432109876543210987654321098765432|Infinity|NaN|0001-01-01 BC org-acme-3|NaN|-Infinity|3.4028235e+38|1969-07-20 org-acme-4|0.000000000000000000000000000001|-0|1e-45|9999-12-31" ]
  run sql "$u" "SELECT tags[1], tags[2], tags[4] IS NULL, tags[5] = '', tags[6], array_length(tags, 1), app_nids FROM organizations WHERE uid = 'org-acme-1'"
  [ "$output" = $'a,b\tquote"d\tt\tt\tNULL\t11\t{1,2,NULL}' ]
  run sql "$u" "SELECT confirmed_at, last_sign_in_at FROM users WHERE uid = 'usr-acme-1'"
  [ "$output" = $'1969-07-20 20:17:40.123456+00\t1969-07-20 20:17:40.123456' ]
  run sql "$u" "SELECT settings #>> '{a,b,2,c,3}', settings->>'big', settings->'deep'->0->0->0->0->0->0->0->0->0->0->'x', metadata IS NULL FROM users WHERE uid = 'usr-acme-1'"
  [ "$output" = $'ü\n"q"\\\t123456789012345678901234567890.5\t[]\tf' ]
  run sql "$u" "SELECT metadata = 'null'::jsonb FROM users WHERE uid = 'usr-acme-1'"
  [ "$output" = t ]
  run sql "$u" "SELECT octet_length(metadata), length(metadata) < octet_length(metadata), left(metadata, 7) FROM audit_events WHERE key = 'edge_1mb'"
  [ "$output" = $'1048576\tt\tü€🚀abc\t' ] || [ "$output" = "$(printf '1048576\tt\tü€🚀abc\t')" ]
  run sql "$u" "SELECT description = '', metadata = '' FROM audit_events WHERE key = 'edge_empty'"
  [ "$output" = $'t\tt' ]
  run sql "$u" "SELECT settings::text FROM widgets WHERE settings::text LIKE '%\"dup\": 1, \"dup\": 2%' LIMIT 1"
  [ "$output" = $'{ "organization_ids" : [ "org-acme-1" , "org-acme-2" ],\n\t"dup": 1, "dup": 2, "f": 1.0e+2, "u": "\\u00fc\\ud83d\\ude80", "z": [] }' ]
}

@test "fixtures: other tenants hold near-miss values that must not follow acme" {
  u=$(pg_newdb fixtures_mnohub_near)
  "$MNO_TOP/tests/fixtures/load" mnohub "$u"
  run sql "$u" "SELECT string_agg(o.uid || ':' || t.name, ' ' ORDER BY o.uid) FROM organizations o JOIN tenants t ON t.id = o.mnoe_tenant_id WHERE o.uid LIKE 'org-acme-1%' OR o.uid LIKE 'org-acme-0%'"
  [ "$output" = "org-acme-01:globex org-acme-1:acme org-acme-1x:globex" ]
  # a credit card of a globex user whose id is also the id of an acme organization
  run sql "$u" "SELECT count(*) FROM credit_cards c JOIN users u ON c.owner_type = 'User' AND u.id = c.owner_id JOIN organizations o ON o.id = c.owner_id WHERE u.mnoe_tenant_id = 2 AND o.mnoe_tenant_id = 1"
  [ "$output" -ge 1 ]
  # serialized uids: a globex dashboard names org-acme-1x, initech ones xorg-acme-1
  run sql "$u" "SELECT count(*) FROM dashboards WHERE organization_ids LIKE '%org-acme-1%' AND owner_id NOT IN (SELECT id FROM users WHERE mnoe_tenant_id = 1)"
  [ "$output" -ge 2 ]
  run psql -X -At -v tenant=acme -f "$MNO_TOP/tests/fixtures/expect.sql" -d "$u"
  ids=$(sql "$u" "SELECT string_agg(id::text, ' ') FROM dashboards WHERE organization_ids LIKE '%org-acme-1x%' OR organization_ids LIKE '%xorg-acme-1%'")
  for id in $ids; do [[ $'\n'"$output"$'\n' != *$'\ndashboards|'"$id"$'\n'* ]]; done
}

@test "fixtures: connector loads; tenants, links inside the tenant, the (uid, tenant) near miss" {
  u=$(pg_newdb fixtures_connector)
  run "$MNO_TOP/tests/fixtures/load" connector "$u" --manifest "$BATS_TEST_TMPDIR/m"
  [ "$status" -eq 0 ]
  for t in acme globex initech; do
    for tb in $CONNECTOR_TABLES; do
      case $tb in
        organizations|users) q="SELECT count(*) FROM $tb WHERE tenant = '$t'" ;;
        user_organization_rels) q="SELECT count(*) FROM $tb x JOIN organizations o ON o.id = x.organization_id JOIN users s ON s.id = x.user_id WHERE o.tenant = '$t' AND s.tenant = '$t'" ;;
        *) q="SELECT count(*) FROM $tb x JOIN organizations o ON o.id = x.organization_id WHERE o.tenant = '$t'" ;;
      esac
      printf '%s\t%s\t%s\n' "$t" "$tb" "$(sql "$u" "$q")"
    done
  done | sort >"$BATS_TEST_TMPDIR/got"
  sort "$BATS_TEST_TMPDIR/m" >"$BATS_TEST_TMPDIR/want"
  diff "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/got"
  # memberships of no tenant: two tenants, an 'ACME' user, an 'acme ' organization
  run sql "$u" "SELECT count(*) FROM user_organization_rels r JOIN users s ON s.id = r.user_id JOIN organizations o ON o.id = r.organization_id WHERE s.tenant IS DISTINCT FROM o.tenant"
  [ "$output" = 4 ]
  # rows whose parent does not exist or is not given
  run sql "$u" "SELECT count(*) FILTER (WHERE user_id IS NULL OR user_id NOT IN (SELECT id FROM users)), count(*) FILTER (WHERE organization_id IS NULL OR organization_id NOT IN (SELECT id FROM organizations)) FROM user_organization_rels"
  [ "$output" = $'2\t2' ]
  # near-miss tenant values, each once in organizations and in users
  run sql "$u" "SELECT string_agg(coalesce(quote_literal(tenant), 'NULL'), ' ' ORDER BY tenant COLLATE \"C\") FROM (SELECT tenant FROM organizations UNION ALL SELECT tenant FROM users) x WHERE tenant IS NULL OR tenant NOT IN ('acme', 'globex', 'initech')"
  [ "$output" = "'ACME' 'ACME' 'acme ' 'acme ' 'default' 'default' NULL NULL" ]
  run sql "$u" "SELECT count(*) FROM (SELECT uid FROM organizations GROUP BY uid HAVING count(DISTINCT tenant) > 1) x"
  [ "$output" = 1 ]
  run sql "$u" "SELECT count(*) FROM (SELECT uid FROM users GROUP BY uid HAVING count(DISTINCT tenant) > 1) x"
  [ "$output" = 1 ]
  run sql "$u" "SELECT count(*) FILTER (WHERE oauth_uid IS NULL), count(*) FILTER (WHERE encrypted_oauth_token = '') FROM organizations WHERE tenant = 'acme'"
  [ "$output" = $'2\t1' ]
}

@test "fixtures: the generators are deterministic: same seed, same data; another seed, other data" {
  a=$(pg_newdb fixtures_det_a); b=$(pg_newdb fixtures_det_b); c=$(pg_newdb fixtures_det_c)
  "$MNO_TOP/tests/fixtures/load" mnohub "$a" --seed 7 --tenants 4
  "$MNO_TOP/tests/fixtures/load" mnohub "$b" --seed 7 --tenants 4
  "$MNO_TOP/tests/fixtures/load" mnohub "$c" --seed 8 --tenants 4
  table_md5s "$a" $MNOHUB_TABLES >"$BATS_TEST_TMPDIR/a"
  table_md5s "$b" $MNOHUB_TABLES >"$BATS_TEST_TMPDIR/b"
  table_md5s "$c" $MNOHUB_TABLES >"$BATS_TEST_TMPDIR/c"
  diff "$BATS_TEST_TMPDIR/a" "$BATS_TEST_TMPDIR/b"
  ! diff -q "$BATS_TEST_TMPDIR/a" "$BATS_TEST_TMPDIR/c"
  run sql "$a" "SELECT string_agg(name, ' ' ORDER BY id) FROM tenants"
  [ "$output" = "acme globex initech t0004" ]
  a=$(pg_newdb fixtures_det_a); b=$(pg_newdb fixtures_det_b)
  "$MNO_TOP/tests/fixtures/load" connector "$a"
  "$MNO_TOP/tests/fixtures/load" connector "$b"
  diff <(table_md5s "$a" $CONNECTOR_TABLES) <(table_md5s "$b" $CONNECTOR_TABLES)
}

@test "fixtures: load rejects a bad kind, option or URI with status 2" {
  run "$MNO_TOP/tests/fixtures/load" mysql "$MNO_TEST_PG_URI"
  [ "$status" -eq 2 ]
  [ "$output" = "load: error: unknown kind 'mysql' (mnohub, connector or connec)" ]
  run "$MNO_TOP/tests/fixtures/load" mnohub "$MNO_TEST_PG_URI" --scale x
  [ "$status" -eq 2 ]
  [ "$output" = "load: error: option '--scale': 'x' is not a number" ]
  run "$MNO_TOP/tests/fixtures/load" connector "$MNO_TEST_PG_URI" --tenants 0
  [ "$status" -eq 2 ]
  [ "$output" = "load: error: option '--tenants' must be at least 1" ]
  run "$MNO_TOP/tests/fixtures/load" mnohub "$MNO_TEST_PG_URI" --bogus
  [ "$status" -eq 2 ]
  [ "$output" = "load: error: unknown option '--bogus'" ]
  run "$MNO_TOP/tests/fixtures/load" connec "$MNO_TEST_PG_URI"
  [ "$status" -eq 2 ]
  [ "$output" = "load: error: connec needs a mongodb:// URI with the database name" ]
  # a database that already has the schema: nothing changes, status 2
  u=$(pg_newdb fixtures_twice)
  "$MNO_TOP/tests/fixtures/load" connector "$u"
  before=$(table_md5s "$u" $CONNECTOR_TABLES)
  run "$MNO_TOP/tests/fixtures/load" connector "$u" --seed 3
  [ "$status" -eq 2 ]
  [[ "$output" == *'relation "organizations" already exists'* ]]
  [[ "$output" == *"load: error: loading connector failed (see the messages above)" ]]
  [ "$(table_md5s "$u" $CONNECTOR_TABLES)" = "$before" ]
}

# el TYPE NAME VALUEHEX: the hex of one BSON element
el() { printf '%s%s00%s' "$1" "$(hex "$2")" "$3"; }
# le64 N: N as 8 little-endian bytes, hex
le64() { python3 -c 'import sys; print((int(sys.argv[1]) % (1 << 64)).to_bytes(8, "little").hex())' "$1"; }
CONNEC_COLLS="accounts company employees invoices items journals opportunities organizations payments people sales_orders tax_codes tax_rates"
mclient() { "$MNO_TESTBIN/mongodump-client" "$@"; }

@test "fixtures: connec loads; channel_id and group_id are the MnoHub uids of the same seed; counts per tenant" {
  p=$(pg_newdb fixtures_connec_hub)
  "$MNO_TOP/tests/fixtures/load" mnohub "$p" --seed 5
  m=$(mongo_newdb fixtures_connec)
  run "$MNO_TOP/tests/fixtures/load" connec "$m" --seed 5 --manifest "$BATS_TEST_TMPDIR/m"
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  [ "$(mclient colls "$m" | sort | tr '\n' ' ')" = "$CONNEC_COLLS " ]
  all=$(sql "$p" "SELECT json_agg(uid ORDER BY uid) FROM organizations")
  cld=$(sql "$p" "SELECT json_agg(uid ORDER BY uid) FROM app_instances")
  total=0
  for t in acme globex initech; do
    uids=$(sql "$p" "SELECT json_agg(o.uid ORDER BY o.uid) FROM organizations o JOIN tenants t ON t.id = o.mnoe_tenant_id WHERE t.name = '$t'")
    for c in $CONNEC_COLLS; do
      n=$(mclient count "$m" "$c" "{\"channel_id\": {\"\$in\": $uids}}")
      want=$(awk -F'\t' -v t=$t -v c=$c '$1 == t && $2 == c {print $3}' "$BATS_TEST_TMPDIR/m")
      [ "$n" = "$want" ] || { echo "$t $c: $n documents, manifest $want"; false; }
      [ "$n" -gt 0 ]
      total=$((total + n))
    done
  done
  sum=0
  for c in $CONNEC_COLLS; do
    sum=$((sum + $(mclient count "$m" "$c")))
    [ "$(mclient count "$m" "$c" "{\"channel_id\": {\"\$nin\": $all}}")" = 0 ]
    [ "$(mclient count "$m" "$c" "{\"group_id\": {\"\$nin\": $cld}}")" = 0 ]
  done
  [ "$sum" -eq "$total" ]
  [ "$total" -ge 1200 ]
  # the near miss: a globex document whose channel is org-acme-1x and that names org-acme-1
  [ "$(mclient count "$m" people '{"channel_id": "org-acme-1x", "notes": "see org-acme-1"}')" = 1 ]
  # every document's group_id is an app instance of its own organization
  pairs=$(sql "$p" "SELECT json_agg(json_build_object('channel_id', o.uid, 'group_id', a.uid)) FROM app_instances a JOIN organizations o ON o.id = a.owner_id AND a.owner_type = 'Organization'")
  for c in people invoices; do
    [ "$(mclient count "$m" "$c" "{\"\$or\": $pairs}")" = "$(mclient count "$m" "$c")" ]
  done
}

@test "fixtures: connec edge documents of acme are stored byte-exact" {
  m=$(mongo_newdb fixtures_connec_edge)
  "$MNO_TOP/tests/fixtures/load" connec "$m" --tenants 1
  run mclient hex "$m" items '{"_id": {"$oid": "000000000000000000000000"}}'
  [ "${#lines[@]}" -eq 1 ]
  d=${output#*$'\t'}
  e=$(el 07 _id 000000000000000000000000)
  [ "${d:8:${#e}}" = "$e" ]   # the first element, after the document's length
  for e in "$(el 10 i32min 00000080)" "$(el 10 i32max ffffff7f)" "$(el 12 i64min 0000000000000080)" \
           "$(el 12 i64max ffffffffffffff7f)" "$(el 01 nan 000000000000f87f)" "$(el 01 inf 000000000000f07f)" \
           "$(el 01 ninf 000000000000f0ff)" "$(el 01 negzero 0000000000000080)" "$(el 01 tiny 0100000000000000)" \
           "$(el 13 dec e8030000000000000000000000003a30)" "$(el 08 flag 01)" "$(el 08 off 00)"; do
    [[ $d == *"$e"* ]] || { echo "missing element $e"; false; }
  done
  run mclient hex "$m" journals '{"moon": {"$exists": true}}'
  d=${output#*$'\t'}
  for e in "$(el 09 moon "$(le64 -14182940000)")" "$(el 09 year1 "$(le64 -62135596800000)")" \
           "$(el 09 before "$(le64 -1)")" "$(el 09 y2100 "$(le64 4102444800000)")" "$(el 09 y9999 "$(le64 253402300799999)")"; do
    [[ $d == *"$e"* ]] || { echo "missing element $e"; false; }
  done
  run mclient hex "$m" accounts '{"_id": "00000000-0000-0000-0000-000000000000"}'
  d=${output#*$'\t'}
  for e in "$(el 05 user 0700000080""00ff0075736572)" "$(el 05 bin_empty 0000000000)" \
           "$(el 05 uuid 1000000004101112131415161718191a1b1c1d1e1f)" "$(el 07 ref_oid 5f0a1b2c3d4e5f6a7b8c9d0e)"; do
    [[ $d == *"$e"* ]] || { echo "missing element $e"; false; }
  done
  text=$'Ünïcödé «ταБЬℓσ» 日本語 🚀👩\u200d💻 שָׁלוֹם مرحبا\ttab\nnewline\r\\back\\slash \'single\' "double" a,b (paren) {brace} [x] %_ ;-- \\N end'
  run mclient hex "$m" people '{"_id": "7a3c3b14-6a7e-4f0e-9d8e-0123456789ab"}'
  [ "${#lines[@]}" -eq 1 ]
  d=${output#*$'\t'}
  n=$(printf '%s' "$text" | wc -c)
  [[ $d == *"$(el 02 first_name "$(le64 $((n + 1)) | cut -c1-8)$(hex "$text")00")"* ]]
  [[ $d == *"$(el 0a middle_name '')"* ]]
  [[ $d == *"$(el 03 empty_doc 0500000000)"* ]]
  [[ $d == *"$(el 04 empty_arr 0500000000)"* ]]
  # the near-1-MB document
  run mclient hex "$m" journals '{"_id": "big-1mb"}'
  d=${output#*$'\t'}
  [ $(( ${#d} / 2 )) -gt 1000000 ]
  [ $(( ${#d} / 2 )) -lt 1048576 ]
  # string UUID and ObjectId _ids side by side in one collection
  [ "$(mclient count "$m" people '{"_id": {"$type": "string"}}')" -gt 1 ]
  [ "$(mclient count "$m" people '{"_id": {"$type": "objectId"}}')" -gt 1 ]
}

@test "fixtures: connec is deterministic: same seed, same documents; another seed, others" {
  a=$(mongo_newdb fixtures_cdet_a); b=$(mongo_newdb fixtures_cdet_b); c=$(mongo_newdb fixtures_cdet_c)
  "$MNO_TOP/tests/fixtures/load" connec "$a" --tenants 2 --seed 9
  "$MNO_TOP/tests/fixtures/load" connec "$b" --tenants 2 --seed 9
  "$MNO_TOP/tests/fixtures/load" connec "$c" --tenants 2 --seed 10
  for db in a b c; do
    for coll in $CONNEC_COLLS; do
      printf '%s %s\n' "$coll" "$(mclient hex "${!db}" "$coll" | cut -f2 | md5sum | cut -c1-32)"
    done >"$BATS_TEST_TMPDIR/$db"
  done
  diff "$BATS_TEST_TMPDIR/a" "$BATS_TEST_TMPDIR/b"
  ! diff -q "$BATS_TEST_TMPDIR/a" "$BATS_TEST_TMPDIR/c"
  [ "$(python3 "$MNO_TOP/tests/fixtures/gen.py" connec --seed 9 | md5sum)" = "$(python3 "$MNO_TOP/tests/fixtures/gen.py" connec --seed 9 | md5sum)" ]
}

@test "fixtures: mongo-load reports a bad line with its number, status 2" {
  m=$(mongo_newdb fixtures_mload)
  run bash -c 'printf "%s\n" "{\"c\":\"x\",\"d\":{\"a\":1}}" "{\"d\":{}}" | "$1" "$2"' _ "$MNO_TESTBIN/mongo-load" "$m"
  [ "$status" -eq 2 ]
  [ "$output" = 'mongo-load: error: input object 2: no string "c" (the collection)' ]
  run bash -c 'printf "%s\n" "{\"c\":\"x\",\"d\":{\"a\":1}}" "{\"c\":\"x\",\"d\":" | "$1" "$2"' _ "$MNO_TESTBIN/mongo-load" "$m"
  [ "$status" -eq 2 ]
  [[ "$output" == 'mongo-load: error: input object 2: '* ]]
  run "$MNO_TESTBIN/mongo-load" "${MNO_TEST_MONGO_URI%/}"
  [ "$status" -eq 2 ]
  [ "$output" = "mongo-load: error: the URI names no database" ]
}
