#!/usr/bin/env bats
# 07-fuzz.bats: the fuzz targets of tests/fuzz in the suite: each replays its committed corpus
# (tests/fuzz/corpus/NAME) and then seeded, deterministic mutations of it for a few seconds
# (tests/fuzz/replay.c). Under SANITIZE=1 (MNO_TESTBIN=build/san/tests) ASan and UBSan watch
# every input. `make fuzz` runs the same targets under libFuzzer (docs/testing.md). A failure
# leaves the input it stopped at in the test's directory (last-input) and prints it.

setup() {
  export MNO_TOP=${MNO_TOP:-$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}
}

replay() { # target
  local last=$BATS_TEST_TMPDIR/last-input
  run "$MNO_TESTBIN/fuzz_$1-replay" -t 3 -n 50000 -o "$last" "$MNO_TOP/tests/fuzz/corpus/$1"
  if [ "$status" -ne 0 ] || [[ "$output" != "replay: "*" inputs and "*" mutations in "* ]]; then
    echo "$output" >&2
    echo "the input it stopped at ($last):" >&2
    od -c "$last" | head -40 >&2
    return 1
  fi
}

@test "fuzz: the archive reader (the check pass and the general reader) over its corpus and mutations" {
  replay archive
}

@test "fuzz: the Extended JSON parser (text and jansson paths, checked against libbson) over its corpus and mutations" {
  replay ejson
}

@test "fuzz: the scope parser over its corpus and mutations" {
  replay scope
}
