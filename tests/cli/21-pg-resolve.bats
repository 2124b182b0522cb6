#!/usr/bin/env bats
# 21-pg-resolve.bats: a PostgreSQL section's table is resolved by schema and table in the
# catalog, never through search_path (issue 18.1): an unqualified ns such as pg_authid, or a
# reserved schema, is refused by mno-restore (also --dry-run, --create, -j) and mno-verify,
# and nothing is written. Archives are hand-made (printf), sealed by mno-cat.

setup_file() {
  export MNO_TOP=${MNO_TOP:-$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}
  export PATH="$MNO_BIN:$PATH"
  . "$MNO_TOP/tests/lib/env.sh"
}

setup() {
  . "$MNO_TOP/tests/lib/env.sh"
  cd "$BATS_TEST_TMPDIR"
}

q() { psql -X -At -v ON_ERROR_STOP=1 -d "$1" -c "$2"; }

# hand_archive NS OUT: a sealed one-section archive whose section NS holds one row of
# pg_authid's shape that would make role x a superuser.
hand_archive() {
  local ns=$1 out=$2 j
  j=$(jq -cn --arg ns "$ns" '$ns')
  { printf '{"t":"header","format":"mnoa","version":1,"engine":"postgresql","source":"mnohub","tenant":"acme","producer":"hand"}\n'
    printf '{"t":"begin","ns":%s,"columns":[{"name":"rolname","type":"name"},{"name":"rolsuper","type":"boolean"}],"key":["rolname"]}\n' "$j"
    printf '{"t":"rec","ns":%s,"v":{"rolname":"x","rolsuper":"t"}}\n' "$j"
    printf '{"t":"end","ns":%s,"count":0,"sum":"00000000000000000000000000000000"}\n' "$j"
    printf '{"t":"trailer","sections":1,"count":0,"sum":"00000000000000000000000000000000"}\n'; } >"$out.raw"
  mno-cat --seal -o "$out" "$out.raw"
}

@test "pg resolve: an unqualified ns (pg_authid) is refused by restore, --dry-run, --create, -j and verify; no role is made" {
  t=$(pg_newdb resolve_authid)
  hand_archive pg_authid authid.mnoa
  before=$(q "$t" "SELECT string_agg(rolname || ':' || rolsuper, ',' ORDER BY rolname) FROM pg_roles")
  msg="authid.mnoa:2: section pg_authid: section name has no schema: a PostgreSQL section names its table as schema.table (never looked up through a search path)"
  run mno-restore --target "$t" authid.mnoa
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "mno-restore: error: $msg" ]
  run mno-restore --target "$t" --create authid.mnoa
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "mno-restore: error: $msg" ]
  run mno-restore --target "$t" -j 2 authid.mnoa
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "mno-restore: error: $msg" ]
  run mno-restore --target "$t" --dry-run authid.mnoa
  [ "$status" -eq 2 ]
  [[ "$output" == *"pg_authid	1	would fail: section name has no schema"* ]]
  run mno-verify --archive authid.mnoa --target "$t"
  [ "$status" -eq 2 ]
  [[ "$output" == *"section pg_authid: section name has no schema"* ]]
  [ "$(q "$t" "SELECT string_agg(rolname || ':' || rolsuper, ',' ORDER BY rolname) FROM pg_roles")" = "$before" ]
  [ "$(q "$t" "SELECT count(*) FROM pg_roles WHERE rolname = 'x'")" = 0 ]
  [ "$(q "$t" "SELECT to_regclass('mno_migrate.journal') IS NULL")" = t ]
}

@test "pg resolve: an unqualified ns never reaches a public table of that name either" {
  t=$(pg_newdb resolve_public)
  q "$t" "CREATE TABLE public.pg_authid (rolname name PRIMARY KEY, rolsuper boolean)" >/dev/null
  hand_archive pg_authid a.mnoa
  run mno-restore --target "$t" a.mnoa
  [ "$status" -eq 2 ]
  [ "$(q "$t" "SELECT count(*) FROM public.pg_authid")" = 0 ]
}

@test "pg resolve: reserved schemas, written bare or quoted, are refused with and without --create" {
  t=$(pg_newdb resolve_reserved)
  for ns in pg_catalog.pg_authid '"pg_catalog".pg_authid' '"pg_catalog"."pg_authid"' information_schema.sql_features \
            pg_toast.x pg_temp.x pg_temp_3.x '"information_schema".x' mno_migrate.journal; do
    hand_archive "$ns" r.mnoa
    schema=$(jq -rn --arg s "$ns" '$s | if startswith("\"") then (.[1:] | split("\"")[0]) else split(".")[0] end')
    for create in "" --create; do
      run mno-restore --target "$t" $create r.mnoa
      [ "$status" -eq 2 ]
      [ "${lines[0]}" = "mno-restore: error: r.mnoa:2: section $ns: schema '$schema' is reserved and cannot be restored" ]
    done
  done
  [ "$(q "$t" "SELECT count(*) FROM pg_roles WHERE rolname = 'x'")" = 0 ]
}

@test "pg resolve: a relation that is not a table (a view) is refused" {
  t=$(pg_newdb resolve_view)
  q "$t" "CREATE TABLE public.r (rolname name PRIMARY KEY, rolsuper boolean); CREATE VIEW public.v AS SELECT * FROM public.r" >/dev/null
  hand_archive public.v v.mnoa
  run mno-restore --target "$t" v.mnoa
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "mno-restore: error: v.mnoa:2: section public.v: public.v in the target is not a table (relkind 'v')" ]
  [ "$(q "$t" "SELECT count(*) FROM public.r")" = 0 ]
}

@test "pg resolve: a malformed quoted ns is a format error naming the line" {
  t=$(pg_newdb resolve_bad)
  hand_archive '"public.t' b.mnoa
  run mno-restore --target "$t" b.mnoa
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "mno-restore: error: b.mnoa:2: section \"public.t: section name is not a PostgreSQL schema.table: unterminated quoted identifier" ]
}
