#!/usr/bin/env bats
# 60-review.bats: the tools as a platform engineer first meets them: options missing their value, unknown sections, credentials in every URI form, wrong database names, servers that go away mid-run.
# Fixtures come from tests/fixtures/load (MnoHub and Connec!, 2 tenants); expected values are read
# back from the databases with psql or written out here.

setup_file() {
  export MNO_TOP=${MNO_TOP:-$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}
  export PATH="$MNO_BIN:$PATH"
  . "$MNO_TOP/tests/lib/env.sh"
  export RHUB; RHUB=$(pg_newdb review_hub)
  export RCONNEC; RCONNEC=$(mongo_newdb review_connec)
  "$MNO_TOP/tests/fixtures/load" mnohub "$RHUB" --tenants 2 >/dev/null
  "$MNO_TOP/tests/fixtures/load" connec "$RCONNEC" --tenants 2 >/dev/null
  export RARCH=$BATS_FILE_TMPDIR/hub.mnoa
  mno-dump --quiet --source "$RHUB" --tenant acme -o "$RARCH"
}

setup() {
  . "$MNO_TOP/tests/lib/env.sh"
  mno_shm_sweep
  cd "$BATS_TEST_TMPDIR"
}

@test "review: an option missing its value says so, in every tool (exit 2)" {
  run mno-restore --target
  [ "$status" -eq 2 ]
  [ "$output" = "mno-restore: error: option '--target' needs a value
try 'mno-restore --help'" ]
  run mno-restore -j
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "mno-restore: error: option '-j' needs a value" ]
  run mno-cat --seal "$RARCH" -o
  [ "$status" -eq 2 ]
  [ "$output" = "mno-cat: error: option '-o' needs a value
try 'mno-cat --help'" ]
  run mno-cat --records --ns
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "mno-cat: error: option '--ns' needs a value" ]
}

@test "review: mno-restore refuses --progress with --quiet, as mno-dump does, before touching the target" {
  t=$(pg_newdb review_pq)
  run mno-restore --target "$t" --create --progress --quiet "$RARCH"
  [ "$status" -eq 2 ]
  [ "$output" = "mno-restore: error: give at most one of --progress and --quiet
try 'mno-restore --help'" ]
  [ "$(psql -X -At -d "$t" -c "SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')")" = 0 ]
}

@test "review: mno-cat --records --ns with a section the archive lacks is an error, not an empty success" {
  run mno-cat --records --ns public.nosuch "$RARCH"
  [ "$status" -eq 2 ]
  [ "$output" = "mno-cat: error: $RARCH: no section 'public.nosuch' in the archive (mno-cat --list names them)" ]
  # a section that is there still prints exactly its records
  run mno-cat --records --ns public.tenants "$RARCH"
  [ "$status" -eq 0 ]
  [ "${#lines[@]}" -eq 1 ]
  [[ "${lines[0]}" == '{"t":"rec","ns":"public.tenants",'* ]]
}

@test "review: a keyword conninfo with white space around '=' never shows its password" {
  pw=$MNO_TEST_PG_PASSWORD
  run mno-dump --source "host=$MNO_TEST_PGHOST port=$MNO_TEST_PGPORT password = $pw dbname=review_nodb user=mno_secret" --tenant acme -o x.mnoa
  [ "$status" -eq 2 ]
  [ "$output" = "mno-dump: error: cannot connect to postgresql at 'host=$MNO_TEST_PGHOST port=$MNO_TEST_PGPORT dbname=review_nodb user=mno_secret': connection to server at \"$MNO_TEST_PGHOST\", port $MNO_TEST_PGPORT failed: FATAL:  database \"review_nodb\" does not exist" ]
  [[ "$output" != *"$pw"* ]]
  run mno-restore --target "host=$MNO_TEST_PGHOST	password=	'$pw'	port=$MNO_TEST_PGPORT dbname=review_nodb user=mno_secret" "$RARCH"
  [ "$status" -eq 2 ]
  [[ "$output" == "mno-restore: error: cannot connect to postgresql at 'host=$MNO_TEST_PGHOST port=$MNO_TEST_PGPORT dbname=review_nodb user=mno_secret': "* ]]
  [[ "$output" != *"$pw"* ]]
  [ -z "$(ls x.mnoa* 2>/dev/null)" ]
}

@test "review: a mongodb database with no collections (a misspelt name) is an error, not an empty archive" {
  run mno-dump --source "${RCONNEC}_typo" --tenant acme --orgs-from "$RARCH" -o c.mnoa
  [ "$status" -eq 2 ]
  db=$(basename "${RCONNEC}")_typo
  [ "$output" = "mno-dump: error: database '$db' at '${RCONNEC}_typo' has no collections (a wrong database name?)" ]
  [ ! -e c.mnoa ] && [ ! -e c.mnoa.partial ]
  run mno-dump --source "${RCONNEC}_typo" --all --plan
  [ "$status" -eq 2 ]
  [ "$output" = "mno-dump: error: database '$db' at '${RCONNEC}_typo' has no collections (a wrong database name?)" ]
  # the right name dumps the tenant's documents
  mno-dump --quiet --source "$RCONNEC" --tenant acme --orgs-from "$RARCH" -o c.mnoa
  [ "$(mno-cat --list c.mnoa | awk -F'\t' '{n += $2} END {print n}')" -gt 0 ]
}

@test "review: an unreachable mongodb names the server, not a section, and never the password" {
  run mno-dump --source "mongodb://mno:Hunter2-pw@127.0.0.1:1/review_connec?serverSelectionTimeoutMS=300" --tenant acme --orgs-from "$RARCH" -o c.mnoa
  [ "$status" -eq 2 ]
  [[ "$output" == "mno-dump: error: cannot connect to mongodb at 'mongodb://mno@127.0.0.1:1/review_connec?serverSelectionTimeoutMS=300': "* ]]
  [[ "$output" != *Hunter2-pw* ]]
  [ ! -e c.mnoa ]
}

@test "review: all four tools print errors as 'mno-TOOL: error: ...' (usage and runtime), exit 2" {
  for t in mno-dump mno-cat mno-restore mno-verify; do
    run "$t" --bogus
    [ "$status" -eq 2 ]
    [ "$output" = "$t: error: unknown option '--bogus'
try '$t --help'" ]
  done
  run mno-cat --check nothere.mnoa
  [ "$status" -eq 2 ]
  [ "$output" = "mno-cat: error: nothere.mnoa: cannot open: No such file or directory" ]
  run mno-verify --archive nothere.mnoa --target "$RHUB"
  [ "$status" -eq 2 ]
  [ "$output" = "mno-verify: error: nothere.mnoa: cannot open: No such file or directory" ]
  run mno-restore --target "$RHUB" nothere.mnoa
  [ "$status" -eq 2 ]
  [ "$output" = "mno-restore: error: nothere.mnoa: cannot open: No such file or directory" ]
}

@test "review: an archive cut mid-line says truncated, naming the line and section, in every reader" {
  head -c 3000 "$RARCH" >cut.mnoa
  n=$(wc -l <cut.mnoa); n=$((n + 1))
  want="cut.mnoa:$n: section public.apps: truncated archive: the last line is cut short (no newline at its end): invalid JSON at column "
  run mno-cat --check cut.mnoa
  [ "$status" -eq 2 ]
  [[ "$output" == "mno-cat: error: $want"* ]]
  t=$(pg_newdb review_cut)
  run mno-restore --target "$t" --create cut.mnoa
  [ "$status" -eq 2 ]
  [[ "${lines[0]}" == "mno-restore: error: $want"* ]]
  [ "$(psql -X -At -d "$t" -c "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")" = 0 ]
  run mno-verify --archive cut.mnoa --target "$RHUB"
  [ "$status" -eq 2 ]
  [[ "$output" == "mno-verify: error: $want"* ]]
  # a complete archive whose last line lacks its newline is still whole
  head -c -1 "$RARCH" >nonl.mnoa
  run mno-cat --check nonl.mnoa
  [ "$status" -eq 0 ]
  # data after the trailer stays what it is
  { cat "$RARCH"; printf '{"t":"x"'; } >after.mnoa
  run mno-cat --check after.mnoa
  [ "$status" -eq 2 ]
  [ "$output" = "mno-cat: error: after.mnoa:$(( $(wc -l <"$RARCH") + 1 )): data after the trailer" ]
}

@test "review: mno-verify takes the target from MNO_TARGET (no password on the command line), and never prints it" {
  t=$(pg_newdb review_vt)
  mno-restore --quiet --target "$t" --create "$RARCH"
  pw=$MNO_TEST_PG_PASSWORD
  secret=${MNO_TEST_PG_SECRET_URI%/*}/review_vt
  MNO_TARGET=$secret run mno-verify --archive "$RARCH"
  [ "$status" -eq 0 ]
  [ "${lines[1]}" = "target   postgresql://mno_secret@$MNO_TEST_PGHOST:$MNO_TEST_PGPORT/review_vt" ]
  [ "${lines[-1]}" = "verdict: ok: $(mno-cat --list "$RARCH" | wc -l) of $(mno-cat --list "$RARCH" | wc -l) tables match, $(mno-cat --list "$RARCH" | awk -F'\t' '{n += $2} END {print n}') records" ]
  [[ "$output" != *"$pw"* ]]
  MNO_TARGET=$secret run mno-verify --archive "$RARCH" --json
  [ "$status" -eq 0 ]
  [ "$(jq -r .target.uri <<<"$output")" = "postgresql://mno_secret@$MNO_TEST_PGHOST:$MNO_TEST_PGPORT/review_vt" ]
  [[ "$output" != *"$pw"* ]]
  # MNO_SOURCE is not taken when an archive is given
  MNO_SOURCE=$RHUB MNO_TARGET=$t run mno-verify --archive "$RARCH" -o report.txt
  [ "$status" -eq 0 ]
  [ "$(tail -1 report.txt | cut -d: -f1-2)" = "verdict: ok" ]
  MNO_TARGET= run mno-verify --archive "$RARCH"
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "mno-verify: error: no target: give --target URI (or set MNO_TARGET)" ]
  run mno-verify "$RARCH" --target "$t"
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "mno-verify: error: unexpected argument '$RARCH' (options only; the archive goes with --archive)" ]
}

# kill_backends DB: the server drops every session on DB (as a restart or a failover does).
kill_backends() {
  psql -X -q -d "$MNO_TEST_PG_URI" -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '$1' AND pid <> pg_backend_pid()" >/dev/null
}

# wait_for CMD...: polls CMD until it succeeds (no time limit of its own: bats' timeout rules).
wait_for() { until "$@"; do sleep 0.1; done; }

@test "review: the server going away mid-restore: exit 2 naming line and section, that section not written, --resume finishes" {
  t=$(pg_newdb review_rgone)
  first=$(grep -n '"t":"begin","ns":"public.audit_events"' "$RARCH" | cut -d: -f1)
  mkfifo feed
  mno-restore --target "$t" --create feed >out 2>err &
  pid=$!
  exec 7>feed
  head -n $((first + 50)) "$RARCH" >&7
  # every section before audit_events is committed: the restore is inside audit_events
  wait_for test "$(psql -X -At -d "$t" -c "SELECT count(*) FROM mno_migrate.journal" 2>/dev/null)" = $(($(head -n "$first" "$RARCH" | grep -c '"t":"end"')))
  kill_backends review_rgone
  tail -n +$((first + 51)) "$RARCH" >&7 || true  # the tool may stop reading at the error
  exec 7>&-
  status=0; wait "$pid" || status=$?
  [ "$status" -eq 2 ]
  run cat err
  [[ "${lines[0]}" =~ ^"mno-restore: error: feed:"[0-9]+": section public.audit_events: " ]]
  [[ "$output" == *"terminating connection due to administrator command"* ]]
  [[ "$output" != *"record rejected"* ]]
  [[ "$output" == *"mno-restore: section public.audit_events rolled back: nothing of it was written; "* ]]
  # created by --create in the section's transaction: rolled back with it
  [ "$(psql -X -At -d "$t" -c "SELECT to_regclass('public.audit_events') IS NULL")" = t ]
  [ "$(psql -X -At -d "$t" -c "SELECT count(*) FROM public.tenants")" = 1 ]
  run mno-restore --target "$t" --create --resume "$RARCH"
  [ "$status" -eq 0 ]
  run mno-verify --archive "$RARCH" --target "$t"
  [ "$status" -eq 0 ]
}

@test "review: the server going away mid-verify: exit 2 naming line and section, no report" {
  t=$(pg_newdb review_vgone)
  mno-restore --quiet --target "$t" --create "$RARCH"
  first=$(grep -n '"t":"begin","ns":"public.audit_events"' "$RARCH" | cut -d: -f1)
  mkfifo feed
  mno-verify --archive feed --target "$t" -o report >out 2>err &
  pid=$!
  exec 7>feed
  head -n $((first + 50)) "$RARCH" >&7
  wait_for test "$(psql -X -At -d "$MNO_TEST_PG_URI" -c "SELECT count(*) FROM pg_stat_activity WHERE datname = 'review_vgone' AND application_name = 'mno-migrate'")" -gt 0
  kill_backends review_vgone
  tail -n +$((first + 51)) "$RARCH" >&7 || true  # the tool may stop reading at the error
  exec 7>&-
  status=0; wait "$pid" || status=$?
  [ "$status" -eq 2 ]
  run cat err
  [ "${#lines[@]}" -eq 1 ]
  [[ "$output" =~ ^"mno-verify: error: feed:"[0-9]+": section public."[a-z_]+": ".*"terminating connection due to administrator command" ]]
  [ ! -e report ]
}

@test "review: the server going away mid-dump: exit 2 naming the section; the cut stream is refused as truncated" {
  mkfifo pipe
  mno-dump --source "$RHUB" --tenant acme >pipe 2>err &
  pid=$!
  exec 4<pipe
  head -c 100000 <&4 >part1
  kill_backends review_hub
  cat <&4 >part2
  exec 4<&-
  status=0; wait "$pid" || status=$?
  [ "$status" -eq 2 ]
  run cat err
  [[ "${lines[0]}" =~ ^"mno-dump: error: section public."[a-z_]+": " ]]
  cat part1 part2 >cut.mnoa
  run mno-cat --check cut.mnoa
  [ "$status" -eq 2 ]
  [[ "$output" == *"truncated archive: "* ]]
}

@test "review: a mistyped scheme, a JDBC URL, a base64 password with '/', a misspelt keyword: the password never shows" {
  p=Zq9-secret
  run mno-restore --target "postgressql://mno:$p@127.0.0.1:1/hub" "$RARCH"
  [ "$status" -eq 2 ]
  [ "$output" = "mno-restore: error: cannot connect to postgresql at 'postgressql://mno@127.0.0.1:1/hub': missing \"=\" after \"postgressql://mno@127.0.0.1:1/hub\" in connection info string" ]
  run mno-verify --archive "$RARCH" --target "jdbc:postgresql://mno:$p@127.0.0.1:1/hub"
  [ "$status" -eq 2 ]
  [ "$output" = "mno-verify: error: cannot connect to postgresql at 'jdbc:postgresql://mno@127.0.0.1:1/hub': missing \"=\" after \"jdbc:postgresql://mno@127.0.0.1:1/hub\" in connection info string" ]
  run mno-dump --source "postgresql://mno:ab/$p+==@127.0.0.1:1/hub" --tenant acme
  [ "$status" -eq 2 ]
  [ "$output" = "mno-dump: error: cannot connect to postgresql at 'postgresql://mno@127.0.0.1:1/hub': invalid integer value \"***\" for connection option \"port\"" ]
  run mno-restore --target "host=127.0.0.1 port=1 passwrd=$p" "$RARCH"
  [ "$status" -eq 2 ]
  [ "$output" = "mno-restore: error: cannot connect to postgresql at 'host=127.0.0.1 port=1': invalid connection option \"passwrd\"" ]
  run mno-dump --source "mongodb://mno:ab/$p@127.0.0.1:1/connec" --tenant acme --orgs-from "$RARCH"
  [ "$status" -eq 2 ]
  [ "$output" = "mno-dump: error: invalid mongodb uri 'mongodb://mno@127.0.0.1:1/connec': Invalid host string in URI" ]
  [[ "$output" != *"$p"* ]]
}

@test "review: mno-dump | mno-restore - twice (a new archive each time) never duplicates: refused (pg) or a no-op (mongo)" {
  t=$(pg_newdb review_pipe)
  run bash -c "mno-dump --source '$RHUB' --tenant acme | mno-restore --quiet --target '$t' --create -"
  [ "$status" -eq 0 ]
  before=$(psql -X -At -d "$t" -c "SELECT (SELECT count(*) FROM public.users) || '/' || (SELECT count(*) FROM public.audit_events)")
  run bash -c "set -o pipefail; mno-dump --source '$RHUB' --tenant acme | mno-restore --quiet --target '$t' --create -"
  [ "$status" -eq 2 ]
  [[ "${lines[0]}" =~ ^"mno-restore: error: <stdin>:"[0-9]+": section public.apps: refused: "[0-9]+" keys of the archive are already in the target table: id=1, " ]]
  [ "$(psql -X -At -d "$t" -c "SELECT (SELECT count(*) FROM public.users) || '/' || (SELECT count(*) FROM public.audit_events)")" = "$before" ]
  run mno-verify --archive "$RARCH" --target "$t"
  [ "$status" -eq 0 ]
  m=$(mongo_newdb review_pipe_m)
  run bash -c "mno-dump --source '$RCONNEC' --tenant acme --orgs-from '$RARCH' | mno-restore --quiet --target '$m' --create -"
  [ "$status" -eq 0 ]
  mno-dump --quiet --source "$RCONNEC" --tenant acme --orgs-from "$RARCH" -o c.mnoa
  run mno-restore --quiet --target "$m" c.mnoa
  [ "$status" -eq 0 ]
  run mno-verify --archive c.mnoa --target "$m" --json
  [ "$status" -eq 0 ]
  [ "$(jq -r '.totals.actual_count == .totals.expected_count and .verdict == "ok"' <<<"$output")" = true ]
}

@test "review: libpq's multi-line messages come as one line after 'mno-TOOL: error:'" {
  run mno-restore --target "postgresql://mno@127.0.0.1:1/hub" "$RARCH"
  [ "$status" -eq 2 ]
  [ "$output" = "mno-restore: error: cannot connect to postgresql at 'postgresql://mno@127.0.0.1:1/hub': connection to server at \"127.0.0.1\", port 1 failed: Connection refused; Is the server running on that host and accepting TCP/IP connections?" ]
}

@test "review: a malformed or out-of-range number is refused by name, in every tool (exit 2)" {
  for v in 0 65 2x "" -1; do
    run mno-restore -j "$v" --target "$RHUB" "$RARCH"
    [ "$status" -eq 2 ]
    [ "${lines[0]}" = "mno-restore: error: -j: expected a number from 1 to 64" ]
  done
  for v in 0 1000001 ten; do
    run mno-verify --archive "$RARCH" --target "$RHUB" --max "$v"
    [ "$status" -eq 2 ]
    [ "${lines[0]}" = "mno-verify: error: --max: expected a number from 1 to 1000000" ]
  done
  run mno-dump --source "$RHUB" --tenant acme -j 65
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "mno-dump: error: -j: expected a number of jobs from 1 to 64" ]
  run mno-dump --source "$RHUB" --tenant acme --level 23 -o x.mnoa
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "mno-dump: error: --level: expected a zstd level up to 22" ]
  [ ! -e x.mnoa ]
  run mno-cat --seal --threads 201 "$RARCH"
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "mno-cat: error: --threads: expected a number from 0 to 200" ]
  run mno-cat --max-line 0 --check "$RARCH"
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "mno-cat: error: --max-line: expected a positive number of bytes" ]
  # a good number passes the option check: -j 1 gets as far as the target (the dry run finds
  # the archive's own keys there and refuses)
  run mno-restore -j 1 --dry-run --target "$RHUB" "$RARCH"
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "dry run: nothing written to ${RHUB}" ]
  [[ "${lines[-1]}" == *"section public.apps: 12 keys of the archive are already in the target table: id=1,"* ]]
}
