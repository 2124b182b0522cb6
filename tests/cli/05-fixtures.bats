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
