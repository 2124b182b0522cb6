#!/usr/bin/env bats
# 75-live-disconnect.bats: mno-disconnect on the fixtures (a connector database and MnoHub):
# plan, do, rerun (no change), undo, the values equal to before (dump sums), undo refused
# after a concurrent change, kill -9 in the middle, other tenants untouched, rules errors,
# no credential in any output.

setup_file() {
  export MNO_TOP=${MNO_TOP:-$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}
  export PATH="$MNO_BIN:$PATH"
  . "$MNO_TOP/tests/lib/env.sh"
  export HUB CONN
  HUB=$(pg_newdb live_disc_hub)
  CONN=$(pg_newdb live_disc_conn)
  "$MNO_TOP/tests/fixtures/load" mnohub "$HUB"
  "$MNO_TOP/tests/fixtures/load" connector "$CONN"
  export MNO_SCOPE_DIR=$MNO_TOP/filters
}

setup() {
  . "$MNO_TOP/tests/lib/env.sh"
  . "$MNO_TOP/tests/lib/live.sh"
  cd "$BATS_TEST_TMPDIR"
}

teardown() {
  psql -X -q -d "$MNO_TEST_PG_URI" -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'mno-test-lock'" >/dev/null 2>&1 || true
}

# A fresh copy of the connector fixture for tests that change it.
fresh_conn() {
  local u
  u=$(pg_newdb "live_disc_c$BATS_TEST_NUMBER")
  pg_dump -d "$CONN" | psql -X -q -v ON_ERROR_STOP=1 -d "$u" >/dev/null
  echo "$u"
}

q() { psql -X -At -d "$1" -c "$2"; }

@test "disconnect: --plan prints the statement and the row count per table and changes nothing" {
  c=$(fresh_conn)
  before=$(q "$c" "SELECT md5(string_agg(o::text, '' ORDER BY id)) FROM public.organizations o")
  run mno-disconnect --target "$c" --tenant acme --plan
  [ "$status" -eq 0 ]
  [ "${#lines[@]}" -eq 1 ]
  [ "$(echo "${lines[0]}" | cut -f1)" = public.organizations ]
  [[ "$(echo "${lines[0]}" | cut -f2)" == 'UPDATE "public"."organizations" t SET "oauth_uid" = NULL, '*'"sync_enabled" = '"'false'"' WHERE '*"'acme'"* ]]
  # the count is the tenant's organizations not yet disconnected, as the server counts them
  want=$(q "$c" "SELECT count(*) FROM public.organizations WHERE tenant = 'acme' AND NOT (oauth_uid IS NULL AND encrypted_oauth_token IS NULL AND encrypted_oauth_token_iv IS NULL AND encrypted_oauth_token_salt IS NULL AND encrypted_refresh_token IS NULL AND encrypted_refresh_token_iv IS NULL AND encrypted_refresh_token_salt IS NULL AND sync_enabled IS NOT DISTINCT FROM false)")
  [ "$want" -gt 0 ]
  [ "$(echo "${lines[0]}" | cut -f3)" = "$want" ]
  run mno-disconnect --target "$c" --tenant acme --plan --json
  [ "$status" -eq 0 ]
  [ "$(echo "$output" | jq -r '[.plan, .changed, .rows, .tables[0].ns, .tables[0].rows, .undo_file] | @tsv')" = "true	false	$want	public.organizations	$want	" ]
  [ "$(q "$c" "SELECT md5(string_agg(o::text, '' ORDER BY id)) FROM public.organizations o")" = "$before" ]
  [ -z "$(ls)" ]
}

@test "disconnect: do, rerun (nothing to change), undo: every value as before, other tenants untouched" {
  c=$(fresh_conn)
  for t in acme globex initech; do sums "$c" $t before-$t; done
  run mno-disconnect --target "$c" --tenant acme --undo-file u.mnoa
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "mno-disconnect: tenant 'acme' in connector database 'live_disc_c2': 6 rows to change" ]
  [ "${lines[2]}" = "undo archive: u.mnoa" ]
  [ "${lines[3]}" = "done: 6 rows changed in one transaction" ]
  # the undo archive: mode 0600, a sound mnoa archive of the rows' keys and prior values
  [ "$(stat -c %a u.mnoa)" = 600 ]
  run mno-cat --list u.mnoa
  [ "$output" = "$(printf 'public.organizations\t6\t%s\tok' "$(echo "$output" | cut -f3)")" ]
  mno-cat --records u.mnoa | jq -r '.v | [.id, .oauth_uid // "null", .sync_enabled] | @tsv' | sort -n >got
  q "$c" "SELECT id, coalesce(oauth_uid, 'null'), 'x' FROM public.organizations WHERE tenant = 'acme' ORDER BY id" | tr '|' '\t' >ids
  [ "$(cut -f1 got)" = "$(cut -f1 ids)" ]
  # after it: the columns are cleared in the database and in a dump of the tenant
  [ "$(q "$c" "SELECT count(*) FROM public.organizations WHERE tenant = 'acme' AND (oauth_uid IS NOT NULL OR encrypted_oauth_token IS NOT NULL OR encrypted_refresh_token IS NOT NULL OR sync_enabled)")" = 0 ]
  mno-dump --source "$c" --tenant acme --quiet -o after.mnoa
  [ "$(mno-cat --records --ns public.organizations after.mnoa | jq -r '[.v.oauth_uid, .v.encrypted_oauth_token, .v.encrypted_refresh_token_iv, .v.sync_enabled] | @tsv' | sort -u)" = $'\t\t\tf' ]
  # the other tenants: the same sums
  for t in globex initech; do sums "$c" $t after-$t; diff before-$t after-$t; done
  # a second run changes nothing, writes no archive, says so
  run mno-disconnect --target "$c" --tenant acme
  [ "$status" -eq 0 ]
  [ "$output" = "mno-disconnect: tenant 'acme' in connector database 'live_disc_c2': nothing to change" ]
  [ "$(ls *.undo.mnoa 2>/dev/null | wc -l)" = 0 ]
  run mno-disconnect --target "$c" --tenant acme --json
  [ "$(echo "$output" | jq -c '[.rows, .changed, .undo_file]')" = '[0,false,null]' ]
  # undo: every value back, the sums equal to before
  run mno-disconnect --target "$c" --undo u.mnoa
  [ "$status" -eq 0 ]
  [ "${lines[${#lines[@]}-1]}" = "done: 6 rows restored in one transaction" ]
  for t in acme globex initech; do sums "$c" $t undone-$t; diff before-$t undone-$t; done
  # undo again: nothing to change
  run mno-disconnect --target "$c" --undo u.mnoa --json
  [ "$status" -eq 0 ]
  [ "$(echo "$output" | jq -c '[.restored, .tables[0].already]')" = '[0,6]' ]
}

@test "disconnect: the default undo archive name holds the tool, the tenant and the UTC time" {
  c=$(fresh_conn)
  run mno-disconnect --target "$c" --tenant acme --json
  [ "$status" -eq 0 ]
  f=$(echo "$output" | jq -r .undo_file)
  [[ "$f" =~ ^mno-disconnect-acme-20[0-9]{6}T[0-9]{6}Z\.undo\.mnoa$ ]]
  [ -f "$f" ]
  [ "$(mno-cat --header "$f" | jq -c '[.source, .tenant, .undo.tool, .undo.action]')" = '["connector","acme","mno-disconnect","disconnect"]' ]
  # an existing undo archive is never overwritten
  q "$c" "UPDATE public.organizations SET sync_enabled = true WHERE tenant = 'acme'"
  cp "$f" keep
  run mno-disconnect --target "$c" --tenant acme --undo-file "$f"
  [ "$status" -eq 2 ]
  [ "${lines[${#lines[@]}-1]}" = "mno-disconnect: error: $f: the undo archive exists: it will not be overwritten (give another --undo-file); nothing was changed" ]
  cmp "$f" keep
  [ "$(q "$c" "SELECT count(*) FROM public.organizations WHERE tenant = 'acme' AND sync_enabled")" = 6 ]
}

@test "disconnect: undo refused (exit 2, keys named) after a concurrent change; nothing restored" {
  c=$(fresh_conn)
  mno-disconnect --target "$c" --tenant acme --undo-file u.mnoa >/dev/null
  id1=$(q "$c" "SELECT min(id) FROM public.organizations WHERE tenant = 'acme'")
  id2=$(q "$c" "SELECT max(id) FROM public.organizations WHERE tenant = 'acme'")
  # someone reconnects two organizations by hand after the disconnect
  q "$c" "UPDATE public.organizations SET oauth_uid = 'new-by-hand' WHERE id = $id1"
  q "$c" "UPDATE public.organizations SET sync_enabled = true WHERE id = $id2"
  snap=$(q "$c" "SELECT md5(string_agg(o::text, '' ORDER BY id)) FROM public.organizations o")
  run mno-disconnect --target "$c" --undo u.mnoa
  [ "$status" -eq 2 ]
  [ "$output" = "mno-disconnect: error: u.mnoa: undo refused: 2 rows changed since mno-disconnect set them (putting the prior values back would overwrite someone else's write): public.organizations id=$id1, public.organizations id=$id2; nothing was changed" ]
  [ "$(q "$c" "SELECT md5(string_agg(o::text, '' ORDER BY id)) FROM public.organizations o")" = "$snap" ]
  # a row deleted since is named too
  q "$c" "UPDATE public.organizations SET oauth_uid = NULL, sync_enabled = false WHERE id IN ($id1, $id2)"
  q "$c" "DELETE FROM public.organizations WHERE id = $id2"
  run mno-disconnect --target "$c" --undo u.mnoa
  [ "$status" -eq 2 ]
  [[ "$output" == *"1 row changed since mno-disconnect set it"*"public.organizations id=$id2 (gone); nothing was changed" ]]
}

@test "disconnect: kill -9 after the undo archive, before the commit: no half-changed tenant; undo finds nothing, rerun works" {
  c=$(fresh_conn)
  sums "$c" acme before
  # a session holding a SHARE lock lets the tool read and lock the rows (FOR UPDATE) and write
  # its undo archive, and holds its UPDATE
  lock_hold "$c" "BEGIN; LOCK TABLE public.organizations IN SHARE MODE;"
  mno-disconnect --target "$c" --tenant acme --undo-file u.mnoa >out 2>&1 &
  pid=$!
  wait_for 'backend_waiting "UPDATE %organizations%"'
  [ -f u.mnoa ]
  kill -9 $pid
  wait $pid || true
  lock_release
  wait_for 'backend_gone "UPDATE %organizations%"'
  sums "$c" acme after
  diff before after
  # the archive was complete; its undo finds every row at its prior values
  run mno-disconnect --target "$c" --undo u.mnoa --json
  [ "$status" -eq 0 ]
  [ "$(echo "$output" | jq -c '[.restored, .tables[0].already]')" = '[0,6]' ]
  run mno-disconnect --target "$c" --tenant acme --undo-file u2.mnoa
  [ "$status" -eq 0 ]
  [ "${lines[3]}" = "done: 6 rows changed in one transaction" ]
}

@test "disconnect: MnoHub: the app instances of the tenant's organizations, keys cleared and marked invalid; undo reconnects" {
  h=$(pg_newdb "live_disc_h$BATS_TEST_NUMBER")
  pg_dump -d "$HUB" | psql -X -q -v ON_ERROR_STOP=1 -d "$h" >/dev/null
  for t in acme globex initech; do sums "$h" $t before-$t; done
  want=$(q "$h" "SELECT count(*) FROM public.app_instances a JOIN public.organizations o ON o.id = a.owner_id AND a.owner_type = 'Organization' JOIN public.tenants t ON t.id = o.mnoe_tenant_id WHERE t.name = 'acme' AND NOT (a.oauth_keys IS NULL AND a.oauth_keys_valid IS NOT DISTINCT FROM false)")
  [ "$want" -gt 0 ]
  run mno-disconnect --target "$h" --tenant acme --json --undo-file u.mnoa
  [ "$status" -eq 0 ]
  [ "$(echo "$output" | jq -c '[.source, .tables[0].ns, .tables[0].rows, .changed]')" = "[\"mnohub\",\"public.app_instances\",$want,true]" ]
  [ "$(q "$h" "SELECT count(*) FROM public.app_instances a JOIN public.organizations o ON o.id = a.owner_id AND a.owner_type = 'Organization' JOIN public.tenants t ON t.id = o.mnoe_tenant_id WHERE t.name = 'acme' AND (a.oauth_keys IS NOT NULL OR a.oauth_keys_valid IS DISTINCT FROM false)")" = 0 ]
  for t in globex initech; do sums "$h" $t after-$t; diff before-$t after-$t; done
  ! diff -q before-acme <(sums "$h" acme now-acme; cat now-acme) >/dev/null
  run mno-disconnect --target "$h" --undo u.mnoa
  [ "$status" -eq 0 ]
  for t in acme globex initech; do sums "$h" $t undone-$t; diff before-$t undone-$t; done
}

@test "disconnect: rules file errors cite file:line, exit 2, nothing changed" {
  c=$(fresh_conn)
  snap=$(q "$c" "SELECT md5(string_agg(o::text, '' ORDER BY id)) FROM public.organizations o")
  printf '# r\nconnector public.organizations: set oauth_uid = null,\n  oauth_nope = null\n' >bad1.rules
  run mno-disconnect --target "$c" --tenant acme --rules bad1.rules
  [ "$status" -eq 2 ]
  [ "$output" = "mno-disconnect: error: bad1.rules:2: public.organizations: no column 'oauth_nope'" ]
  printf 'connector public.organizations: set sync_enabled = maybe\n' >bad2.rules
  run mno-disconnect --target "$c" --tenant acme --rules bad2.rules
  [ "$status" -eq 2 ]
  [ "$output" = "mno-disconnect: error: bad2.rules:1: expected a value (null, true, false, a number or 'text') after '=', found 'maybe'" ]
  printf '\nconnecter public.organizations: set sync_enabled = false\n' >bad3.rules
  run mno-disconnect --target "$c" --tenant acme --rules bad3.rules
  [ "$status" -eq 2 ]
  [ "$output" = "mno-disconnect: error: bad3.rules:2: unknown source kind 'connecter' (mnohub, connector or connec)" ]
  printf 'connector public.organizations: set id = null\n' >bad4.rules
  run mno-disconnect --target "$c" --tenant acme --rules bad4.rules
  [ "$status" -eq 2 ]
  [ "$output" = "mno-disconnect: error: bad4.rules:1: public.organizations: column 'id' is part of the key: the undo finds rows by their key" ]
  printf 'connector public.organizations: set sync_enabled = 12x\n' >bad5.rules
  run mno-disconnect --target "$c" --tenant acme --rules bad5.rules
  [ "$status" -eq 2 ]
  [[ "$output" == "mno-disconnect: error: bad5.rules:1: expected a value"* ]]
  printf 'mnohub public.app_instances: set oauth_keys = null\n' >other.rules
  run mno-disconnect --target "$c" --tenant acme --rules other.rules
  [ "$status" -eq 2 ]
  [ "$output" = "mno-disconnect: error: other.rules: no rule for a connector database" ]
  # a value the column's type refuses: the server's text, nothing changed
  printf 'connector public.organizations: set sync_enabled = 7.5\n' >bad6.rules
  run mno-disconnect --target "$c" --tenant acme --rules bad6.rules
  [ "$status" -eq 2 ]
  [[ "$output" == *"invalid input syntax for type boolean"* ]]
  run mno-disconnect --target "$c" --tenant nobody
  [ "$status" -eq 2 ]
  [ "$output" = "mno-disconnect: error: tenant 'nobody' not found in public.organizations or public.users" ]
  [ "$(q "$c" "SELECT md5(string_agg(o::text, '' ORDER BY id)) FROM public.organizations o")" = "$snap" ]
  [ -z "$(ls *.mnoa 2>/dev/null)" ]
}

@test "disconnect: usage errors and --help" {
  run mno-disconnect --tenant acme
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "mno-disconnect: error: no target: give --target URI (or set MNO_TARGET)" ]
  run mno-disconnect --target "$CONN"
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "mno-disconnect: error: no tenant: give --tenant NAME" ]
  run mno-disconnect --target "$CONN" --undo x --tenant acme
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "mno-disconnect: error: --undo FILE goes with --target only" ]
  run mno-disconnect --help
  [ "$status" -eq 0 ]
  [[ "$output" == *"--undo FILE"* ]]
  # an archive that is not an undo archive, one of another tool
  mno-dump --source "$CONN" --tenant acme --quiet -o a.mnoa
  run mno-disconnect --target "$CONN" --undo a.mnoa
  [ "$status" -eq 2 ]
  [ "$output" = "mno-disconnect: error: a.mnoa:1: not an undo archive (its header has no \"undo\" object)" ]
}

@test "disconnect: no credential in any output or in the undo archive" {
  c=$(fresh_conn)
  db=${c##*/}
  secret="postgresql://mno_secret:$MNO_TEST_PG_PASSWORD@127.0.0.1:$MNO_TEST_PGPORT/$db"
  run mno-disconnect --target "$secret" --tenant acme --plan --json
  [ "$status" -eq 0 ]
  [[ "$output" != *"$MNO_TEST_PG_PASSWORD"* ]]
  run mno-disconnect --target "$secret" --tenant acme --undo-file u.mnoa
  [ "$status" -eq 0 ]
  [[ "$output" != *"$MNO_TEST_PG_PASSWORD"* ]]
  ! grep -q "$MNO_TEST_PG_PASSWORD" u.mnoa
  run mno-disconnect --target "postgresql://mno_secret:wrong-$MNO_TEST_PG_PASSWORD@127.0.0.1:$MNO_TEST_PGPORT/$db" --tenant acme
  [ "$status" -eq 2 ]
  [[ "$output" != *"$MNO_TEST_PG_PASSWORD"* ]]
  run mno-disconnect --target "$secret" --undo u.mnoa
  [ "$status" -eq 0 ]
  [[ "$output" != *"$MNO_TEST_PG_PASSWORD"* ]]
}
