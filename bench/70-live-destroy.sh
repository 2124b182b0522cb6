#!/usr/bin/env bash
# 70-live-destroy.sh: peak memory (/usr/bin/time -v) and time of mno-freeze --destroy --yes
# on a small and a 10x larger tenant, on MnoHub (PostgreSQL) and on Connec! (MongoDB): the
# keys of what it deletes are streamed from the final archive, so memory must not grow with
# the tenant (docs/live.md). Prints a markdown fragment; asserts nothing.
# Data: one tenant (acme), tests/fixtures/load --tenants 1 --scale 29 and 290 (x BENCH_SCALE)
# for MnoHub (~27,000 and ~267,000 rows), --scale 60 and 600 for Connec! (~20,000 and
# ~200,000 documents).
set -euo pipefail
: "${MNO_TEST_PG_URI:?run through bench/run}"
. "$MNO_TOP/tests/lib/env.sh"
scale=${BENCH_SCALE:-1}
work=${MNO_BENCH_WORK:-$(mktemp -d)}/70-live-destroy
mkdir -p "$work"
cd "$work"
B=$MNO_BIN
export MNO_SCOPE_DIR=$MNO_TOP/filters
sc() { awk -v a="$1" -v s="$scale" 'BEGIN { printf "%d", a * s }'; }
# measure LABEL CMD...: "LABEL<TAB>max RSS kB<TAB>elapsed" into results
measure() {
  local label=$1; shift
  /usr/bin/time -v "$@" >/dev/null 2>"$work/time.txt"
  printf '%s\t%s\t%s\n' "$label" "$(awk -F': ' '/Maximum resident/ { print $2 }' "$work/time.txt")" \
    "$(awk -F': ' '/Elapsed/ { print $2 }' "$work/time.txt")" >>"$work/results"
}
: >"$work/results"
# MnoHub alone (its own report), and Connec! with the MnoHub report of its own scale
printf 'mnohub public.organizations: set account_frozen = true\nmnohub public.users: set account_frozen = true\nmnohub *: verified\n' >hub.rules
printf 'mnohub public.organizations: set account_frozen = true\nmnohub public.users: set account_frozen = true\nmnohub *: verified\nconnec *: verified\n' >freeze.rules
for size in small big; do
  hs=$(sc 29); cs=$(sc 60)
  [ $size = big ] && hs=$(sc 290) && cs=$(sc 600)
  hub=$(pg_newdb "bench_live_hub_$size"); ent=$(pg_newdb "bench_live_ent_$size")
  hubc=$(pg_newdb "bench_live_hubc_$size"); entc=$(pg_newdb "bench_live_entc_$size")
  cx=$(mongo_newdb "bench_live_cx_$size"); cxe=$(mongo_newdb "bench_live_cxe_$size")
  "$MNO_TOP/tests/fixtures/load" mnohub "$hub" --tenants 1 --scale "$hs"
  "$MNO_TOP/tests/fixtures/load" mnohub "$hubc" --tenants 1 --scale "$cs"
  "$MNO_TOP/tests/fixtures/load" connec "$cx" --tenants 1 --scale "$cs"
  for h in hub hubc; do
    u=$hub; e=$ent; [ $h = hubc ] && u=$hubc && e=$entc
    "$B/mno-dump" --source "$u" --tenant acme --quiet -o $h-$size.mnoa
    "$B/mno-restore" --target "$e" --create --quiet $h-$size.mnoa
    "$B/mno-verify" --archive $h-$size.mnoa --target "$e" --json -o $h-$size.json
  done
  "$B/mno-dump" --source "$cx" --tenant acme --hub "$hubc" --quiet -o cx-$size.mnoa
  "$B/mno-restore" --target "$cxe" --create --quiet cx-$size.mnoa
  "$B/mno-verify" --archive cx-$size.mnoa --target "$cxe" --json -o cx-$size.json
  rows=$("$B/mno-cat" --list hub-$size.mnoa | awk -F'\t' '{ n += $2 } END { print n }')
  docs=$("$B/mno-cat" --list cx-$size.mnoa | awk -F'\t' '{ n += $2 } END { print n }')
  "$B/mno-freeze" --target "$hub" --tenant acme --verified hub-$size.json --rules hub.rules --undo-file f-$size.mnoa >/dev/null
  "$B/mno-freeze" --target "$hubc" --tenant acme --verified hubc-$size.json --verified cx-$size.json --connec "$cx" \
    --rules freeze.rules --undo-file fc-$size.mnoa >/dev/null
  measure "MnoHub, $rows rows" "$B/mno-freeze" --target "$hub" --tenant acme --verified hub-$size.json \
    --rules hub.rules --destroy --frozen-by f-$size.mnoa --yes --final-archive hf-$size.mnoa
  measure "Connec!, $docs documents" "$B/mno-freeze" --target "$cx" --tenant acme --verified hubc-$size.json \
    --verified cx-$size.json --rules freeze.rules --destroy --hub "$hubc" --yes --final-archive cf-$size.mnoa
done
echo "## mno-freeze --destroy: peak memory"
echo
echo "One tenant; the whole run (re-check, final archive written and read back, deletion)."
echo
echo "| tenant | peak memory (max RSS) | time |"
echo "|---|---|---|"
awk -F'\t' '{ printf "| %s | %.1f MB | %s |\n", $1, $2 / 1024, $3 }' "$work/results"
