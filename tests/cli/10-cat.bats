#!/usr/bin/env bats
# 10-cat.bats: mno-cat lists, prints, checks and seals archives written by hand to docs/format.md.
# The archives in 10-cat/ (hub.mnoa: PostgreSQL, connec.mnoa: MongoDB) were written by hand,
# their sums computed with md5sum/python and PostgreSQL's md5(ROW(...)::text), not by mno-cat;
# compressed copies are made with the zstd CLI. Each corruption is one edit of hub.mnoa; the
# expected outputs and messages are the sibling files 10-cat/NAME.*.

bats_require_minimum_version 1.5.0

setup() {
  export PATH="$MNO_BIN:$PATH"
  D=$BATS_TEST_DIRNAME/10-cat
  cd "$BATS_TEST_TMPDIR"
  cp "$D/hub.mnoa" "$D/connec.mnoa" .
}

# same FILE: $output equals the expected-output file 10-cat/FILE (diff shown on failure).
same() {
  diff -u "$D/$1" <(printf '%s\n' "$output")
}

# fails_with NAME: mno-cat --check on NAME exits 2, prints nothing on stdout and exactly
# 10-cat/NAME.err on stderr.
fails_with() {
  run --separate-stderr mno-cat --check "$1"
  [ "$status" -eq 2 ]
  [ -z "$output" ]
  diff -u "$D/$1.err" <(printf '%s\n' "$stderr")
}

# nodigest: stdin with the metadata digests of end lines and the trailer removed (sealing a
# hand-written version 1 archive adds them; the trailer's changes with the header's id).
nodigest() {
  sed -E 's/,"(begin|header)_sha256":"[0-9a-f]{64}"//'
}

V1NOTE="version 1: metadata (header and begin lines) not covered by a digest"

# zstd_frames FILE N: FILE compressed as two zstd frames, lines 1..N and the rest, to FILE.zst.
zstd_frames() {
  { head -n "$2" "$1" | zstd -q -c; tail -n +"$(($2 + 1))" "$1" | zstd -q -c; } >"$1.zst"
}

@test "cat: the hand-written archives hold: --check prints the totals, exit 0" {
  run --separate-stderr mno-cat --check hub.mnoa
  [ "$status" -eq 0 ]
  [ -z "$stderr" ]
  same hub.check
  run mno-cat --check connec.mnoa
  [ "$status" -eq 0 ]
  same connec.check
}

@test "cat: --list prints ns, count, sum, ok per section" {
  run --separate-stderr mno-cat --list hub.mnoa
  [ "$status" -eq 0 ]
  [ "$stderr" = "mno-cat: note: hub.mnoa: $V1NOTE" ]
  same hub.list
}

@test "cat: --records prints the record lines as they are; --ns selects one section" {
  run mno-cat --records hub.mnoa
  [ "$status" -eq 0 ]
  same hub.records
  run mno-cat --records --ns public.users hub.mnoa
  [ "$status" -eq 0 ]
  same hub.records-users
  run mno-cat --records --ns public.nothing hub.mnoa
  [ "$status" -eq 2 ]
  [ "$output" = "mno-cat: error: hub.mnoa: no section 'public.nothing' in the archive (mno-cat --list names them)" ]
}

@test "cat: no mode prints the archive; --header its first line" {
  run mno-cat hub.mnoa
  [ "$status" -eq 0 ]
  diff hub.mnoa <(printf '%s\n' "$output")
  run mno-cat --header connec.mnoa
  [ "$status" -eq 0 ]
  [ "$output" = "$(head -n 1 connec.mnoa)" ]
}

@test "cat: zstd archives (one frame or several, from the zstd CLI) read like plain ones; stdin too" {
  zstd -q hub.mnoa -o hub.mnoa.zst
  zstd_frames connec.mnoa 3
  run mno-cat --check hub.mnoa.zst
  [ "$status" -eq 0 ]
  same hub.check
  run --separate-stderr mno-cat --list hub.mnoa.zst
  same hub.list
  run mno-cat --records --ns public.users hub.mnoa.zst
  same hub.records-users
  run mno-cat --check connec.mnoa.zst
  [ "$status" -eq 0 ]
  same connec.check
  run mno-cat - <hub.mnoa.zst
  [ "$status" -eq 0 ]
  diff hub.mnoa <(printf '%s\n' "$output")
  run mno-cat --check - <connec.mnoa
  [ "$status" -eq 0 ]
  same connec.check
}

# ---- corruption: the exact message (10-cat/NAME.err) and exit 2 ----

@test "cat: a changed value without re-seal -> sum mismatch at the section's end line" {
  sed 's/"name":"Ann"/"name":"Anne"/' hub.mnoa >changed.mnoa
  fails_with changed.mnoa
  zstd -q changed.mnoa -o changed.mnoa.zst
  fails_with changed.mnoa.zst
}

@test "cat: --list shows the changed section BAD, lists on, exits 2 naming it" {
  sed 's/"name":"Ann"/"name":"Anne"/' hub.mnoa >changed.mnoa
  run --separate-stderr mno-cat --list changed.mnoa
  [ "$status" -eq 2 ]
  same changed.list
  [ "$stderr" = "mno-cat: note: changed.mnoa: $V1NOTE
mno-cat: error: changed.mnoa:10: section public.users: count or sum does not match the records" ]
}

@test "cat: a missing record -> count mismatch" {
  sed '8d' hub.mnoa >missing.mnoa
  fails_with missing.mnoa
}

@test "cat: an extra record -> count mismatch" {
  sed '4p' hub.mnoa >extra.mnoa
  fails_with extra.mnoa
}

@test "cat: a missing trailer -> truncated, also mid-section and empty" {
  sed '$d' hub.mnoa >notrailer.mnoa
  fails_with notrailer.mnoa
  head -n 8 hub.mnoa >cut.mnoa
  fails_with cut.mnoa
  : >empty.mnoa
  fails_with empty.mnoa
}

@test "cat: a truncated zstd frame -> premature end, at the line and section it cut" {
  zstd_frames hub.mnoa 7
  size=$(stat -c %s hub.mnoa.zst)
  head -c $((size - 40)) hub.mnoa.zst >cut.mnoa.zst
  fails_with cut.mnoa.zst
}

@test "cat: a corrupted zstd frame -> zstd catches it (content checksum, frame magic) before any JSON" {
  zstd_frames hub.mnoa 7
  first=$(head -n 7 hub.mnoa | zstd -q -c | wc -c)
  size=$(stat -c %s hub.mnoa.zst)
  # one byte of the second frame's content checksum (its last 4 bytes) flipped
  cp hub.mnoa.zst bad.mnoa.zst
  printf '\x00' | dd of=bad.mnoa.zst bs=1 seek=$((size - 1)) conv=notrunc status=none
  cmp -s hub.mnoa.zst bad.mnoa.zst && false
  fails_with bad.mnoa.zst
  # the second frame's magic number damaged
  cp hub.mnoa.zst magic.mnoa.zst
  printf '\x00' | dd of=magic.mnoa.zst bs=1 seek="$first" conv=notrunc status=none
  fails_with magic.mnoa.zst
}

@test "cat: invalid JSON -> the line, the column and jansson's reason" {
  sed '7s/}}$/}/' hub.mnoa >badjson.mnoa
  fails_with badjson.mnoa
}

@test "cat: an unknown version -> refused at line 1" {
  sed '1s/"version":1/"version":3/' hub.mnoa >v3.mnoa
  fails_with v3.mnoa
}

@test "cat: a record outside its section -> refused" {
  sed '5a {"t":"rec","ns":"public.orgs","v":{"id":"12","uid":"org-12","tags":null}}' hub.mnoa >outside.mnoa
  fails_with outside.mnoa
}

@test "cat: a section opened twice -> refused, naming the first begin" {
  sed '10r /dev/stdin' hub.mnoa >twice.mnoa <<'EOF'
{"t":"begin","ns":"public.orgs","columns":[{"name":"id","type":"bigint"}]}
EOF
  fails_with twice.mnoa
}

@test "cat: a trailer that does not add up; data after the trailer" {
  sed '$s/"count":5/"count":6/' hub.mnoa >trailer.mnoa
  fails_with trailer.mnoa
  { cat hub.mnoa; echo '{"t":"rec","ns":"public.orgs","v":{}}'; } >after.mnoa
  fails_with after.mnoa
}

@test "cat: a bad record names its key" {
  sed '8s/"name":""/"name":"","x":1/' hub.mnoa >unknowncol.mnoa
  fails_with unknowncol.mnoa
  sed 's/"n":{"$numberLong":"1"}/"_id":{"$oid":"5f1b2c3d4e5f60718293a4b6"},"n":{"$numberLong":"x"}/' connec.mnoa >badejson.mnoa
  fails_with badejson.mnoa
}

@test "cat: --check words the other corruptions as the reading modes do: bad UTF-8, a cut line, no end line, a trailer's sum; MongoDB too" {
  sed $'7s/"Ann"/"A\xffnn"/' hub.mnoa >badutf8.mnoa
  fails_with badutf8.mnoa
  zstd -q badutf8.mnoa -o badutf8.mnoa.zst
  fails_with badutf8.mnoa.zst
  { head -n 8 hub.mnoa; sed -n 9p hub.mnoa | head -c 40; } >cutline.mnoa
  fails_with cutline.mnoa
  zstd -q cutline.mnoa -o cutline.mnoa.zst
  fails_with cutline.mnoa.zst
  sed '10d' hub.mnoa >noend.mnoa
  fails_with noend.mnoa
  sed '$s/"sum":"494e/"sum":"594e/' hub.mnoa >trailersum.mnoa
  fails_with trailersum.mnoa
  sed $'5s/"Zo\xc3\xab"/"Zo\xc3"/' connec.mnoa >badutf8m.mnoa
  fails_with badutf8m.mnoa
  sed 's/"name":"Zoë"/"name":"Zoe"/' connec.mnoa >changedm.mnoa
  fails_with changedm.mnoa
  sed '3d' connec.mnoa >missingm.mnoa
  fails_with missingm.mnoa
  sed '4s/}}}$/}}/' connec.mnoa >badjsonm.mnoa
  fails_with badjsonm.mnoa
}

# big_pg N: an archive of N records in one section (sealed by mno-cat), to big.mnoa.
big_pg() {
  {
    echo '{"t":"header","format":"mnoa","version":1,"engine":"postgresql","source":"s","tenant":null}'
    echo '{"t":"begin","ns":"public.t","columns":[{"name":"id","type":"bigint"},{"name":"s","type":"text"}],"key":["id"]}'
    awk -v n="$1" 'BEGIN { for (i = 1; i <= n; i++) printf "{\"t\":\"rec\",\"ns\":\"public.t\",\"v\":{\"id\":\"%d\",\"s\":\"row %d \\\"q\\\" (x, y) ü\"}}\n", i, i }'
    echo '{"t":"end","ns":"public.t","count":0,"sum":"00000000000000000000000000000000"}'
    echo '{"t":"trailer","sections":1,"count":0,"sum":"00000000000000000000000000000000"}'
  } | mno-cat --seal -o big.mnoa -
}

# same_as_records FILE: --check fails on FILE with exit 2 and the very message of the general
# reader (mno-cat --records reads every line by jansson, hashing one record at a time).
same_as_records() {
  run --separate-stderr mno-cat --records "$1"
  [ "$status" -eq 2 ]
  want=$stderr
  [ -n "$want" ]
  run --separate-stderr mno-cat --check "$1"
  [ "$status" -eq 2 ]
  [ -z "$output" ]
  [ "$stderr" = "$want" ]
}

@test "cat: --check on 20000 records (many batches for the second thread): every corruption at the line the general reader names" {
  big_pg 20000
  run mno-cat --check big.mnoa
  [ "$status" -eq 0 ]
  [[ "$output" == "ok: 1 sections, 20000 records, sum "* ]]
  sed '15002s/"s":"row/"s":"ROW/' big.mnoa >x.mnoa; same_as_records x.mnoa
  [[ "$stderr" == *"x.mnoa:20003: section public.t: sum mismatch: end line says "* ]]
  sed '15002s/}}$/}/' big.mnoa >x.mnoa; same_as_records x.mnoa
  [[ "$stderr" == "mno-cat: error: x.mnoa:15002: section public.t: invalid JSON at column "* ]]
  sed $'15002s/row/r\xffow/' big.mnoa >x.mnoa; same_as_records x.mnoa
  [[ "$stderr" == "mno-cat: error: x.mnoa:15002: section public.t: invalid JSON at column "*"unable to decode byte 0xff"* ]]
  sed '15002s/"s":"row/"s":1,"x":"row/' big.mnoa >x.mnoa; same_as_records x.mnoa
  [[ "$stderr" == *"x.mnoa:15002: section public.t: key (id)=(15000): column \"s\" is neither a string nor null" ]]
  sed '15002d' big.mnoa >x.mnoa; same_as_records x.mnoa
  [[ "$stderr" == *"x.mnoa:20002: section public.t: count mismatch: end line says 20000, found 19999 records" ]]
  head -c -200 big.mnoa >x.mnoa; same_as_records x.mnoa
  [[ "$stderr" == *"truncated archive: the last line is cut short"* ]]
  sed '20003d' big.mnoa >x.mnoa; same_as_records x.mnoa
  [[ "$stderr" == "mno-cat: error: x.mnoa:20003: section public.t: no end line before the trailer" ]]
  zstd -q big.mnoa -o big.mnoa.zst
  size=$(stat -c %s big.mnoa.zst)
  head -c $((size / 2)) big.mnoa.zst >x.mnoa.zst; same_as_records x.mnoa.zst
  [[ "$stderr" == *": section public.t: premature end of zstd frame" ]]
}

# ---- large zstd archives: decoded in a thread of their own (lib/archive/codec.c), ahead of the reader ----

@test "cat: a large .zst of several frames (and a skippable frame) reads as the plain archive; damage in frame 3 is found at its first line" {
  big_pg 100000
  run mno-cat --check big.mnoa
  [ "$status" -eq 0 ]
  want=$output
  # 4 frames of 25001 lines (the last shorter), a skippable frame (RFC 8878) between 2 and 3
  split -l 25001 -d big.mnoa part.
  for p in part.0[0-3]; do zstd -q -c "$p" >"$p.zst"; done
  printf '\x50\x2a\x4d\x18\x04\x00\x00\x00skip' >skip.bin
  cat part.00.zst part.01.zst skip.bin part.02.zst part.03.zst >big4.mnoa.zst
  run mno-cat --check big4.mnoa.zst
  [ "$status" -eq 0 ]
  [ "$output" = "$want" ]
  mno-cat big4.mnoa.zst | cmp - big.mnoa
  # the third frame's magic number damaged: frames 1 and 2 are read, the error is at line 50003
  at=$(($(stat -c %s part.00.zst) + $(stat -c %s part.01.zst) + 12))
  cp big4.mnoa.zst magic.mnoa.zst
  printf '\x00' | dd of=magic.mnoa.zst bs=1 seek="$at" conv=notrunc status=none
  run --separate-stderr mno-cat --check magic.mnoa.zst
  [ "$status" -eq 2 ]
  [ "$stderr" = "mno-cat: error: magic.mnoa.zst:50003: section public.t: corrupted zstd data: Unknown frame descriptor" ]
  # the last frame's content checksum damaged: caught within that frame, before its sums
  size=$(stat -c %s big4.mnoa.zst)
  cp big4.mnoa.zst sum.mnoa.zst
  printf '\x00' | dd of=sum.mnoa.zst bs=1 seek=$((size - 1)) conv=notrunc status=none
  cmp -s big4.mnoa.zst sum.mnoa.zst && false
  run --separate-stderr mno-cat --check sum.mnoa.zst
  [ "$status" -eq 2 ]
  [[ "$stderr" =~ ^"mno-cat: error: sum.mnoa.zst:"([0-9]+)": section public.t: corrupted zstd data: Restored data doesn't match checksum"$ ]]
  [ "${BASH_REMATCH[1]}" -ge 75004 ] && [ "${BASH_REMATCH[1]}" -le 100004 ]
}

@test "cat: a large .zst cut mid-frame -> premature end at the line after the last whole one zstd decodes (file and pipe)" {
  big_pg 100000
  zstd -q big.mnoa -o big.mnoa.zst
  size=$(stat -c %s big.mnoa.zst)
  for cut in $((size / 3)) $((size * 2 / 3)) $((size - 9)); do
    head -c "$cut" big.mnoa.zst >cut.mnoa.zst
    # the zstd CLI writes every byte it can decode before it fails
    whole=$(zstd -q -dc cut.mnoa.zst 2>/dev/null | wc -l || true)
    run --separate-stderr mno-cat --check cut.mnoa.zst
    [ "$status" -eq 2 ]
    [ "$stderr" = "mno-cat: error: cut.mnoa.zst:$((whole + 1)): section public.t: premature end of zstd frame" ]
    run --separate-stderr bash -c 'cat cut.mnoa.zst | mno-cat --check -'
    [ "$status" -eq 2 ]
    [ "$stderr" = "mno-cat: error: <stdin>:$((whole + 1)): section public.t: premature end of zstd frame" ]
  done
}

@test "cat: a reader that stops early (--header of a large .zst, the header over 256 KiB) ends at once, also on a silent pipe" {
  {
    printf '{"t":"header","format":"mnoa","version":1,"engine":"postgresql","source":"'
    head -c 150000 /dev/urandom | od -An -v -tx1 | tr -d ' \n'
    printf '","tenant":null}\n'
    echo '{"t":"begin","ns":"public.t","columns":[{"name":"id","type":"bigint"},{"name":"s","type":"text"}],"key":["id"]}'
    awk 'BEGIN { for (i = 1; i <= 100000; i++) printf "{\"t\":\"rec\",\"ns\":\"public.t\",\"v\":{\"id\":\"%d\",\"s\":\"row %d\"}}\n", i, i }'
    echo '{"t":"end","ns":"public.t","count":0,"sum":"00000000000000000000000000000000"}'
    echo '{"t":"trailer","sections":1,"count":0,"sum":"00000000000000000000000000000000"}'
  } | mno-cat --seal -o long.mnoa.zst -
  head -n 1 <(zstd -dc long.mnoa.zst) >header.want
  [ "$(wc -c <header.want)" -gt 262144 ]
  run --separate-stderr mno-cat --header long.mnoa.zst
  [ "$status" -eq 0 ]
  [ -z "$stderr" ]
  diff header.want <(printf '%s\n' "$output")
  # from a FIFO whose writer sends the start and then stays silent, the pipe open: the
  # decoding thread waits on the read; the reader is done with the header and must not wait
  mkfifo fifo
  timeout 60 mno-cat --header fifo >header.got 2>header.err &
  pid=$!
  exec 7>fifo
  head -c 300000 long.mnoa.zst >&7 || true
  rc=0
  wait "$pid" || rc=$?
  exec 7>&-
  [ "$rc" -eq 0 ]
  [ ! -s header.err ]
  diff header.want header.got
}

@test "cat: --max-line refuses a longer line; errors on stdin name <stdin>" {
  run --separate-stderr mno-cat --check --max-line 100 hub.mnoa
  [ "$status" -eq 2 ]
  [ "$stderr" = "mno-cat: error: hub.mnoa:1: line too long (more than 100 bytes)" ]
  run mno-cat --check --max-line 151 hub.mnoa
  [ "$status" -eq 0 ]
  run --separate-stderr mno-cat --check - < <(sed '$d' hub.mnoa)
  [ "$status" -eq 2 ]
  [ "$stderr" = "mno-cat: error: <stdin>:10: truncated archive: no trailer" ]
}

# ---- sealing ----

@test "cat: --seal -o FILE accepts a deliberate edit: new sums, FILE only when complete" {
  sed 's/"name":"Ann"/"name":"Anne"/' hub.mnoa >changed.mnoa
  run --separate-stderr mno-cat --seal -o sealed.mnoa changed.mnoa
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  [ -z "$stderr" ]
  [ ! -e sealed.mnoa.partial ]
  [ "$(stat -c %a sealed.mnoa)" = 600 ]
  run mno-cat --check sealed.mnoa
  [ "$status" -eq 0 ]
  same changed-sealed.check
  run --separate-stderr mno-cat --list sealed.mnoa
  same changed-sealed.list
  [ -z "$stderr" ]
  run bash -c "tail -n +2 sealed.mnoa | sed -E 's/,\"header_sha256\":\"[0-9a-f]{64}\"//'"
  same changed.sealed
  # the header keeps its fields, gets a new id and says who sealed it; it is written as version 2
  run jq -c 'del(.id)' <(head -n 1 sealed.mnoa)
  [ "$output" = '{"t":"header","format":"mnoa","version":2,"engine":"postgresql","source":"mnohub","tenant":"acme","created":"2026-11-25T12:00:00Z","producer":"hand","sealed_by":"mno-cat 0.1.0"}' ]
  [[ "$(head -n 1 sealed.mnoa | jq -r .id)" =~ ^[0-9a-f]{32}$ ]]
}

@test "cat: --seal -z and -o FILE.zst compress (zstd CLI reads them); --level/--threads" {
  run mno-cat --seal -z hub.mnoa
  [ "$status" -eq 0 ]
  mno-cat --seal -z hub.mnoa >s.zst
  [ "$(head -c 4 s.zst | od -An -tx1 | tr -d ' ')" = 28b52ffd ]
  diff <(tail -n +2 hub.mnoa) <(zstd -dc s.zst | tail -n +2 | nodigest)
  mno-cat --seal --level 19 --threads 2 -o s2.mnoa.zst connec.mnoa
  [ "$(head -c 4 s2.mnoa.zst | od -An -tx1 | tr -d ' ')" = 28b52ffd ]
  run bash -c "zstd -dc s2.mnoa.zst | tail -n +2 | sed -E 's/,\"header_sha256\":\"[0-9a-f]{64}\"//'"
  same connec.sealed
  run mno-cat --check s2.mnoa.zst
  [ "$status" -eq 0 ]
  same connec.check
}

@test "cat: round trip: sealing a sealed archive changes nothing but the header's id" {
  mno-cat --seal -o a.mnoa.zst hub.mnoa
  mno-cat --seal a.mnoa.zst >b.mnoa
  mno-cat --seal - <b.mnoa >c.mnoa
  diff <(tail -n +2 hub.mnoa) <(tail -n +2 b.mnoa | nodigest)
  diff <(tail -n +2 b.mnoa | nodigest) <(tail -n +2 c.mnoa | nodigest)
  # the sections' digests are the same (the begin lines are); the header's differs with its id
  diff <(tail -n +2 b.mnoa | head -n -1) <(tail -n +2 c.mnoa | head -n -1)
  diff <(head -n 1 b.mnoa | jq -c 'del(.id)') <(head -n 1 c.mnoa | jq -c 'del(.id)')
  [ "$(head -n 1 b.mnoa | jq -r .id)" != "$(head -n 1 c.mnoa | jq -r .id)" ]
  run mno-cat --records b.mnoa
  same hub.records
  # a MongoDB archive is written back in canonical Extended JSON, same sums
  mno-cat --seal connec.mnoa >m.mnoa
  run bash -c "tail -n +2 m.mnoa | sed -E 's/,\"header_sha256\":\"[0-9a-f]{64}\"//'"
  same connec.sealed
}

@test "cat: --seal copies record lines in the writer's form, writes every other record anew; the output verifies" {
  # hub.mnoa's records, some edited as jq or an editor would leave them: white space, members
  # out of order, escapes the writer does not write (\u0041, \/), the envelope reordered
  sed -e '3s/"v":{"id":"10"/"v": {"id": "10"/' \
      -e '4s/"v":{"id":"11","uid":"org-11","tags":null}/"v":{"tags":null,"uid":"org-11","id":"11"}/' \
      -e '7s/"name":"Ann"/"name":"\\u0041nn"/' \
      -e '8s/(now)/(now\\\/)/' \
      -e '9s/{"t":"rec","ns":"public.users",/{"ns":"public.users","t":"rec",/' hub.mnoa >edited.mnoa
  run --separate-stderr mno-cat --seal -o s.mnoa edited.mnoa
  [ "$status" -eq 0 ]
  [ -z "$stderr" ]
  run --separate-stderr mno-cat --check s.mnoa
  [ "$status" -eq 0 ]
  [ -z "$stderr" ]
  # every record line as the writer writes it: hub.mnoa's, but line 8's value now ends in "/"
  diff <(sed -e '8s/(now)/(now\/)/' hub.mnoa | grep '"t":"rec"') <(grep '"t":"rec"' s.mnoa)
  # the sums are the records': the section left as it was has hub.mnoa's sum, the trailer adds up
  [ "$(mno-cat --list s.mnoa | head -n 1)" = "$(head -n 1 "$D/hub.list")" ]
  # and it restores to the same rows a reader gets from the edited input
  diff <(mno-cat --records edited.mnoa | jq -c -S .v) <(mno-cat --records s.mnoa | jq -c -S .v)
}

@test "cat: --seal on a large archive with edits scattered through it: each line as the writer writes it, in order; the sums the records'" {
  # 60000 records (the reader's second thread holds some thousands at a time; the seal writes
  # in 4 MiB steps): every 97th with white space (its verdict comes back from the second
  # thread), every 89th with an escape the writer does not use, every 1001st with its
  # envelope reordered (read at once by the general path), one line longer than the second
  # thread takes, and a MongoDB section after it
  big_pg 60000
  # long N: record N's value made longer than the second thread takes (262144 spaces more)
  long() { awk -v k="$1" 'BEGIN { pad = " "; while (length(pad) < 262144) pad = pad pad }
                          NR > 2 && /"t":"rec"/ { if (++n == k) sub(/"row /, "\"" pad "row ") } { print }'; }
  mongo() { tail -n +2 connec.mnoa | sed 's/{"t":"begin","ns":"connec.people",/&"engine":"mongodb",/'; }
  {
    long 30000 <big.mnoa | awk 'NR > 2 && /"t":"rec"/ {
         n++
         if (n % 97 == 0) sub(/"v":\{"id":/, "\"v\": { \"id\" : ")
         else if (n % 89 == 0) sub(/"row /, "\"\\u0072ow ")
         else if (n % 1001 == 0) sub(/^\{"t":"rec","ns":"public.t",/, "{\"ns\":\"public.t\",\"t\":\"rec\",")
       }
       /"t":"trailer"/ { next }
       { print }'
    mongo
  } >edited.mnoa
  [ "$(grep -c '"v": { "id" : ' edited.mnoa)" -eq 618 ]
  run --separate-stderr mno-cat --seal -o s.mnoa edited.mnoa
  [ "$status" -eq 0 ]
  [ -z "$stderr" ]
  run --separate-stderr mno-cat --check s.mnoa
  [ "$status" -eq 0 ]
  [[ "$output" == "ok: 2 sections, 60003 records, sum "* ]]
  # the writer's lines: big.mnoa's (with the long value), then the MongoDB section as connec.sealed
  diff <(long 30000 <big.mnoa | grep '"t":"rec"') <(grep '"t":"rec","ns":"public.t"' s.mnoa)
  diff <(grep '"t":"rec"' "$D/connec.sealed") <(grep '"t":"rec","ns":"connec.people"' s.mnoa)
  # the sums are what the records sum to: the same records sealed from unedited lines
  { long 30000 <big.mnoa | grep -v '"t":"trailer"'; mongo; } >clean.mnoa
  diff <(mno-cat --seal clean.mnoa | mno-cat --list - | grep -v '^#') <(mno-cat --list s.mnoa | grep -v '^#')
}

@test "cat: --seal refuses a broken structure or a truncated archive; no FILE is left" {
  sed '5a {"t":"rec","ns":"public.orgs","v":{"id":"12","uid":"org-12","tags":null}}' hub.mnoa >outside.mnoa
  run --separate-stderr mno-cat --seal -o out.mnoa outside.mnoa
  [ "$status" -eq 2 ]
  [ "$stderr" = "mno-cat: error: outside.mnoa:6: section public.orgs: record outside its section (no begin line before it)" ]
  [ ! -e out.mnoa ] && [ ! -e out.mnoa.partial ]
  head -n 8 hub.mnoa >cut.mnoa
  run --separate-stderr mno-cat --seal -o out.mnoa.zst cut.mnoa
  [ "$status" -eq 2 ]
  [ "$stderr" = "mno-cat: error: cut.mnoa:8: section public.users: truncated archive: no trailer" ]
  [ ! -e out.mnoa.zst ] && [ ! -e out.mnoa.zst.partial ]
}

@test "cat: -o naming a FIFO writes through it; a symbolic link is replaced, never written through" {
  mkfifo pipe
  cat pipe >from-pipe &
  run --separate-stderr mno-cat --seal -o pipe hub.mnoa
  [ "$status" -eq 0 ]
  wait
  [ -p pipe ]
  [ -z "$(ls *.partial 2>/dev/null)" ]
  diff <(tail -n +2 hub.mnoa) <(tail -n +2 from-pipe | nodigest)
  # a symbolic link to a regular file is replaced by the new file (0600); its target is
  # neither written nor chmod'ed (tests/cli/71-outputs.bats has the rest)
  echo old >target
  chmod 644 target
  ln -s target link
  mno-cat --seal -o link hub.mnoa
  [ ! -L link ] && [ -f link ]
  [ "$(stat -c %a link)" = 600 ]
  [ "$(cat target)" = old ] && [ "$(stat -c %a target)" = 644 ]
  [ -z "$(ls *.partial 2>/dev/null)" ]
  diff <(tail -n +2 hub.mnoa) <(tail -n +2 link | nodigest)
  # /dev/stdout is the tool's own stdout, written as it is
  mno-cat --seal -o /dev/stdout hub.mnoa >via-stdout
  diff <(tail -n +2 hub.mnoa) <(tail -n +2 via-stdout | nodigest)
}

@test "cat: usage errors exit 2 with a hint" {
  run --separate-stderr mno-cat --check --list hub.mnoa
  [ "$status" -eq 2 ]
  [ "$stderr" = "mno-cat: error: give at most one of --header, --list, --records, --check, --seal"$'\n'"try 'mno-cat --help'" ]
  run --separate-stderr mno-cat --check -z hub.mnoa
  [ "$status" -eq 2 ]
  [ "${stderr%%$'\n'*}" = "mno-cat: error: -o, -z, --level and --threads go with --seal" ]
  run --separate-stderr mno-cat --list --ns public.users hub.mnoa
  [ "${stderr%%$'\n'*}" = "mno-cat: error: --ns goes with --records" ]
  run --separate-stderr mno-cat --check
  [ "$status" -eq 2 ]
  [ "${stderr%%$'\n'*}" = "mno-cat: error: no input (give FILE, or - for stdin)" ]
  run --separate-stderr mno-cat --bogus hub.mnoa
  [ "${stderr%%$'\n'*}" = "mno-cat: error: unknown option '--bogus'" ]
  run --separate-stderr mno-cat --check nothere.mnoa
  [ "$status" -eq 2 ]
  [ "$stderr" = "mno-cat: error: nothere.mnoa: cannot open: No such file or directory" ]
}

# ---- version 2: metadata digests and the mac (docs/format.md 4.1) ----

@test "cat: a sealed archive's end lines carry the sha256 of their begin line, the trailer the header's" {
  mno-cat --seal -o s.mnoa hub.mnoa
  [ "$(head -n 1 s.mnoa | jq .version)" = 2 ]
  [ "$(sed -n 5p s.mnoa | jq -r .begin_sha256)" = "$(sed -n 2p s.mnoa | tr -d '\n' | sha256sum | cut -d' ' -f1)" ]
  [ "$(sed -n 10p s.mnoa | jq -r .begin_sha256)" = "$(sed -n 6p s.mnoa | tr -d '\n' | sha256sum | cut -d' ' -f1)" ]
  [ "$(tail -n 1 s.mnoa | jq -r .header_sha256)" = "$(head -n 1 s.mnoa | tr -d '\n' | sha256sum | cut -d' ' -f1)" ]
  run --separate-stderr mno-cat --list s.mnoa
  [ "$status" -eq 0 ]
  [ -z "$stderr" ]
  # a CRLF copy keeps its digests (a CR before the LF is not hashed)
  sed 's/$/\r/' s.mnoa >crlf.mnoa
  run mno-cat --check crlf.mnoa
  [ "$status" -eq 0 ]
}

@test "cat: an edited begin line (key, where, ddl, indexes) or header without re-seal is refused; --seal accepts it" {
  mno-cat --seal -o s.mnoa hub.mnoa
  d2=$(sed -n 2p s.mnoa | tr -d '\n' | sha256sum | cut -d' ' -f1)
  for edit in 's/"key":\["id"\]/"key":[]/' 's/"key":\["id"\]}/"key":["id"],"where":"id > 0"}/' \
              's/"key":\["id"\]}/"key":["id"],"ddl":"CREATE ROLE pwned SUPERUSER LOGIN"}/' \
              's/"type":"text\[\]"/"type":"text"/'; do
    sed "2$edit" s.mnoa >e.mnoa
    ! cmp -s s.mnoa e.mnoa
    d=$(sed -n 2p e.mnoa | tr -d '\n' | sha256sum | cut -d' ' -f1)
    run --separate-stderr mno-cat --check e.mnoa
    [ "$status" -eq 2 ]
    [ "$stderr" = "mno-cat: error: e.mnoa:5: section public.orgs: begin line digest mismatch: end line says $d2, computed $d (the begin line was changed; mno-cat --seal accepts a deliberate edit)" ]
    run --separate-stderr mno-cat --list e.mnoa
    [ "$status" -eq 2 ]
    [ "${lines[0]}" = $'public.orgs\t2\t7af43dcc58ec0c102b8fb621bd97a96b\tBAD' ]
    [ "$stderr" = "mno-cat: error: e.mnoa:5: section public.orgs: the begin line does not match the end line's \"begin_sha256\" (changed without mno-cat --seal)" ]
    mno-cat --seal -o resealed.mnoa e.mnoa
    run mno-cat --check resealed.mnoa
    [ "$status" -eq 0 ]
  done
  # the header: a changed tenant
  h=$(head -n 1 s.mnoa | tr -d '\n' | sha256sum | cut -d' ' -f1)
  sed '1s/"tenant":"acme"/"tenant":"evil"/' s.mnoa >h.mnoa
  hh=$(head -n 1 h.mnoa | tr -d '\n' | sha256sum | cut -d' ' -f1)
  run --separate-stderr mno-cat --check h.mnoa
  [ "$status" -eq 2 ]
  [ "$stderr" = "mno-cat: error: h.mnoa:11: trailer: header digest mismatch: trailer says $h, computed $hh (the header was changed; mno-cat --seal accepts a deliberate edit)" ]
  mno-cat --seal -o h2.mnoa h.mnoa
  run mno-cat --check h2.mnoa
  [ "$status" -eq 0 ]
}

@test "cat: version 2 without a digest is refused; version 1 without one is read and listed as such" {
  mno-cat --seal -o s.mnoa hub.mnoa
  sed -E '5s/,"begin_sha256":"[0-9a-f]{64}"//' s.mnoa >nod.mnoa
  run --separate-stderr mno-cat --check nod.mnoa
  [ "$status" -eq 2 ]
  [ "$stderr" = "mno-cat: error: nod.mnoa:5: section public.orgs: end line has no valid \"begin_sha256\" (64 hex digits)" ]
  sed -E '$s/,"header_sha256":"[0-9a-f]{64}"//' s.mnoa >noh.mnoa
  run --separate-stderr mno-cat --check noh.mnoa
  [ "$status" -eq 2 ]
  [ "$stderr" = "mno-cat: error: noh.mnoa:11: trailer has no valid \"header_sha256\" (64 hex digits)" ]
  # the same archive as version 1, digests removed: read as before
  sed -E '1s/"version":2/"version":1/; s/,"(begin|header)_sha256":"[0-9a-f]{64}"//' s.mnoa >v1.mnoa
  run --separate-stderr mno-cat --check v1.mnoa
  [ "$status" -eq 0 ]
  run --separate-stderr mno-cat --list v1.mnoa
  [ "$status" -eq 0 ]
  [ "$stderr" = "mno-cat: note: v1.mnoa: $V1NOTE" ]
}

@test "cat: MNO_ARCHIVE_KEY: the trailer's mac is written, checked, and refused when the archive changed" {
  MNO_ARCHIVE_KEY=k1 mno-cat --seal -o k.mnoa hub.mnoa
  mac=$(tail -n 1 k.mnoa | jq -r .mac)
  [[ "$mac" =~ ^[0-9a-f]{64}$ ]]
  # recomputed from docs/format.md 4.1
  want=$(python3 - k.mnoa k1 <<'PY'
import hashlib, hmac, json, sys
lines = [l for l in open(sys.argv[1], 'rb').read().split(b'\n') if l]
d = lambda l: hashlib.sha256(l.rstrip(b' \t\r')).hexdigest()
m = 'mnoa-mac-1\n' + d(lines[0]) + '\n'
for l in lines[1:]:
    o = json.loads(l)
    if o['t'] == 'begin': b = d(l)
    if o['t'] == 'end': m += '%s %d %s\n' % (b, o['count'], o['sum'].lower())
    if o['t'] == 'trailer': m += 'trailer %d %d %s\n' % (o['sections'], o['count'], o['sum'].lower())
print(hmac.new(sys.argv[2].encode(), m.encode(), hashlib.sha256).hexdigest())
PY
)
  [ "$mac" = "$want" ]
  run --separate-stderr env MNO_ARCHIVE_KEY=k1 mno-cat --list k.mnoa
  [ "$status" -eq 0 ]
  [ "$stderr" = "mno-cat: note: k.mnoa: authenticated: its \"mac\" matches MNO_ARCHIVE_KEY" ]
  run --separate-stderr mno-cat --list k.mnoa
  [ "$stderr" = "mno-cat: note: k.mnoa: has a \"mac\", not checked (no MNO_ARCHIVE_KEY)" ]
  printf 'k1\n' >key.txt
  run --separate-stderr env MNO_ARCHIVE_KEY_FILE=key.txt mno-cat --check k.mnoa
  [ "$status" -eq 0 ]
  run --separate-stderr env MNO_ARCHIVE_KEY=k2 mno-cat --check k.mnoa
  [ "$status" -eq 2 ]
  [ "$stderr" = "mno-cat: error: k.mnoa:11: trailer: \"mac\" does not match MNO_ARCHIVE_KEY: the archive was changed after it was written, or written with another key" ]
  # an edit re-sealed without the key loses the mac; with it, gets a new one
  sed '2s/"key":\["id"\]/"key":[]/' k.mnoa | mno-cat --seal -o e.mnoa -
  [ "$(tail -n 1 e.mnoa | jq -r .mac)" = null ]
  # a mac forged by hand (the sums and digests recomputed, the mac kept) is refused
  sed '2s/"key":\["id"\]/"key":[]/' k.mnoa | mno-cat --seal - | sed '$s/}$/,"mac":"'"$mac"'"}/' >forged.mnoa
  run --separate-stderr env MNO_ARCHIVE_KEY=k1 mno-cat --check forged.mnoa
  [ "$status" -eq 2 ]
  [[ "$stderr" == *'trailer: "mac" does not match MNO_ARCHIVE_KEY'* ]]
  run --separate-stderr env MNO_ARCHIVE_KEY=k1 MNO_ARCHIVE_KEY_FILE=key.txt mno-cat --check k.mnoa
  [ "$status" -eq 2 ]
  [ "$stderr" = "mno-cat: error: set MNO_ARCHIVE_KEY or MNO_ARCHIVE_KEY_FILE, not both" ]
  [[ "$stderr" != *k1* ]]
}
