#!/usr/bin/env bash
# 10-dump-pg.sh: mno-dump against PostgreSQL's own tools on the same rows: one large table
# (public.audit_events, 1 M rows of ~450 bytes at BENCH_SCALE=1) dumped whole against
# `psql \copy ... to` and `pg_dump --data-only`, plain and piped to zstd; and a 1% tenant dump
# (one tenant of 100) against the full dump of the same database. Times with hyperfine, peak
# memory with /usr/bin/time -v. Prints a markdown fragment with the ratios.
set -euo pipefail
: "${MNO_TEST_PG_URI:?run through bench/run}"
. "$MNO_TOP/tests/lib/env.sh"
scale=${BENCH_SCALE:-1}
work=${MNO_BENCH_WORK:-$(mktemp -d)}/10-dump-pg
mkdir -p "$work"
export PGOPTIONS="-c TimeZone=UTC -c DateStyle=ISO -c IntervalStyle=postgres -c extra_float_digits=3 -c bytea_output=hex"

uri=$(pg_newdb bench_dump_pg)
rows=$(awk -v s="$scale" 'BEGIN { printf "%d", 1000000 * s }')
echo "10-dump-pg: loading the fixtures and $rows audit events" >&2
"$MNO_TOP/tests/fixtures/load" mnohub "$uri"
# 97 more tenants (100 in all), one organization and two users each; the audit events spread
# evenly over the tenants, so that each tenant holds 1% of the large table, and stored in id
# order as an append-only log is (a join's output order would scatter them over the heap,
# and reading them in key order, as the archive format asks, would then cost the server a
# random heap access per row that \copy does not pay: see the "copy, key order" row)
psql -X -q -v ON_ERROR_STOP=1 -d "$uri" <<SQL
INSERT INTO public.tenants (name, domain, created_at, updated_at)
  SELECT 'bench-' || lpad(g::text, 3, '0'), 'bench' || g || '.test', now(), now() FROM generate_series(4, 100) g;
INSERT INTO public.organizations (uid, name, mnoe_tenant_id, created_at, updated_at)
  SELECT 'org-bench-' || t.id, 'Bench ' || t.name, t.id, now(), now() FROM public.tenants t WHERE t.name LIKE 'bench-%';
INSERT INTO public.users (uid, email, mnoe_tenant_id, created_at, updated_at)
  SELECT 'usr-bench-' || t.id || '-' || k, 'u' || k || '@' || t.domain, t.id, now(), now()
  FROM public.tenants t, generate_series(1, 2) k WHERE t.name LIKE 'bench-%';
DELETE FROM public.audit_events;
CREATE TEMP TABLE pool AS
  SELECT row_number() OVER (ORDER BY t.id) - 1 AS k, (SELECT min(o.id) FROM public.organizations o WHERE o.mnoe_tenant_id = t.id) AS org,
         (SELECT min(u.id) FROM public.users u WHERE u.mnoe_tenant_id = t.id) AS usr
  FROM public.tenants t;
INSERT INTO public.audit_events (id, key, user_id, organization_id, description, metadata, subject_type, subject_id, created_at)
  SELECT g, 'user.login.' || (g % 17), p.usr, p.org,
         'User ' || g || ' signed in from "office", (tab	here) ünïcødé ' || md5(g::text),
         '{"ip": "10.0.' || (g % 255) || '.1", "agent": "Mozilla/5.0 (X11; Linux x86_64)", "n": ' || g || '}',
         'Organization', p.org, '2020-01-01 00:00:00+00'::timestamptz + g * interval '1 second'
  FROM generate_series(1, $rows) g JOIN pool p ON p.k = g % 100 ORDER BY g;
CREATE INDEX index_audit_events_on_user_id ON public.audit_events (user_id);
VACUUM ANALYZE;
SQL

# the large table alone: a scope with audit_events global and every other table skipped
scope=$work/one.scope
psql -X -At -d "$uri" -c "SELECT 'public.' || tablename || ': ' || CASE tablename WHEN 'audit_events' THEN 'global' ELSE 'skip' END FROM pg_tables WHERE schemaname = 'public'" >"$scope"
hub=$MNO_TOP/filters/mnohub.scope

dump="$MNO_BIN/mno-dump --source $uri --all --scope $scope --quiet -o $work/one.mnoa"
copy="psql -X -q -d $uri -c '\\copy public.audit_events to $work/one.copy'"
sel=$(mno-dump --source "$uri" --all --scope "$scope" --plan 2>/dev/null | awk -F'\t' '$1 == "public.audit_events" { print $3 }')
copyo="psql -X -q -d $uri -c '\\copy ($sel) to $work/one.ordered.copy'"
pgd="pg_dump --data-only -t public.audit_events -d $uri -f $work/one.sql"
dumpz="$MNO_BIN/mno-dump --source $uri --all --scope $scope --quiet | zstd -q -1 -f -o $work/one.mnoa.zst"
copyz="psql -X -q -d $uri -c '\\copy public.audit_events to stdout' | zstd -q -1 -f -o $work/one.copy.zst"
pgdz="pg_dump --data-only -t public.audit_events -d $uri | zstd -q -1 -f -o $work/one.sql.zst"
full="$MNO_BIN/mno-dump --source $uri --all --scope $hub --quiet -o $work/full.mnoa"
tenant="$MNO_BIN/mno-dump --source $uri --tenant acme --scope $hub --quiet -o $work/acme.mnoa"

# The commands run interleaved: each round times every command once with hyperfine, in an
# order that rotates from round to round, so that a change in the machine's load while the
# bench runs (a shared machine) weighs on every command alike. Round 0 is the warm-up.
names=(copy "copy, key order" pg_dump mno-dump "copy | zstd" "pg_dump | zstd" "mno-dump | zstd" "full dump" "1% tenant")
cmds=("$copy" "$copyo" "$pgd" "$dump" "$copyz" "$pgdz" "$dumpz" "$full" "$tenant")
rounds=8
for r in $(seq 0 $rounds); do
  args=()
  for k in "${!names[@]}"; do
    i=$(( (k + r) % ${#names[@]} ))
    args+=(-n "${names[$i]}" "${cmds[$i]}")
  done
  hyperfine --runs 1 --export-json "$work/t.$r.json" "${args[@]}" >&2
done

rss() { /usr/bin/time -v sh -c "$1" 2>&1 >/dev/null | awk -F': ' '/Maximum resident/ { print $2 }'; }
m_copy=$(rss "$copy"); m_dump=$(rss "$dump"); m_pgd=$(rss "$pgd")
sizes="$(stat -c %s "$work/one.copy") $(stat -c %s "$work/one.mnoa") $(stat -c %s "$work/one.sql")"
sizes="$sizes $(stat -c %s "$work/one.copy.zst") $(stat -c %s "$work/one.mnoa.zst") $(stat -c %s "$work/one.sql.zst")"
trows=$(mno-cat --list "$work/acme.mnoa" | awk -F'\t' '$1 == "public.audit_events" { print $2 }')
frows=$(mno-cat --list "$work/full.mnoa" | awk -F'\t' '{ n += $2 } END { print n }')

python3 - "$work" "$rounds" "$rows" "$scale" "$m_copy" "$m_dump" "$m_pgd" "$trows" "$frows" $sizes <<'EOF'
import json, statistics, sys
work, rounds = sys.argv[1], int(sys.argv[2])
times = {}
for r in range(1, rounds + 1):
    for res in json.load(open("%s/t.%d.json" % (work, r)))["results"]:
        times.setdefault(res["command"], []).extend(res["times"])
t = {n: {"mean": statistics.mean(v), "stddev": statistics.stdev(v)} for n, v in times.items()}
rows, scale, mc, md, mp, trows, frows = sys.argv[3:10]
sc, sm, sp, zc, zm, zp = (int(x) / 1e6 for x in sys.argv[10:16])
def row(name, base):
    r = t[name]
    return "| %s | %.2f ± %.2f | %.2f |" % (name.replace("|", "\\|"), r["mean"], r["stddev"] or 0,
                                          r["mean"] / t[base]["mean"])
print("## mno-dump, PostgreSQL (MnoHub)")
print()
print("One large table, public.audit_events: %s rows (BENCH_SCALE=%s), dumped whole to a file."
      " Mean of %d runs each, the commands interleaved (one run of each per round, the order"
      " rotating)." % (rows, scale, rounds))
print("Output: COPY text %.0f MB, mno archive %.0f MB (JSON Lines: the column names on every line),"
      " pg_dump %.0f MB; through `zstd -1`: %.0f, %.0f and %.0f MB." % (sc, sm, sp, zc, zm, zp))
print()
print("`copy, key order` is `psql \\copy` of mno-dump's own query (the table's columns `ORDER BY` its key: the"
      " archive format keeps records in key order).")
print()
print("| run | mean s | ratio to psql \\copy |")
print("|---|---|---|")
for n in ("copy", "copy, key order", "pg_dump", "mno-dump"):
    print(row(n, "copy"))
print()
print("| run, piped to zstd -1 | mean s | ratio to psql \\copy \\| zstd |")
print("|---|---|---|")
for n in ("copy | zstd", "pg_dump | zstd", "mno-dump | zstd"):
    print(row(n, "copy | zstd"))
print()
print("Peak RSS: psql %.1f MB, pg_dump %.1f MB, mno-dump %.1f MB." % (int(mc) / 1024, int(mp) / 1024, int(md) / 1024))
print()
f, a = t["full dump"]["mean"], t["1% tenant"]["mean"]
print("A 1%% tenant (acme: %s of the %s audit events; %s rows in the whole database) against the"
      " full dump (`--all`) of the same database with filters/mnohub.scope: %.2f s against %.2f s,"
      " **%.1f%%** of the full dump's time." % (trows, rows, frows, a, f, 100 * a / f))
print()
print("Targets: mno-dump within 1.25x of psql \\copy for the same rows; a 1% tenant in under 5% of"
      " the full dump's time.")
EOF
