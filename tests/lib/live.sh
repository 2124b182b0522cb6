# live.sh: helpers of the live-environment tool suites (tests/cli/75-live-*.bats).
#   sums URI TENANT OUT     mno-cat --list of a fresh mno-dump of TENANT (ns, count, sum, ok)
#   lock_hold URI SQL       runs SQL (BEGIN; LOCK ...) in a psql session kept open in the
#                           background (fd 7); returns once it waits inside its transaction
#   lock_release            ends that session (ROLLBACK) and waits for it to be gone
#   wait_for COND...        evaluates COND until it holds (at most ~60 s), then once more
#                           so that the caller's assertion sees the final state
#   backend_waiting PATTERN 1 when a backend whose query matches PATTERN waits on a lock
#   backend_gone PATTERN    1 when no backend runs a query matching PATTERN

sums() {
  mno-dump --source "$1" --tenant "$2" --quiet -o "$3.mnoa" && mno-cat --list "$3.mnoa" >"$3"
}

lock_hold() {
  local fifo=$BATS_TEST_TMPDIR/lock.fifo
  rm -f "$fifo"; mkfifo "$fifo"
  PGAPPNAME=mno-test-lock psql -X -q -d "$1" <"$fifo" >/dev/null 2>&1 &
  exec 7>"$fifo"
  printf '%s\n' "$2" >&7
  # the statements have run when the session waits for more, inside its transaction
  wait_for '[ "$(psql -X -At -d "$MNO_TEST_PG_URI" -c "SELECT count(*) FROM pg_stat_activity WHERE application_name = '"'mno-test-lock'"' AND state = '"'idle in transaction'"'")" = 1 ]'
}

lock_release() {
  printf 'ROLLBACK;\n\\q\n' >&7 2>/dev/null || true
  exec 7>&- 2>/dev/null || true
  wait_for '[ "$(psql -X -At -d "$MNO_TEST_PG_URI" -c "SELECT count(*) FROM pg_stat_activity WHERE application_name = '"'mno-test-lock'"'")" = 0 ]'
}

wait_for() {
  local i
  for i in $(seq 1 600); do
    eval "$1" && return 0
    sleep 0.1
  done
  eval "$1"
}

backend_waiting() {
  [ "$(psql -X -At -d "$MNO_TEST_PG_URI" -v p="$1" <<<"SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE :'p'")" != 0 ]
}

backend_gone() {
  [ "$(psql -X -At -d "$MNO_TEST_PG_URI" -v p="$1" <<<"SELECT count(*) FROM pg_stat_activity WHERE query LIKE :'p' AND pid <> pg_backend_pid()")" = 0 ]
}
