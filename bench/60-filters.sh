#!/usr/bin/env bash
# 60-filters.sh: the stream filters against mno-cat --check on the same plain archive (the
# issue's targets: mno-cat --seal and every filter whose rules change nothing at least 0.7x of
# --check's throughput, i.e. at most 1/0.7 = 1.43x its time; the tenant filter on a 1%-tenant
# database too), mno-filter-select against jq (at least 10x faster), and a chain of three
# filters in a pipe against one filter (at most 2x on 2 cores). Times with hyperfine, peak
# memory with /usr/bin/time -v; prints a markdown fragment with the ratios.
# Data: table public.orgs (1,000 organizations of 100 tenants) and public.big (1 M rows at
# BENCH_SCALE=1, each of an organization), so one tenant holds 1% of the rows.
set -euo pipefail
: "${MNO_TEST_PG_URI:?run through bench/run}"
. "$MNO_TOP/tests/lib/env.sh"
scale=${BENCH_SCALE:-1}
work=${MNO_BENCH_WORK:-$(mktemp -d)}/60-filters
mkdir -p "$work"
rows=$(awk -v s="$scale" 'BEGIN { printf "%d", 1000000 * s }')
B=$MNO_BIN

pg=$(pg_newdb bench_filters)
psql -X -q -v ON_ERROR_STOP=1 -d "$pg" <<SQL
CREATE TABLE public.orgs (id bigint PRIMARY KEY, uid text NOT NULL, tenant text NOT NULL);
INSERT INTO public.orgs SELECT g, 'org-' || g, 't' || (g % 100) FROM generate_series(1, 1000) g;
CREATE TABLE public.big (id bigint PRIMARY KEY, org_id bigint NOT NULL, uid text NOT NULL, name text, email text,
  amount numeric(12,2), created_at timestamptz, settings jsonb, active boolean);
INSERT INTO public.big SELECT g, 1 + g % 1000, 'usr-' || md5(g::text), 'Name ' || g || CASE WHEN g % 7 = 0 THEN ', "q"' ELSE '' END,
  'user' || g || '@example.com', (g % 100000) / 100.0, '2020-01-01 00:00:00+00'::timestamptz + g * interval '1 second',
  jsonb_build_object('n', g, 'tags', jsonb_build_array('a', g % 10)), g % 2 = 0
  FROM generate_series(1, $rows) g;
VACUUM ANALYZE;
SQL
printf 'public.orgs: root tenant\npublic.big: parent org_id -> public.orgs.id\n' >"$work/t.scope"
"$B/mno-dump" --source "$pg" --all --scope "$work/t.scope" --quiet -o "$work/all.mnoa"
printf 'public.big: null nosuch_value_anywhere\n' >"$work/none.scrub"   # a column that is not there: --lenient
printf 'public.big: null settings\n' >"$work/nochange.scrub"
psql -X -q -d "$pg" -c "UPDATE public.big SET settings = NULL WHERE false" >/dev/null
printf "public.big: set 'x' name\n" >"$work/all.scrub"
export MNO_SCRUB_KEY=bench
A=$work/all.mnoa

hyperfine --warmup 1 --runs 5 --export-json "$work/t.json" \
  -n "check" "$B/mno-cat --check $A" \
  -n "seal" "$B/mno-cat --seal $A >/dev/null" \
  -n "select (all kept)" "$B/mno-filter-select $A >/dev/null" \
  -n "select (public.big out)" "$B/mno-filter-select --exclude public.big $A >/dev/null" \
  -n "scrub (no rule applies)" "$B/mno-filter-scrub --lenient --rules $work/none.scrub $A >/dev/null" \
  -n "rename (no value matches)" "$B/mno-filter-rename --map public.big.name=nobody:none $A >/dev/null 2>&1" \
  -n "scrub (every record changed)" "$B/mno-filter-scrub --rules $work/all.scrub $A >/dev/null" \
  -n "tenant (1% kept)" "$B/mno-filter-tenant --tenant t7 --scope $work/t.scope $A >/dev/null" \
  -n "chain tenant|scrub|rename" "$B/mno-filter-tenant --tenant t7 --scope $work/t.scope $A | $B/mno-filter-scrub --lenient --rules $work/none.scrub | $B/mno-filter-rename --map public.big.name=nobody:none >/dev/null 2>&1" \
  -n "chain select|scrub|rename" "$B/mno-filter-select $A | $B/mno-filter-scrub --lenient --rules $work/none.scrub | $B/mno-filter-rename --map public.big.name=nobody:none >/dev/null 2>&1" \
  -n "jq select" "jq -c 'select(.ns != \"public.audit_events\")' $A >/dev/null" >&2

rss() { /usr/bin/time -v "$@" 2>&1 >/dev/null | awk -F': ' '/Maximum resident/ { print $2 }'; }
{
  echo "check $(rss "$B/mno-cat" --check "$A")"
  echo "select $(rss "$B/mno-filter-select" "$A")"
  echo "tenant $(rss "$B/mno-filter-tenant" --tenant t7 --scope "$work/t.scope" "$A")"
} >"$work/rss"

python3 - "$work/t.json" "$work/rss" "$rows" "$scale" "$(stat -c %s "$A")" <<'EOF'
import json, sys
t = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
rss = dict(l.rsplit(" ", 1) for l in open(sys.argv[2]).read().split("\n") if l)
rows, scale, size = sys.argv[3], sys.argv[4], int(sys.argv[5])
c = t["check"]["mean"]
print("## Stream filters (mno-filter-*) against mno-cat --check")
print()
print("One plain archive of %s rows (BENCH_SCALE=%s), %.1f MB: public.big, each row of one of"
      " 1,000 organizations of 100 tenants (a tenant holds 1%%), and public.orgs. Throughput"
      " ratio = mno-cat --check's time / the run's time (target: at least 0.7 for --seal and"
      " every filter whose rules change nothing, and the tenant filter)." % (rows, scale, size / 1e6))
print()
print("| run | mean s | MB/s | throughput ratio to --check |")
print("|---|---|---|---|")
for k in ("check", "seal", "select (all kept)", "select (public.big out)", "scrub (no rule applies)",
          "rename (no value matches)", "scrub (every record changed)", "tenant (1% kept)",
          "chain tenant|scrub|rename", "chain select|scrub|rename", "jq select"):
    r = t[k]
    print("| %s | %.2f ± %.2f | %.0f | %.2f |" % (k, r["mean"], r["stddev"] or 0, size / 1e6 / r["mean"], c / r["mean"]))
print()
print("mno-filter-select against jq -c 'select(.ns != ...)' (which cannot re-seal): %.1fx faster"
      " (target: at least 10x)." % (t["jq select"]["mean"] / t["select (all kept)"]["mean"]))
print()
print("A chain of three filters in a pipe against the first filter alone: tenant|scrub|rename %.2fx"
      " of tenant, select|scrub|rename %.2fx of select (target: at most 2x on 2 cores)." %
      (t["chain tenant|scrub|rename"]["mean"] / t["tenant (1% kept)"]["mean"],
       t["chain select|scrub|rename"]["mean"] / t["select (all kept)"]["mean"]))
print()
print("Peak RSS: mno-cat --check %.1f MB, mno-filter-select %.1f MB, mno-filter-tenant %.1f MB"
      " (it keeps the kept organizations' ids)." % (int(rss["check"]) / 1024, int(rss["select"]) / 1024,
                                                    int(rss["tenant"]) / 1024))
EOF
