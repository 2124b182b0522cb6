#!/usr/bin/env bats
# 66-review3.bats: a third review pass over mno-restore -j N and mno-verify --diff's key-hash buckets.
# Every table is built here with psql; expected values are written out or read back with psql.

setup_file() {
  export MNO_TOP=${MNO_TOP:-$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}
  export PATH="$MNO_BIN:$PATH"
  . "$MNO_TOP/tests/lib/env.sh"
}

setup() {
  . "$MNO_TOP/tests/lib/env.sh"
  mno_shm_sweep
  cd "$BATS_TEST_TMPDIR"
}

@test "review3: --diff --max 3 when the target lost every row (more differing buckets than followed) lists 3 missing keys" {
  t=$(pg_newdb review3_allgone)
  psql -X -q -v ON_ERROR_STOP=1 -d "$t" <<'SQL'
CREATE TABLE public.gone (id integer PRIMARY KEY, v text);
INSERT INTO public.gone SELECT g, 'v' || g FROM generate_series(1, 3000) g;
SQL
  echo 'public.gone: global' >gone.scope
  mno-dump --quiet --source "$t" --all --scope gone.scope -o gone.mnoa
  psql -X -q -v ON_ERROR_STOP=1 -d "$t" -c 'TRUNCATE public.gone'
  run mno-verify --archive gone.mnoa --target "$t" --diff --max 3
  [ "$status" -eq 1 ]
  [[ "$output" == *$'\npublic.gone: 3+ keys differ\n  missing  id='*$'\n  missing  id='*$'\n  missing  id='*$'\n  ... more keys differ (see --max)\n'* ]]
  run mno-verify --archive gone.mnoa --target "$t" --diff --max 3 --json
  [ "$status" -eq 1 ]
  [ "$(jq -c '.sections[0] | [(.diff | map(.what)), .diff_more]' <<<"$output")" = '[["missing","missing","missing"],true]' ]
  # every key listed is one of the archive's, and none twice
  [ "$(jq -r '.sections[0].diff[].key.id' <<<"$output" | sort -u | awk '$1 >= 1 && $1 <= 3000' | wc -l)" -eq 3 ]
}

@test "review3: restore -j 2 of a file that does not exist: cannot open, exit 2" {
  t=$(pg_newdb review3_nofile)
  run mno-restore -j 2 --target "$t" "$BATS_TEST_TMPDIR/nonexistent.mnoa"
  [ "$status" -eq 2 ]
  [ "$output" = "mno-restore: error: $BATS_TEST_TMPDIR/nonexistent.mnoa: cannot open: No such file or directory" ]
}

@test "review3: --diff prints a key's control characters escaped (C1 too): a newline in a key cannot forge a report line" {
  t=$(pg_newdb review3_ctl)
  psql -X -q -v ON_ERROR_STOP=1 -d "$t" <<'SQL'
CREATE TABLE public.ctl (k text PRIMARY KEY, v integer);
INSERT INTO public.ctl VALUES (E'a\n  missing  k=fake', 1), (E'tab\there', 2), (E'esc\033[31mred', 3), (E'back\\slash', 4), (E'csi\u009b31mred', 5);
SQL
  echo 'public.ctl: global' >ctl.scope
  mno-dump --quiet --source "$t" --all --scope ctl.scope -o ctl.mnoa
  psql -X -q -v ON_ERROR_STOP=1 -d "$t" -c 'DELETE FROM public.ctl'
  run mno-verify --archive ctl.mnoa --target "$t" --diff
  [ "$status" -eq 1 ]
  [[ "$output" == *$'\npublic.ctl: 5 keys differ\n  missing  k=a\\n  missing  k=fake\n  missing  k=back\\\\slash\n  missing  k=csi\\u009b31mred\n  missing  k=esc\\x1b[31mred\n  missing  k=tab\\there\nverdict: '* ]]
  # --json keeps the values as they are
  run mno-verify --archive ctl.mnoa --target "$t" --diff --json
  [ "$(jq -r '.sections[0].diff[0].key.k' <<<"$output")" = $'a\n  missing  k=fake' ]
}
