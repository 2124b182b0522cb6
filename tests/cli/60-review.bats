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
