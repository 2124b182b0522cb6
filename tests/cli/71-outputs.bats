#!/usr/bin/env bats
# 71-outputs.bats: every file a tool writes (mno-dump -o, mno-cat --seal -o, mno-verify -o)
# goes through lib/util/outfile.c: a private 0600 temporary file beside it, renamed over it only
# when complete. Planted links are never followed, a link named by -o is replaced (never
# written through), a failed run leaves an existing file as it was and no temporary file.

bats_require_minimum_version 1.5.0

setup_file() {
  export MNO_TOP=${MNO_TOP:-$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}
  export PATH="$MNO_BIN:$PATH"
  . "$MNO_TOP/tests/lib/env.sh"
  export SRC BROKEN
  SRC=$(pg_newdb outputs_src)
  psql -X -q -v ON_ERROR_STOP=1 -d "$SRC" <<'SQL'
CREATE TABLE public.tenants (id bigint PRIMARY KEY, name text);
CREATE TABLE public.notes (id bigint PRIMARY KEY, tenant_id bigint, body text);
INSERT INTO public.tenants VALUES (1, 'acme'), (2, 'other');
INSERT INTO public.notes SELECT g, 1 + g % 2, 'note ' || g FROM generate_series(1, 50) g;
SQL
  # a source whose second section fails mid-dump (the output file is open by then)
  BROKEN=$(pg_newdb outputs_broken)
  psql -X -q -v ON_ERROR_STOP=1 -d "$BROKEN" <<'SQL'
CREATE TABLE public.tenants (id bigint PRIMARY KEY, name text);
CREATE TABLE public.notes (id bigint PRIMARY KEY, body text, refs text);
INSERT INTO public.tenants VALUES (1, 'acme');
INSERT INTO public.notes VALUES (1, 'fine', '["acme"]'), (2, 'broken', '{not json');
SQL
  printf 'tenants: root name\nnotes: parent tenant_id -> tenants.id\n' >"$BATS_FILE_TMPDIR/src.scope"
  printf 'tenants: root name\nnotes: uids json refs -> tenants.name\n' >"$BATS_FILE_TMPDIR/broken.scope"
  # every row: an archive mno-verify finds equal to the source
  mno-dump --source "$SRC" --all --scope "$BATS_FILE_TMPDIR/src.scope" --quiet -o "$BATS_FILE_TMPDIR/all.mnoa"
}

setup() {
  . "$MNO_TOP/tests/lib/env.sh"
  mkdir -p "$BATS_TEST_TMPDIR/w" && cd "$BATS_TEST_TMPDIR/w"   # bats keeps files of its own in BATS_TEST_TMPDIR
  A=$BATS_FILE_TMPDIR/all.mnoa
}

dump() { mno-dump --source "$SRC" --all --scope "$BATS_FILE_TMPDIR/src.scope" --quiet "$@"; }
verify() { mno-verify --archive "$A" --target "$SRC" "$@"; }

# victim: a file of someone else's, 0644, that no run may write or chmod
victim() { echo "victim data" >victim; chmod 644 victim; }
victim_intact() { [ "$(cat victim)" = "victim data" ] && [ "$(stat -c %a victim)" = 644 ]; }
# the directory holds exactly these names
only() { [ "$(ls -A | sort | tr '\n' ' ')" = "$(printf '%s\n' "$@" | sort | tr '\n' ' ')" ]; }

@test "outputs: a link planted at FILE.partial is left alone: its target is neither written nor chmod'ed" {
  victim
  ln -s victim p.mnoa.partial
  dump -o p.mnoa
  victim_intact
  [ -L p.mnoa.partial ] && [ "$(readlink p.mnoa.partial)" = victim ]
  [ -f p.mnoa ] && [ "$(stat -c %a p.mnoa)" = 600 ]
  cmp <(sed "1d;\$d" p.mnoa) <(sed "1d;\$d" "$A")   # the header (id) and the trailer (header_sha256) differ
  ln -s victim s.mnoa.partial
  mno-cat --seal -o s.mnoa "$A"
  victim_intact
  [ -L s.mnoa.partial ]
  [ "$(stat -c %a s.mnoa)" = 600 ]
  ln -s victim r.txt.partial
  verify -o r.txt
  victim_intact
  [ -L r.txt.partial ]
  grep -q "^target   " r.txt
  only victim p.mnoa p.mnoa.partial s.mnoa s.mnoa.partial r.txt r.txt.partial
}

@test "outputs: -o naming a symbolic link replaces the link with a new 0600 file; its target is unchanged" {
  victim
  ln -s victim p.mnoa
  dump -o p.mnoa
  victim_intact
  [ ! -L p.mnoa ] && [ "$(stat -c %a p.mnoa)" = 600 ]
  cmp <(sed "1d;\$d" p.mnoa) <(sed "1d;\$d" "$A")
  ln -s victim s.mnoa.zst
  mno-cat --seal -o s.mnoa.zst "$A"
  victim_intact
  [ ! -L s.mnoa.zst ] && [ "$(stat -c %a s.mnoa.zst)" = 600 ]
  mno-cat --check s.mnoa.zst
  ln -s victim r.txt
  verify -o r.txt
  victim_intact
  [ ! -L r.txt ] && [ "$(stat -c %a r.txt)" = 600 ]
  grep -q "^target   " r.txt
  # a link into another directory: the new file is made beside the link, not there
  mkdir elsewhere
  ln -s elsewhere/x.mnoa q.mnoa
  dump -o q.mnoa
  [ ! -L q.mnoa ] && [ -z "$(ls -A elsewhere)" ]
  only victim p.mnoa s.mnoa.zst r.txt elsewhere q.mnoa
}

@test "outputs: under umask 000 every output file is 0600" {
  umask 000
  dump -o p.mnoa
  dump -z -o p.mnoa.zst
  mno-cat --seal -o s.mnoa "$A"
  verify -o r.txt
  verify --json -o r.json
  for f in p.mnoa p.mnoa.zst s.mnoa r.txt r.json; do
    [ "$(stat -c %a "$f")" = 600 ]
  done
  # replacing an existing 0666 file gives 0600 too
  chmod 666 p.mnoa
  dump -o p.mnoa
  [ "$(stat -c %a p.mnoa)" = 600 ]
  only p.mnoa p.mnoa.zst s.mnoa r.txt r.json
}

@test "outputs: a failed dump leaves an existing output as it was (content, mode) and no temporary file" {
  echo "old archive" >p.mnoa
  chmod 640 p.mnoa
  # the tenant does not exist
  run --separate-stderr mno-dump --source "$SRC" --tenant nosuch --scope "$BATS_FILE_TMPDIR/src.scope" --quiet -o p.mnoa
  [ "$status" -eq 2 ]
  [[ "$stderr" == "mno-dump: error: "*"nosuch"* ]]
  # the server is gone (nothing listens there)
  run --separate-stderr mno-dump --source "postgresql://127.0.0.1:1/x?connect_timeout=5" --tenant acme \
    --scope "$BATS_FILE_TMPDIR/src.scope" --quiet -o p.mnoa
  [ "$status" -eq 2 ]
  [[ "$stderr" == "mno-dump: error: cannot connect to postgresql at "* ]]
  # a query that fails mid-dump, after the output was opened, plain and zstd
  for o in p.mnoa p.mnoa.zst; do
    [ -e "$o" ] || cp -p p.mnoa "$o"
    run --separate-stderr mno-dump --source "$BROKEN" --tenant acme --scope "$BATS_FILE_TMPDIR/broken.scope" --quiet -o "$o"
    [ "$status" -eq 2 ]
    [[ "$stderr" == "mno-dump: error: "*"invalid input syntax for type json"* ]]
    [ "$(cat "$o")" = "old archive" ] && [ "$(stat -c %a "$o")" = 640 ]
  done
  # -o a link to a file: the failed dump leaves the link and its target as they were
  victim
  ln -s victim l.mnoa
  run --separate-stderr mno-dump --source "$BROKEN" --tenant acme --scope "$BATS_FILE_TMPDIR/broken.scope" --quiet -o l.mnoa
  [ "$status" -eq 2 ]
  [ -L l.mnoa ]
  victim_intact
  only p.mnoa p.mnoa.zst victim l.mnoa
}

@test "outputs: a failed --seal leaves an existing output as it was and no temporary file" {
  echo "old archive" >s.mnoa
  head -n 3 "$A" >cut.mnoa
  run --separate-stderr mno-cat --seal -o s.mnoa cut.mnoa
  [ "$status" -eq 2 ]
  [[ "$stderr" == *"truncated archive: no trailer" ]]
  [ "$(cat s.mnoa)" = "old archive" ]
  only s.mnoa cut.mnoa
}

@test "outputs: a signal during --seal removes the temporary file and leaves FILE as it was" {
  echo "old archive" >s.mnoa
  mkfifo in
  mno-cat --seal -o s.mnoa in &
  pid=$!
  exec 5>in
  head -n 3 "$A" >&5
  # the temporary file exists once mno-cat is reading its input
  for i in $(seq 1 1200); do
    [ -n "$(ls s.mnoa.*.partial 2>/dev/null)" ] && break
    sleep 0.05
  done
  [ -n "$(ls s.mnoa.*.partial 2>/dev/null)" ]
  kill -TERM $pid
  st=0
  wait $pid || st=$?
  exec 5>&-
  [ "$st" -eq 143 ]
  [ "$(cat s.mnoa)" = "old archive" ]
  only s.mnoa in
}

@test "outputs: mno-verify -o on a full device or past the file size limit: exit 2, the file and the reason named, the old report kept" {
  run --separate-stderr verify -o /dev/full
  [ "$status" -eq 2 ]
  [ "$stderr" = "mno-verify: error: cannot write the report: /dev/full: write error: No space left on device" ]
  echo "old report" >r.txt
  chmod 644 r.txt
  # RLIMIT_FSIZE 0: every write to a regular file fails with EFBIG, as on a full disk
  # (stderr through a pipe: the limit would stop the message too if it went to a file;
  # MONGOC_DISABLE_SHM: libmongoc's counters file in /dev/shm would meet the limit as well)
  MONGOC_DISABLE_SHM=1 run bash -c 'trap "" XFSZ; { ulimit -f 0; "$0" --archive "$1" --target "$2" -o r.txt; } 2>&1 | cat; exit ${PIPESTATUS[0]}' \
    "$(command -v mno-verify)" "$A" "$SRC"
  [ "$status" -eq 2 ]
  [ "$output" = "mno-verify: error: cannot write the report: r.txt: write error: File too large" ]
  [ "$(cat r.txt)" = "old report" ] && [ "$(stat -c %a r.txt)" = 644 ]
  run --separate-stderr verify -o nosuchdir/r.txt
  [ "$status" -eq 2 ]
  [ "$stderr" = "mno-verify: error: cannot write the report: nosuchdir/r.txt: cannot open its directory 'nosuchdir': No such file or directory" ]
  only r.txt
  # and the report, when written, is the one stdout gets
  verify -o r.txt
  verify >stdout.txt
  cmp r.txt stdout.txt
}
