#!/usr/bin/env bats
# 70-filters.bats: the stream filters' shared driver (lib/driver/filter.c), mno-filter-select and
# mno-filter-scrub on fixture archives of both engines: sections and bytes kept, sealed output,
# the header's derived_from and filters chain, every rule kind read back from a restored
# server, every refusal (exit 2, exact message naming the rule file and line, no output file),
# bad input (exit 2, input/line/section, no file; on stdout no trailer, the next tool refuses),
# a corrupted input in the middle of a chain, and mno-verify on a target restored from a chain.

bats_require_minimum_version 1.5.0

setup_file() {
  export MNO_TOP=${MNO_TOP:-$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}
  export PATH="$MNO_BIN:$PATH"
  . "$MNO_TOP/tests/lib/env.sh"
  export D=$BATS_TEST_DIRNAME/70-filters
  export HUB CONN CNC
  HUB=$(pg_newdb filters_hub)
  CONN=$(pg_newdb filters_conn)
  CNC=$(mongo_newdb filters_connec)
  "$MNO_TOP/tests/fixtures/load" mnohub "$HUB"
  "$MNO_TOP/tests/fixtures/load" connector "$CONN"
  "$MNO_TOP/tests/fixtures/load" connec "$CNC"
  export A=$BATS_FILE_TMPDIR
  mno-dump --source "$HUB" --scope "$MNO_TOP/filters/mnohub.scope" --tenant acme --quiet -o "$A/hub.mnoa"
  mno-dump --source "$HUB" --all --quiet -o "$A/huball.mnoa"
  mno-dump --source "$CONN" --scope "$MNO_TOP/filters/connector.scope" --tenant acme --quiet -o "$A/conn.mnoa"
  mno-dump --source "$CNC" --scope "$MNO_TOP/filters/connec.scope" --tenant acme --orgs-from "$A/hub.mnoa" --quiet -o "$A/cnc.mnoa"
}

setup() {
  . "$MNO_TOP/tests/lib/env.sh"
  mno_shm_sweep
  export PGOPTIONS="-c TimeZone=UTC -c DateStyle=ISO -c IntervalStyle=postgres -c extra_float_digits=3 -c bytea_output=hex"
  cd "$BATS_TEST_TMPDIR"
}

q() { psql -X -At -F $'\t' -d "$1" -c "$2"; }

# hmac KEY VALUE: HMAC-SHA-256 hex, computed by Python (not by the tool)
hmac() { python3 -c 'import hmac, hashlib, sys; print(hmac.new(sys.argv[1].encode(), sys.argv[2].encode(), hashlib.sha256).hexdigest())' "$1" "$2"; }

# no_output_file F: neither F nor F.partial exists
no_output_file() { [ ! -e "$1" ] && [ ! -e "$1.partial" ]; }

@test "select: --only and --exclude globs keep whole sections, record lines byte for byte, order kept" {
  run --separate-stderr mno-filter-select --only 'public.u*,public.org*' --exclude public.org_invites -o out.mnoa "$A/hub.mnoa"
  [ "$status" -eq 0 ]
  [ -z "$stderr" ]
  run mno-cat --check out.mnoa
  [ "$status" -eq 0 ]
  mno-cat --list out.mnoa | grep -v '^#' | cut -f1 >got
  mno-cat --list "$A/hub.mnoa" | cut -f1 | grep -E '^public\.(u|org)' | grep -vx public.org_invites >want
  diff -u want got
  [ "$(wc -l <got)" -eq 3 ]
  # every kept section's lines, begin to end, are the input's bytes
  for ns in $(cat want); do
    diff <(grep -F "\"ns\":\"$ns\"" "$A/hub.mnoa") <(grep -F "\"ns\":\"$ns\"" out.mnoa)
  done
  # and the sums in --list are the input's
  diff <(mno-cat --list "$A/hub.mnoa" | grep -Ff want) <(mno-cat --list out.mnoa | grep -v '^#')
  [ "$(stat -c %a out.mnoa)" = 600 ]
}

@test "select: the header keeps the input's fields, gets a new id, derived_from and the filters entry; the trailer names the input's sum" {
  mno-filter-select --exclude 'public.audit_events' "$A/hub.mnoa" >out.mnoa
  in_id=$(mno-cat --header "$A/hub.mnoa" | jq -r .id)
  in_sum=$(tail -n 1 "$A/hub.mnoa" | jq -r .sum)
  h=$(mno-cat --header out.mnoa)
  [ "$(jq -r .derived_from.id <<<"$h")" = "$in_id" ]
  [ "$(jq -r .id <<<"$h")" != "$in_id" ]
  [[ "$(jq -r .id <<<"$h")" =~ ^[0-9a-f]{32}$ ]]
  [ "$(jq -c '[.engine, .source, .tenant, .scope, .producer]' <<<"$h")" = '["postgresql","mnohub","acme","mnohub.scope","mno-filter-select 0.1.0"]' ]
  [ "$(jq -c .filters <<<"$h")" = "[{\"tool\":\"mno-filter-select\",\"version\":\"0.1.0\",\"args\":[\"--exclude\",\"public.audit_events\",\"$A/hub.mnoa\"]}]" ]
  [ "$(tail -n 1 out.mnoa | jq -c .derived_from)" = "{\"id\":\"$in_id\",\"sum\":\"$in_sum\"}" ]
  ! grep -q '"ns":"public.audit_events"' out.mnoa
}

@test "select: an archive left with no section is valid; MongoDB sections too; zstd in and out" {
  run --separate-stderr mno-filter-select --only 'nothing.*' "$A/hub.mnoa"
  [ "$status" -eq 0 ]
  run mno-cat --check - <<<"$output"
  [ "$status" -eq 0 ]
  [ "$output" = "ok: 0 sections, 0 records, sum 00000000000000000000000000000000" ]
  zstd -q -c "$A/cnc.mnoa" >cnc.mnoa.zst
  run mno-filter-select --only '*.people' -o people.mnoa.zst cnc.mnoa.zst
  [ "$status" -eq 0 ]
  [ "$(head -c 4 people.mnoa.zst | od -An -tx1 | tr -d ' ')" = 28b52ffd ]
  mno-cat --records people.mnoa.zst >got
  grep '"t":"rec","ns":"[^"]*\.people"' "$A/cnc.mnoa" >want
  [ -s want ]
  diff -u want got
  mno-filter-select -z --level 19 --threads 2 --exclude '*.people' "$A/cnc.mnoa" | mno-cat --check -
}

@test "filters: bad input is exit 2 naming input, line and section; -o leaves no file; on stdout no trailer and the next filter refuses" {
  # a changed value in the third record of public.users: the sum of that section is wrong
  awk '/"t":"rec","ns":"public.users"/ && ++n == 3 { sub(/"email":"/, "\"email\":\"x") } { print }' "$A/hub.mnoa" >bad.mnoa
  line=$(grep -n '"t":"end","ns":"public.users"' bad.mnoa | cut -d: -f1)
  run --separate-stderr mno-filter-select -o out.mnoa bad.mnoa
  [ "$status" -eq 2 ]
  [[ "$stderr" == "mno-filter-select: error: bad.mnoa:$line: section public.users: sum mismatch: end line says "* ]]
  no_output_file out.mnoa
  printf 'public.users: null api_secret\n' >r.scrub
  run --separate-stderr mno-filter-scrub --rules r.scrub -o out.mnoa bad.mnoa
  [ "$status" -eq 2 ]
  [[ "$stderr" == "mno-filter-scrub: error: bad.mnoa:$line: section public.users: sum mismatch: end line says "* ]]
  no_output_file out.mnoa
  # on stdout: the output stops where the filter stopped (in the broken section's records,
  # perhaps mid-line), no end line for it, no trailer: the next tool refuses it
  run -2 bash -c 'mno-filter-select bad.mnoa >piped.mnoa'
  ! grep -q '"t":"trailer"' piped.mnoa
  ! grep -q '"t":"end","ns":"public.users"' piped.mnoa
  run --separate-stderr mno-filter-scrub --rules r.scrub - <piped.mnoa
  [ "$status" -eq 2 ]
  [[ "$stderr" == "mno-filter-scrub: error: <stdin>:"* ]]
  [[ "$stderr" == *"truncated archive: no trailer" || "$stderr" == *"invalid JSON"* || "$stderr" == *"empty input: no archive header" ]]
  # a line that is not JSON in a section a rule decodes: the reader's own message, at its line
  awk '/"t":"rec","ns":"public.users"/ && ++n == 2 { sub(/"email":"/, "\"email\":x\"") } { print }' "$A/hub.mnoa" >badjson.mnoa
  want=$(mno-cat --check badjson.mnoa 2>&1 | sed 's/^mno-cat: //')
  [[ "$want" == "error: badjson.mnoa:"*": section public.users: invalid JSON at column "* ]]
  printf 'public.users: set %s email\n' "'x'" >s.scrub
  run --separate-stderr mno-filter-scrub --rules s.scrub -o out.mnoa badjson.mnoa
  [ "$status" -eq 2 ]
  [ "$stderr" = "mno-filter-scrub: $want" ]
  no_output_file out.mnoa
  # not an archive, empty, missing file
  run --separate-stderr mno-filter-select -o out.mnoa /dev/null
  [ "$status" -eq 2 ]
  [ "$stderr" = "mno-filter-select: error: /dev/null: empty input: no archive header" ]
  run --separate-stderr mno-filter-select -o out.mnoa nosuch.mnoa
  [ "$status" -eq 2 ]
  [ "$stderr" = "mno-filter-select: error: nosuch.mnoa: cannot open: No such file or directory" ]
  no_output_file out.mnoa
}

# interrupted SIG TOOL ARGS...: TOOL -o out.mnoa reads a fifo that was fed the first lines of
# huball.mnoa; once its temporary file exists it gets SIG. It dies of it (exit 128 + the signal,
# the shell's convention), its temporary file is gone and the old out.mnoa is as it was.
interrupted() {
  local sig=$1 want st=0 pid i
  shift
  want=$((128 + $(kill -l "$sig")))
  rm -f in out.mnoa.*.partial
  echo "old archive" >out.mnoa
  mkfifo in
  "$@" -o out.mnoa in 2>err &
  pid=$!
  exec 5>in
  head -n 3 "$A/huball.mnoa" >&5
  for i in $(seq 1 1200); do
    [ -n "$(ls out.mnoa.*.partial 2>/dev/null)" ] && break
    sleep 0.05
  done
  [ -n "$(ls out.mnoa.*.partial 2>/dev/null)" ]
  kill -"$sig" $pid
  sleep 0.2
  exec 5>&-   # a tool that ignored the signal now sees its input end (and exits 2)
  wait $pid || st=$?
  echo "$1 $sig: exit $st, temporary files: $(ls out.mnoa.*.partial 2>/dev/null)" >&2
  [ "$st" -eq "$want" ]
  [ "$(cat out.mnoa)" = "old archive" ]
  [ -z "$(ls out.mnoa.*.partial 2>/dev/null)" ]
  rm -f in
}

@test "filters: SIGINT or SIGTERM during -o FILE removes the temporary file and leaves FILE as it was" {
  export MNO_SCRUB_KEY=k
  for sig in INT TERM; do
    interrupted $sig mno-filter-select
    interrupted $sig mno-filter-scrub --lenient --rules "$MNO_TOP/filters/rehearsal.scrub"
    interrupted $sig mno-filter-rename --map public.users.name=x:y
    interrupted $sig mno-filter-tenant --tenant acme --scope "$MNO_TOP/filters/mnohub.scope"
  done
}

@test "scrub: null, set, hash and email on PostgreSQL columns, read back from a restored server" {
  cat >r.scrub <<'R'
# every kind of rule on PostgreSQL
public.users:       null encrypted_password tokens
public.users:       set 'Jane' name
public.users:       hash uid
public.users:       email email
public.org_invites: email user_email   # a second table
R
  MNO_SCRUB_KEY=k1 mno-filter-scrub --rules r.scrub -o out.mnoa "$A/hub.mnoa"
  t=$(pg_newdb filters_scrub_pg)
  mno-restore --quiet --create --target "$t" out.mnoa
  [ "$(q "$t" "SELECT count(*) FROM public.users WHERE encrypted_password IS NOT NULL OR tokens IS NOT NULL OR name <> 'Jane'")" = 0 ]
  [ "$(q "$t" "SELECT count(*) FROM public.users")" = "$(q "$HUB" "SELECT count(*) FROM public.users u JOIN public.tenants t ON t.id = u.mnoe_tenant_id WHERE t.name = 'acme'")" ]
  # hash and email: HMAC-SHA-256 as Python computes it; the email's domain kept
  q "$HUB" "SELECT u.id, u.uid, u.email FROM public.users u JOIN public.tenants t ON t.id = u.mnoe_tenant_id WHERE t.name = 'acme' ORDER BY u.id LIMIT 3" >src
  while IFS=$'\t' read -r id uid email; do
    [ "$(q "$t" "SELECT uid FROM public.users WHERE id = $id")" = "$(hmac k1 "$uid")" ]
    [ "$(q "$t" "SELECT email FROM public.users WHERE id = $id")" = "$(hmac k1 "${email%@*}")@${email##*@}" ]
  done <src
  [ "$(q "$t" "SELECT count(*) FROM public.org_invites WHERE user_email !~ '^[0-9a-f]{64}@'")" = 0 ]
  # the other tables are the input's, line for line
  for ns in public.organizations public.apps public.credit_cards; do
    diff <(grep -F "\"ns\":\"$ns\"" "$A/hub.mnoa") <(grep -F "\"ns\":\"$ns\"" out.mnoa)
  done
  # and mno-verify: the target holds exactly the filtered archive, its report names the filter
  run mno-verify --archive out.mnoa --target "$t"
  [ "$status" -eq 0 ]
  [ "${lines[1]}" = "filters  mno-filter-scrub --rules r.scrub -o out.mnoa $A/hub.mnoa" ]
  [[ "${lines[-1]}" == "verdict: ok: "* ]]
}

@test "scrub: records the rules leave unchanged are copied as the same bytes; equal inputs hash equal" {
  printf "public.organizations: hash uid\npublic.users: set 'x' company\n" >r.scrub
  MNO_SCRUB_KEY=k1 mno-filter-scrub --rules r.scrub "$A/hub.mnoa" >out.mnoa
  # the same key twice gives the same archive records; another key other hashes
  MNO_SCRUB_KEY=k1 mno-filter-scrub --rules r.scrub "$A/hub.mnoa" >out2.mnoa
  diff <(mno-cat --records out.mnoa) <(mno-cat --records out2.mnoa)
  MNO_SCRUB_KEY=k2 mno-filter-scrub --rules r.scrub "$A/hub.mnoa" >out3.mnoa
  ! diff -q <(mno-cat --records --ns public.organizations out.mnoa) <(mno-cat --records --ns public.organizations out3.mnoa)
  # a rule whose value is already there changes nothing: the section is copied as it was
  printf "public.users: null api_secret\n" >n.scrub
  mno-filter-scrub --rules n.scrub "$A/hub.mnoa" >out4.mnoa
  n_null=$(grep -F '"ns":"public.users"' "$A/hub.mnoa" | grep -cF '"api_secret":null' || true)
  same=$(comm -12 <(grep -F '"t":"rec","ns":"public.users"' "$A/hub.mnoa" | sort) <(grep -F '"t":"rec","ns":"public.users"' out4.mnoa | sort) | wc -l)
  [ "$same" -eq "$n_null" ]
  mno-cat --check out4.mnoa
}

@test "scrub: null, drop, set, hash and email on MongoDB dotted paths, into arrays, read back through mno-verify" {
  cat >r.scrub <<'R'
*.people:        email email.address
*.people:        drop is_customer
*.people:        null last_name
*.invoices:      hash lines.item_id.id        # into an array of documents, then an array of references
*.organizations: set 'ACME' name
R
  MNO_SCRUB_KEY=k1 mno-filter-scrub --rules r.scrub -o out.mnoa "$A/cnc.mnoa"
  mno-cat --check out.mnoa
  mno-cat --records out.mnoa | jq -c 'select(.ns | endswith(".people")) | .v' >people
  [ -s people ]
  [ "$(jq -r 'select(has("is_customer"))' people | wc -l)" -eq 0 ]
  [ "$(jq -r 'select(.last_name != null) | 1' people | wc -l)" -eq 0 ]
  # the email: python's HMAC of the input's local part, domain kept
  mno-cat --records "$A/cnc.mnoa" | jq -r 'select(.ns | endswith(".people")) | .v.email.address' | head -3 >in_emails
  mno-cat --records out.mnoa | jq -r 'select(.ns | endswith(".people")) | .v.email.address' | head -3 >out_emails
  while read -r e; do echo "$(hmac k1 "${e%@*}")@${e##*@}"; done <in_emails >want_emails
  diff -u want_emails out_emails
  [ "$(mno-cat --records out.mnoa | jq -r 'select(.ns | endswith(".organizations")) | .v.name' | sort -u)" = ACME ]
  # invoices: every line's item_id[].id hashed (64 hex digits), the other fields as they were
  mno-cat --records out.mnoa | jq -r 'select(.ns | endswith(".invoices")) | .v.lines[]?.item_id[]?.id' | sort -u >ids
  [ -s ids ]
  ! grep -vxE '[0-9a-f]{64}' ids
  # the collections without rules: the same lines
  diff <(grep -F '.accounts"' "$A/cnc.mnoa") <(grep -F '.accounts"' out.mnoa)
  # restored, the server holds exactly the scrubbed documents (sums over its BSON)
  t=$(mongo_newdb filters_scrub_mongo)
  mno-restore --quiet --create --target "$t" out.mnoa
  run mno-verify --archive out.mnoa --target "$t"
  [ "$status" -eq 0 ]
  [[ "$output" == *"filters  mno-filter-scrub --rules r.scrub -o out.mnoa $A/cnc.mnoa"* ]]
  [[ "${lines[-1]}" == "verdict: ok: "* ]]
}

@test "scrub: refusals and rule errors: exit 2, the rule file and line, no output file" {
  export MNO_SCRUB_KEY=k1
  # fails_rule RULEFILE-TEXT INPUT MESSAGE (after "mno-filter-scrub: error: ")
  fails_rule() {
    printf '%s\n' "$1" >r.scrub
    run --separate-stderr mno-filter-scrub --rules r.scrub -o out.mnoa "$2"
    [ "$status" -eq 2 ] || { echo "status $status: $stderr"; return 1; }
    [ "$stderr" = "mno-filter-scrub: error: $3" ] || { echo "got: $stderr"; echo "want: mno-filter-scrub: error: $3"; return 1; }
    no_output_file out.mnoa
  }
  fails_rule $'# keys\npublic.users: null id' "$A/hub.mnoa" \
    "r.scrub:2: public.users: column id is in the section's key (order and identity hang on it): refused"
  fails_rule '*.people: hash _id' "$A/cnc.mnoa" \
    "r.scrub:1: filters_connec.people: field _id is the document's _id (order and identity hang on it): refused"
  fails_rule 'public.nosuch: null x' "$A/hub.mnoa" \
    "r.scrub:1: no section public.nosuch in the archive (--lenient ignores it)"
  fails_rule 'public.users: null nosuch' "$A/hub.mnoa" \
    "r.scrub:1: public.users has no column nosuch (--lenient ignores it)"
  fails_rule '*.people: null nosuch.field' "$A/cnc.mnoa" \
    "r.scrub:1: filters_connec.people: no document has a field nosuch.field (--lenient ignores it)"
  fails_rule 'public.users: drop email' "$A/hub.mnoa" \
    "r.scrub:1: public.users: drop is for MongoDB fields; a PostgreSQL column can be set to null"
  fails_rule 'public.users: scramble email' "$A/hub.mnoa" \
    "r.scrub:1: unknown action 'scramble' (expected null, drop, set, hash or email)"
  fails_rule 'public.users: set email' "$A/hub.mnoa" \
    "r.scrub:1: set needs a value in single quotes: set 'VALUE' COLUMN..."
  fails_rule 'public.users null email' "$A/hub.mnoa" \
    "r.scrub:1: expected 'TABLE: ACTION COLUMN...' (a rule starts with a table or collection and ':')"
  fails_rule $'public.users: null email\npublic.users: hash email' "$A/hub.mnoa" \
    "r.scrub:2: public.users.email already has a rule (line 1)"
  fails_rule "public.users: null email when source = mnohub" "$A/hub.mnoa" \
    "r.scrub:1: expected when source = 'KIND' at the end of the rule"
  fails_rule "public.users: set 'x" "$A/hub.mnoa" "r.scrub:1: unterminated string"
  unset MNO_SCRUB_KEY
  fails_rule $'public.users: null api_secret\npublic.users: email email' "$A/hub.mnoa" \
    "r.scrub:2: hash and email need a key: set MNO_SCRUB_KEY (the same key gives the same hashes)"
  # --lenient: rules on what the archive lacks are ignored
  printf 'public.nosuch: null x\npublic.users: null nosuch api_secret\n' >r.scrub
  run mno-filter-scrub --lenient --rules r.scrub -o out.mnoa "$A/hub.mnoa"
  [ "$status" -eq 0 ]
  run mno-filter-scrub --rules nosuch.scrub "$A/hub.mnoa"
  [ "$status" -eq 2 ]
  [ "$output" = "mno-filter-scrub: error: nosuch.scrub: cannot open: No such file or directory" ]
  run mno-filter-scrub "$A/hub.mnoa"
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "mno-filter-scrub: error: --rules FILE or --preset NAME is required" ]
}

# scrubbed ARCHIVE OUT NS COL WANT: every record of NS in OUT has WANT (a JSON value) as COL,
# ARCHIVE has the same number of records and some other value there (the rule did something).
scrubbed() {
  local n_in n_out
  n_in=$(mno-cat --records --ns "$3" "$1" | jq -c ".v.$4" | grep -cvx "$5")
  [ "$n_in" -gt 0 ] || { echo "$3.$4: no value to scrub in $1" >&2; return 1; }
  [ "$(mno-cat --records --ns "$3" "$1" | wc -l)" -eq "$(mno-cat --records --ns "$3" "$2" | wc -l)" ]
  n_out=$(mno-cat --records --ns "$3" "$2" | jq -c ".v.$4" | grep -cvx "$5" || true)
  [ "$n_out" -eq 0 ] || { echo "$3.$4: $n_out values left in $2" >&2; return 1; }
}

@test "scrub: quoted identifiers in a rule file, as in scope files: a quoted column is that column, a quoted table part its ns" {
  # a hand-written archive (sealed by mno-cat) whose table and columns need quoting
  {
    printf '%s\n' '{"t":"header","format":"mnoa","version":2,"engine":"postgresql","source":"mnohub","tenant":null}'
    printf '%s\n' '{"t":"begin","ns":"public.\"Odd T\"","columns":[{"name":"id","type":"bigint"},{"name":"Mixed Case","type":"text"},{"name":"a\"b","type":"text"},{"name":"x.y","type":"text"}],"key":["id"]}'
    printf '%s\n' '{"t":"rec","ns":"public.\"Odd T\"","v":{"id":"1","Mixed Case":"secret","a\"b":"q","x.y":"d"}}'
    printf '%s\n' '{"t":"end","ns":"public.\"Odd T\"","count":0,"sum":"00000000000000000000000000000000"}'
    printf '%s\n' '{"t":"trailer","sections":1,"count":0,"sum":"00000000000000000000000000000000"}'
  } | mno-cat --seal -o odd.mnoa -
  printf '%s\n' "public.\"Odd T\": set 'x' \"Mixed Case\" \"a\"\"b\"" 'public."Odd T": null "x.y"' >q.scrub
  run --separate-stderr mno-filter-scrub --rules q.scrub -o out.mnoa odd.mnoa
  [ "$status" -eq 0 ]
  [ -z "$stderr" ]
  [ "$(mno-cat --records out.mnoa | jq -c .v)" = '{"id":"1","Mixed Case":"x","a\"b":"x","x.y":null}' ]
  # a quoting error is the scope files' own, at its line
  printf '%s\n' 'public."Odd T": null "Mixed' >bad.scrub
  run --separate-stderr mno-filter-scrub --rules bad.scrub -o out2.mnoa odd.mnoa
  [ "$status" -eq 2 ]
  [ "$stderr" = 'mno-filter-scrub: error: bad.scrub:1: unterminated quoted identifier "Mixed' ]
  no_output_file out2.mnoa
}

@test "scrub: --preset secrets nulls every secret column of the model (MnoHub, connector), no key needed; other columns kept" {
  unset MNO_SCRUB_KEY
  run --separate-stderr mno-filter-scrub --preset secrets -o hub.mnoa "$A/huball.mnoa"
  [ "$status" -eq 0 ]
  [ -z "$stderr" ]
  mno-cat --check hub.mnoa
  # the columns /work/shared/reference/maestrano-model.md marks with *
  for c in tenants.api_secret tenants.keystore users.encrypted_password users.tokens users.api_key \
           users.api_secret org_invites.token apps.api_key app_instances.oauth_keys credit_cards.token; do
    scrubbed "$A/huball.mnoa" hub.mnoa "public.${c%%.*}" "${c#*.}" null
  done
  scrubbed "$A/huball.mnoa" hub.mnoa public.deletion_requests token '"scrubbed"'   # NOT NULL
  # personal data and everything else as it was
  diff <(mno-cat --records --ns public.users "$A/huball.mnoa" | jq -c '.v | del(.encrypted_password, .tokens, .api_key, .api_secret)') \
       <(mno-cat --records --ns public.users hub.mnoa | jq -c '.v | del(.encrypted_password, .tokens, .api_key, .api_secret)')
  diff <(mno-cat --list "$A/huball.mnoa" | grep public.organizations) <(mno-cat --list hub.mnoa | grep public.organizations)
  [ "$(mno-cat --header hub.mnoa | jq -c '.filters[0].args')" = "[\"--preset\",\"secrets\",\"-o\",\"hub.mnoa\",\"$A/huball.mnoa\"]" ]
  # connector: the encrypted tokens with their iv and salt, and what clear_omniauth clears
  mno-filter-scrub --preset secrets -o conn.mnoa "$A/conn.mnoa"
  for c in encrypted_oauth_token encrypted_oauth_token_iv encrypted_oauth_token_salt encrypted_refresh_token \
           encrypted_refresh_token_iv encrypted_refresh_token_salt oauth_uid instance_url; do
    scrubbed "$A/conn.mnoa" conn.mnoa public.organizations "$c" null
  done
  diff <(mno-cat --records --ns public.users "$A/conn.mnoa") <(mno-cat --records --ns public.users conn.mnoa)
}

@test "scrub: --preset NAME is NAME.scrub of the scope directory (MNO_SCOPE_DIR); an unknown one is an error naming the presets" {
  mkdir p
  cp "$MNO_TOP/filters/mnohub.scope" p/
  printf 'public.users: set %s name\n' "'n'" >p/names.scrub
  printf 'public.users: null nosuch\n' >p/bad.scrub
  MNO_SCOPE_DIR=$PWD/p run --separate-stderr mno-filter-scrub --preset names -o out.mnoa "$A/hub.mnoa"
  [ "$status" -eq 0 ]
  [ "$(mno-cat --records --ns public.users out.mnoa | jq -r .v.name | sort -u)" = n ]
  # a rule's error names the preset's file and line
  MNO_SCOPE_DIR=$PWD/p run --separate-stderr mno-filter-scrub --preset bad -o out2.mnoa "$A/hub.mnoa"
  [ "$status" -eq 2 ]
  [ "$stderr" = "mno-filter-scrub: error: $PWD/p/bad.scrub:1: public.users has no column nosuch (--lenient ignores it)" ]
  no_output_file out2.mnoa
  MNO_SCOPE_DIR=$PWD/p run --separate-stderr mno-filter-scrub --preset nosuch -o out2.mnoa "$A/hub.mnoa"
  [ "$status" -eq 2 ]
  [ "$stderr" = "mno-filter-scrub: error: unknown preset 'nosuch': no nosuch.scrub in $PWD/p (presets there: bad, names; the directory is \$MNO_SCOPE_DIR, else filters/ beside the tools)" ]
  no_output_file out2.mnoa
  run --separate-stderr mno-filter-scrub --preset ../p/names "$A/hub.mnoa"
  [ "$status" -eq 2 ]
  [ "$stderr" = "mno-filter-scrub: error: --preset: '../p/names' is not a preset name (letters, digits, '-' and '_')" ]
  run --separate-stderr mno-filter-scrub --preset secrets --rules x.scrub "$A/hub.mnoa"
  [ "$status" -eq 2 ]
  [ "${stderr%%$'\n'*}" = "mno-filter-scrub: error: give --rules FILE or --preset NAME, not both" ]
  # without MNO_SCOPE_DIR: filters/ beside the tools, which ships rehearsal and secrets
  run --separate-stderr env -u MNO_SCOPE_DIR mno-filter-scrub --preset nosuch "$A/hub.mnoa"
  [[ "$stderr" == *"(presets there: rehearsal, secrets; "* ]]
}

@test "scrub: filters/rehearsal.scrub on MnoHub, connector and Connec! archives: secrets nulled, emails hashed, the key never in the output" {
  export MNO_SCRUB_KEY=rehearsal-key-42
  R=$MNO_TOP/filters/rehearsal.scrub
  mno-filter-scrub --rules "$R" -o hub.mnoa "$A/hub.mnoa"
  mno-filter-scrub --rules "$R" -o conn.mnoa "$A/conn.mnoa"
  mno-filter-scrub --rules "$R" -o cnc.mnoa "$A/cnc.mnoa"
  ! grep -q rehearsal-key-42 hub.mnoa conn.mnoa cnc.mnoa
  th=$(pg_newdb filters_rehearsal_hub)
  tc=$(pg_newdb filters_rehearsal_conn)
  mno-restore --quiet --create --target "$th" hub.mnoa
  mno-restore --quiet --create --target "$tc" conn.mnoa
  [ "$(q "$th" "SELECT (SELECT count(*) FROM public.tenants WHERE api_secret IS NOT NULL OR keystore IS NOT NULL)
    + (SELECT count(*) FROM public.users WHERE encrypted_password IS NOT NULL OR tokens IS NOT NULL OR api_key IS NOT NULL OR api_secret IS NOT NULL)
    + (SELECT count(*) FROM public.org_invites WHERE token IS NOT NULL)
    + (SELECT count(*) FROM public.apps WHERE api_key IS NOT NULL)
    + (SELECT count(*) FROM public.app_instances WHERE oauth_keys IS NOT NULL)
    + (SELECT count(*) FROM public.credit_cards WHERE token IS NOT NULL)
    + (SELECT count(*) FROM public.deletion_requests WHERE token !~ '^[0-9a-f]{64}$')
    + (SELECT count(*) FROM public.users WHERE email !~ '^[0-9a-f]{64}@')
    + (SELECT count(*) FROM public.org_invites WHERE user_email !~ '^[0-9a-f]{64}@')")" = 0 ]
  # the source had such secrets to scrub
  [ "$(q "$HUB" "SELECT count(*) FROM public.users WHERE encrypted_password IS NOT NULL")" -gt 0 ]
  [ "$(q "$tc" "SELECT count(*) FROM public.organizations WHERE oauth_uid IS NOT NULL OR instance_url IS NOT NULL
      OR encrypted_oauth_token IS NOT NULL OR encrypted_oauth_token_iv IS NOT NULL OR encrypted_oauth_token_salt IS NOT NULL
      OR encrypted_refresh_token IS NOT NULL OR encrypted_refresh_token_iv IS NOT NULL OR encrypted_refresh_token_salt IS NOT NULL")" = 0 ]
  [ "$(q "$tc" "SELECT count(*) FROM public.users WHERE email !~ '^[0-9a-f]{64}@'")" = 0 ]
  [ "$(q "$tc" "SELECT count(*) FROM public.organizations")" -gt 0 ]
  # the same person's email hashes the same in MnoHub and the connector (joinable)
  e=$(q "$HUB" "SELECT email FROM public.users LIMIT 1")
  [ "$(q "$th" "SELECT count(*) FROM public.users WHERE email = '$(hmac rehearsal-key-42 "${e%@*}")@${e##*@}'")" -le 1 ]
  mno-cat --records cnc.mnoa | jq -r 'select(.ns | endswith(".people")) | .v.email.address | strings' >emails
  [ -s emails ]
  ! grep -vE '^[0-9a-f]{64}@' emails
}

@test "filters: a chain in both engines into mno-restore -; mno-cat --list and mno-verify name the chain" {
  export MNO_SCRUB_KEY=k1
  t=$(pg_newdb filters_chain_pg)
  mno-filter-select --exclude public.audit_events "$A/hub.mnoa" | mno-filter-scrub --rules "$MNO_TOP/filters/rehearsal.scrub" --lenient \
    | mno-filter-select --only 'public.*' -o chain.mnoa.zst
  run mno-cat --list chain.mnoa.zst
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "# filters: mno-filter-select --exclude public.audit_events $A/hub.mnoa | mno-filter-scrub --rules $MNO_TOP/filters/rehearsal.scrub --lenient | mno-filter-select --only 'public.*' -o chain.mnoa.zst" ]
  [[ "${lines[1]}" =~ ^"# derived from archive "[0-9a-f]{32}$ ]]
  mno-cat chain.mnoa.zst | mno-restore --quiet --create --target "$t" -
  run mno-verify --archive chain.mnoa.zst --target "$t"
  [ "$status" -eq 0 ]
  [ "${lines[1]}" = "filters  mno-filter-select --exclude public.audit_events $A/hub.mnoa | mno-filter-scrub --rules $MNO_TOP/filters/rehearsal.scrub --lenient | mno-filter-select --only 'public.*' -o chain.mnoa.zst" ]
  run mno-verify --json --archive chain.mnoa.zst --target "$t"
  [ "$(jq -r '.archive.header.filters | map(.tool) | join(",")' <<<"$output")" = "mno-filter-select,mno-filter-scrub,mno-filter-select" ]
  [ "$(q "$t" "SELECT to_regclass('public.audit_events') IS NULL")" = t ]
  # MongoDB
  tm=$(mongo_newdb filters_chain_mongo)
  mno-filter-select --exclude '*.journals' "$A/cnc.mnoa" | mno-filter-scrub --rules "$MNO_TOP/filters/rehearsal.scrub" \
    | mno-restore --quiet --create --target "$tm" -
  mno-filter-select --exclude '*.journals' "$A/cnc.mnoa" | mno-filter-scrub --rules "$MNO_TOP/filters/rehearsal.scrub" -o m.mnoa
  run mno-verify --archive m.mnoa --target "$tm"
  [ "$status" -eq 0 ]
}

@test "filters: a corrupted input in the middle of a chain fails the pipe; mno-restore - commits nothing of the broken section" {
  awk '/"t":"rec","ns":"public.users"/ && ++n == 2 { sub(/"email":"/, "\"email\":\"x") } { print }' "$A/hub.mnoa" >bad.mnoa
  t=$(pg_newdb filters_corrupt)
  run bash -o pipefail -c "mno-filter-select --exclude public.audit_events bad.mnoa | MNO_SCRUB_KEY=k mno-filter-scrub --rules '$MNO_TOP/filters/rehearsal.scrub' | mno-restore --quiet --create --target '$t' -"
  [ "$status" -eq 2 ]
  [[ "$output" == *"mno-filter-select: error: bad.mnoa:"*": section public.users: sum mismatch: "* ]]
  [[ "$output" == *"mno-filter-scrub: error: <stdin>:"* ]]
  # the broken section: nothing committed (the table may exist, empty, or not at all)
  if [ "$(q "$t" "SELECT to_regclass('public.users') IS NOT NULL")" = t ]; then
    [ "$(q "$t" "SELECT count(*) FROM public.users")" = 0 ]
  fi
  # the sections before it that the pipe delivered whole are there, the ones after are not
  [ "$(q "$t" "SELECT to_regclass('public.widgets') IS NULL")" = t ]
}

@test "filters: usage errors and --help" {
  # the options every filter shares (lib/driver/filter.c), with each filter's required ones
  declare -A req=([select]="" [scrub]="--preset secrets" [rename]="--map a.b.c=x:y" [tenant]="--tenant acme")
  for f in select scrub rename tenant; do
    run mno-filter-$f ${req[$f]} -o
    [ "$status" -eq 2 ]
    [ "${lines[0]}" = "mno-filter-$f: error: option '-o' needs a value" ]
    [ "${lines[1]}" = "try 'mno-filter-$f --help'" ]
    run mno-filter-$f ${req[$f]} --threads 201 x
    [ "$status" -eq 2 ]
    [ "${lines[0]}" = "mno-filter-$f: error: --threads: expected a number from 0 to 200" ]
    run mno-filter-$f ${req[$f]} --max-line 0 x
    [ "${lines[0]}" = "mno-filter-$f: error: --max-line: expected a positive number of bytes" ]
    run mno-filter-$f ${req[$f]} a b
    [ "$status" -eq 2 ]
    [ "${lines[0]}" = "mno-filter-$f: error: one input only" ]
    [ "${lines[1]}" = "try 'mno-filter-$f --help'" ]
    run mno-filter-$f --help
    [[ "$output" == *"  -o FILE          write to FILE (default stdout); written as FILE.partial (mode 0600),"* ]]
    [[ "$output" == *"  --version        the version"* ]]
  done
  for f in select scrub rename tenant; do
    run mno-filter-$f --help
    [ "$status" -eq 0 ]
    [[ "${lines[0]}" == "usage: mno-filter-$f "* ]]
    run mno-filter-$f --version
    [ "$output" = "mno-filter-$f 0.1.0" ]
    run mno-filter-$f --bogus
    [ "$status" -eq 2 ]
    [ "${lines[0]}" = "mno-filter-$f: error: unknown option '--bogus'" ]
    [ "${lines[1]}" = "try 'mno-filter-$f --help'" ]
    run mno-filter-$f --level 99 x
    [ "$status" -eq 2 ]
    [ "${lines[0]}" = "mno-filter-$f: error: --level: expected a zstd level up to 22" ]
  done
  run mno-filter-select a b
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "mno-filter-select: error: one input only" ]
}
