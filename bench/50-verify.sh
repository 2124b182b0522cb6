#!/usr/bin/env bash
# 50-verify.sh: mno-verify of a large table (and a large Connec!-like collection set) against
# dumping it again with mno-dump: the verification of a restored table must cost far less than
# a second dump (target: at most 0.5x of the dump's time). Times with hyperfine, peak memory
# with /usr/bin/time -v; prints a markdown fragment with the ratios.
# PostgreSQL: table public.big, 1 M rows at BENCH_SCALE=1, generated here. MongoDB: database
# bench_connec when bench/00-data.sh or 20-dump-mongo.sh made it, else 300 k documents here.
# The target of each verify holds exactly the archive's rows (the archive was dumped from it),
# as a restored database does.
set -euo pipefail
: "${MNO_TEST_PG_URI:?run through bench/run}"
: "${MNO_TEST_MONGO_URI:?run through bench/run}"
. "$MNO_TOP/tests/lib/env.sh"
scale=${BENCH_SCALE:-1}
work=${MNO_BENCH_WORK:-$(mktemp -d)}/50-verify
mkdir -p "$work"
rows=$(awk -v s="$scale" 'BEGIN { printf "%d", 1000000 * s }')

# ---- PostgreSQL ----------------------------------------------------------------------
pg=$(pg_newdb bench_verify)
psql -X -q -v ON_ERROR_STOP=1 -d "$pg" <<SQL
CREATE TABLE public.big (id bigint PRIMARY KEY, uid text NOT NULL, name text, email text,
  amount numeric(12,2), created_at timestamptz, settings jsonb, active boolean);
INSERT INTO public.big SELECT g, 'usr-' || md5(g::text), 'Name ' || g || CASE WHEN g % 7 = 0 THEN ', "q"' ELSE '' END,
  'user' || g || '@example.com', (g % 100000) / 100.0, '2020-01-01 00:00:00+00'::timestamptz + g * interval '1 second',
  jsonb_build_object('n', g, 'tags', jsonb_build_array('a', g % 10)), g % 2 = 0
  FROM generate_series(1, $rows) g;
VACUUM ANALYZE public.big;
SQL
echo 'public.big: global' >"$work/pg.scope"
dump_pg="$MNO_BIN/mno-dump --source $pg --all --scope $work/pg.scope --quiet"
"$MNO_BIN/mno-dump" --source "$pg" --all --scope "$work/pg.scope" --quiet -o "$work/pg.mnoa"
"$MNO_BIN/mno-dump" --source "$pg" --all --scope "$work/pg.scope" --quiet -z -o "$work/pg.mnoa.zst"
"$MNO_BIN/mno-verify" --archive "$work/pg.mnoa.zst" --target "$pg" >&2   # must say ok

# ---- MongoDB --------------------------------------------------------------------------
base=${MNO_TEST_MONGO_URI%/}
base=${base%%\?*}
mongo="$base/bench_connec"
client=$MNO_TESTBIN/mongodump-client
total() { local n=0 c; for c in $("$client" colls "$mongo"); do n=$((n + $("$client" count "$mongo" "$c"))); done; echo "$n"; }
docs=$(total)
if [ "$docs" -eq 0 ]; then
  want=$(awk -v s="$scale" 'BEGIN { printf "%d", 300000 * s }')
  echo "50-verify: bench_connec is empty; generating $want documents" >&2
  for c in people invoices accounts; do
    python3 - "$c" "$((want / 3))" <<'EOF' | "$client" insert "$mongo" "$c" >/dev/null
import json, sys
coll, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    print(json.dumps({"_id": "%s-%08d-7fef-4bbb-8ccc" % (coll[:3], i),
        "channel_id": "org-%d" % (i % 997), "group_id": "cld-%d" % (i % 31),
        "code": "C%d" % i, "status": "ACTIVE", "name": "Name %d" % i,
        "amount": {"$numberDecimal": "%d.%02d" % (i, i % 100)}, "qty": i % 1000,
        "created_at": {"$date": {"$numberLong": str(1475541383000 + i)}},
        "lines": [{"item": "i%d" % (i % 50), "price": i * 0.25}],
        "resource_type": coll}, separators=(",", ":")))
EOF
  done
  docs=$(total)
fi
"$client" colls "$mongo" | sed 's/$/: match channel_id in org_uids/' >"$work/mongo.scope"
dump_mongo="$MNO_BIN/mno-dump --source $mongo --all --scope $work/mongo.scope --quiet"
$dump_mongo -o "$work/mongo.mnoa"
$dump_mongo -z -o "$work/mongo.mnoa.zst"
"$MNO_BIN/mno-verify" --archive "$work/mongo.mnoa.zst" --target "$mongo" >&2

# ---- measure --------------------------------------------------------------------------
verify="$MNO_BIN/mno-verify --target"
hyperfine --warmup 1 --runs 3 --export-json "$work/t.json" \
  -n "pg dump" "$dump_pg -o $work/again.mnoa" \
  -n "pg verify" "$verify $pg --archive $work/pg.mnoa -o /dev/null" \
  -n "pg dump -z" "$dump_pg -z -o $work/again.mnoa.zst" \
  -n "pg verify (zstd archive)" "$verify $pg --archive $work/pg.mnoa.zst -o /dev/null" \
  -n "mongo dump" "$dump_mongo -o $work/again.mnoa" \
  -n "mongo verify" "$verify $mongo --archive $work/mongo.mnoa -o /dev/null" \
  -n "mongo dump -z" "$dump_mongo -z -o $work/again.mnoa.zst" \
  -n "mongo verify (zstd archive)" "$verify $mongo --archive $work/mongo.mnoa.zst -o /dev/null" \
  -n "mongo cursor loop" "$MNO_TESTBIN/mongo_cursor_baseline $mongo" >&2

rss() { /usr/bin/time -v "$@" 2>&1 >/dev/null | awk -F': ' '/Maximum resident/ { print $2 }'; }
# shellcheck disable=SC2086
{
  echo "pg dump $(rss $dump_pg -o "$work/again.mnoa")"
  echo "pg verify $(rss $verify "$pg" --archive "$work/pg.mnoa" -o /dev/null)"
  echo "mongo dump $(rss $dump_mongo -o "$work/again.mnoa")"
  echo "mongo verify $(rss $verify "$mongo" --archive "$work/mongo.mnoa" -o /dev/null)"
} >"$work/rss"

python3 - "$work/t.json" "$work/rss" "$rows" "$docs" "$scale" \
  "$(stat -c %s "$work/pg.mnoa")" "$(stat -c %s "$work/mongo.mnoa")" <<'EOF'
import json, sys
t = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
rss = {}
for line in open(sys.argv[2]):
    k, v = line.rsplit(" ", 1)
    rss[k] = int(v)
rows, docs, scale, pgb, mgb = sys.argv[3:]
print("## mno-verify against a second dump")
print()
print("PostgreSQL: table public.big, %s rows (BENCH_SCALE=%s), archive %.1f MB plain; the target"
      " hashes its rows in the server (md5 of the record text, summed in SQL) while the archive"
      " is read and checked. MongoDB: %s documents of database bench_connec, archive %.1f MB"
      " plain; the target's documents are hashed as they stream. Each verify's target holds"
      " exactly the archive's rows, as after a restore." % (rows, scale, int(pgb) / 1e6, docs, int(mgb) / 1e6))
print()
print("| engine | archive | mno-dump s | mno-verify s | verify / dump |")
print("|---|---|---|---|---|")
for eng, label in (("pg", "PostgreSQL"), ("mongo", "MongoDB")):
    for z, zl in (("", "plain"), (" -z", "zstd")):
        d = t["%s dump%s" % (eng, z)]
        v = t["%s verify%s" % (eng, " (zstd archive)" if z else "")]
        print("| %s | %s | %.2f ± %.2f | %.2f ± %.2f | %.2f |" %
              (label, zl, d["mean"], d["stddev"] or 0, v["mean"], v["stddev"] or 0, v["mean"] / d["mean"]))
print()
print("Peak RSS (plain archive): PostgreSQL dump %.1f MB, verify %.1f MB; MongoDB dump %.1f MB,"
      " verify %.1f MB." % (rss["pg dump"] / 1024, rss["pg verify"] / 1024, rss["mongo dump"] / 1024,
                            rss["mongo verify"] / 1024))
print()
c = t["mongo cursor loop"]
print("MongoDB's floor: a plain libmongoc cursor loop over the same documents (no hashing, no archive)"
      " takes %.3f s; mno-verify hashes each collection in a reading thread (256 KiB batches, SIMD md5 by"
      " whichever thread is free) while the archive's section is read, so it costs that loop plus"
      " a little (%.2fx of it)." % (c["mean"], t["mongo verify"]["mean"] / c["mean"]))
print()
print("Target: mno-verify at most 0.5x of mno-dump's time.")
EOF
