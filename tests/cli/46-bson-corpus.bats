#!/usr/bin/env bats
# 46-bson-corpus.bats: every document of the MongoDB BSON corpus (tests/fixtures/bson-corpus:
# canonical and degenerate BSON: NaN payloads, non-canonical Decimal128, odd array keys, regex
# options "mix", code with NUL) held by a server survives mno-dump, mno-restore and mno-verify
# byte for byte; invalid Extended JSON in an archive is refused (exit 2, line and key named,
# nothing written). Documents go in and come out through tests/bin/mongodump-client (libmongoc,
# raw BSON), independently of the tools.

setup_file() {
  export MNO_TOP=${MNO_TOP:-$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}
  export PATH="$MNO_BIN:$PATH"
  export CL=$MNO_TESTBIN/mongodump-client
  # canonical_bson and degenerate_bson of every valid case, one hex line each
  python3 - "$MNO_TOP/tests/fixtures/bson-corpus" >"$BATS_FILE_TMPDIR/corpus.hex" <<'PY'
import glob, json, sys
for f in sorted(glob.glob(sys.argv[1] + "/*.json")):
    for c in json.load(open(f)).get("valid", []):
        for k in ("canonical_bson", "degenerate_bson"):
            if k in c:
                print(c[k])
PY
}

setup() {
  . "$MNO_TOP/tests/lib/env.sh"
  mno_shm_sweep
  cd "$BATS_TEST_TMPDIR"
}

@test "bson corpus: every document a server holds survives dump, restore and verify byte for byte" {
  src=$(mongo_newdb corpus_src)
  dst=$(mongo_newdb corpus_dst)
  "$CL" insert-hex "$src" docs <"$BATS_FILE_TMPDIR/corpus.hex" >ins.out 2>ins.err
  read -r _ inserted _ refused <ins.out
  echo "inserted $inserted refused $refused" >&3
  [ "$inserted" -gt 600 ]
  # the project's test server keeps every one (a real server refuses top-level $ keys)
  # (the corpus's two documents with an _id of their own are skipped)
  if [ "${MNO_TEST_MONGOD:-}" = 1 ]; then [ "$(grep -vc 'has an _id' ins.err)" -eq 0 ]; fi
  printf 'docs: global\n' >c.scope
  run mno-dump --source "$src" --all --scope c.scope --quiet -o c.mnoa
  [ "$status" -eq 0 ]
  # the lossless form carries what the text cannot (NaN payloads, Decimal128, odd keys, ...)
  n=$(grep -c '"t":"rec","ns":"corpus_src.docs","bson":"' c.mnoa)
  echo "lossless records: $n" >&3
  [ "$n" -gt 5 ]
  run mno-cat --check c.mnoa
  [ "$status" -eq 0 ]
  # sealing keeps the lossless records (the same lines, the same sums)
  mno-cat --seal -o s.mnoa c.mnoa
  cmp <(grep '"t":"rec"' c.mnoa) <(grep '"t":"rec"' s.mnoa)
  [ "$(mno-cat --list s.mnoa | cut -f1-3)" = "$(mno-cat --list c.mnoa | cut -f1-3)" ]
  # every record is the server's bytes (python decodes the lossless form itself)
  diff <("$CL" hex "$src" docs | cut -f2) <(python3 -c '
import base64, json, sys
for line in open(sys.argv[1]):
    o = json.loads(line)
    if o["t"] == "rec" and "bson" in o:
        print(base64.b64decode(o["bson"]).hex())
    elif o["t"] == "rec":
        print("TEXT")
' c.mnoa | paste - <("$CL" hex "$src" docs | cut -f2) | awk -F'\t' '{print ($1 == "TEXT") ? $2 : $1}')
  run mno-restore --quiet --create --target "$dst" c.mnoa
  echo "$output"
  [ "$status" -eq 0 ]
  # the target holds the same bytes, as read back by libmongoc
  diff <("$CL" hex "$src" docs | cut -f2) <("$CL" hex "$dst" docs | cut -f2)
  run mno-verify --archive c.mnoa --target "$dst"
  echo "$output"
  [ "$status" -eq 0 ]
}

@test "bson corpus: invalid Extended JSON values libbson takes silently are refused, exit 2, line and key named, nothing written" {
  dst=$(mongo_newdb corpus_bad)
  for v in '{"$oid":"zzzzzzzzzzzzzzzzzzzzzzzz"}' '{"$numberDouble":"abc"}' '{"$numberDouble":"1.5x"}' \
           '{"$date":42}' '{"$numberDecimal":"ten"}' '{"$numberDecimal":"7e10000"}'; do
    {
      echo '{"t":"header","format":"mnoa","version":1,"engine":"mongodb","source":"connec","tenant":null}'
      echo '{"t":"begin","ns":"corpus_bad.docs","key":["_id"],"options":{},"indexes":[]}'
      echo '{"t":"rec","ns":"corpus_bad.docs","v":{"_id":{"$numberInt":"1"},"ok":true}}'
      echo "{\"t\":\"rec\",\"ns\":\"corpus_bad.docs\",\"v\":{\"_id\":{\"\$numberInt\":\"2\"},\"x\":{\"y\":$v}}}"
      echo '{"t":"end","ns":"corpus_bad.docs","count":2,"sum":"00000000000000000000000000000000"}'
      echo '{"t":"trailer","sections":1,"count":2,"sum":"00000000000000000000000000000000"}'
    } >bad.raw
    run mno-cat --seal -o bad.mnoa bad.raw
    [ "$status" -eq 2 ]
    [[ "$output" == *":4: section corpus_bad.docs: "*'key "x.y"'* ]]
    # restore refuses it before writing anything (its check pass reads every record first)
    run mno-restore --quiet --create --target "$dst" bad.raw
    echo "$output"
    [ "$status" -eq 2 ]
    [[ "$output" == *":4:"*'key "x.y"'* ]]
    [ "$("$CL" count "$dst" docs)" -eq 0 ]
  done
}
