#!/usr/bin/env bash
# 45-restore-mongo.sh: mno-restore of a Connec!-like MongoDB archive (300 k documents in 3
# collections at BENCH_SCALE=1) into a fresh database, against a plain libmongoc insert loop of
# the same documents from a BSON file (bench/mongo_insert_baseline.c); time with hyperfine,
# peak memory with /usr/bin/time -v. Prints a markdown fragment with ratios.
# The archive is generated here (Extended JSON records, sealed with mno-cat --seal).
set -euo pipefail
: "${MNO_TEST_MONGO_URI:?run through bench/run}"
scale=${BENCH_SCALE:-1}
work=${MNO_BENCH_WORK:-$(mktemp -d)}/45-restore-mongo
mkdir -p "$work"
base=${MNO_TEST_MONGO_URI%/}
base=${base%%\?*}
db=bench_restore_mongo
uri="$base/$db"
baseline=$MNO_TESTBIN/mongo_insert_baseline
cmd=$MNO_TESTBIN/mongod-command
per=$(awk -v s="$scale" 'BEGIN { printf "%d", 100000 * s }')

python3 - "$db" "$per" >"$work/raw.mnoa" <<'EOF'
import json, sys
db, per = sys.argv[1], int(sys.argv[2])
w = sys.stdout.write
w(json.dumps({"t": "header", "format": "mnoa", "version": 1, "engine": "mongodb", "source": "connec",
              "tenant": None}) + "\n")
for coll in ("accounts", "invoices", "people"):
    ns = "%s.%s" % (db, coll)
    w(json.dumps({"t": "begin", "ns": ns, "key": ["_id"], "options": {},
                  "indexes": [{"v": {"$numberInt": "2"}, "key": {"_id": {"$numberInt": "1"}}, "name": "_id_"},
                              {"v": {"$numberInt": "2"}, "key": {"channel_id": {"$numberInt": "1"}},
                               "name": "channel_id_1"}]}) + "\n")
    for i in range(per):
        d = {"_id": "%s-%08d-7fef-4bbb-8ccc" % (coll[:3], i),
             "channel_id": "org-%d" % (i % 997), "group_id": "cld-%d" % (i % 31),
             "code": "C%d" % i, "status": "ACTIVE", "name": "Name %d" % i,
             "amount": {"$numberDecimal": "%d.%02d" % (i, i % 100)}, "qty": {"$numberInt": str(i % 1000)},
             "created_at": {"$date": {"$numberLong": str(1475541383000 + i)}},
             "lines": [{"item": "i%d" % (i % 50), "price": {"$numberDouble": repr(i * 0.25)}}],
             "resource_type": coll}
        w('{"t":"rec","ns":%s,"v":%s}\n' % (json.dumps(ns), json.dumps(d, separators=(",", ":"))))
    w(json.dumps({"t": "end", "ns": ns, "count": 0, "sum": "0" * 32}) + "\n")
w(json.dumps({"t": "trailer", "sections": 3, "count": 0, "sum": "0" * 32}) + "\n")
EOF
"$MNO_BIN/mno-cat" --seal -o "$work/in.mnoa" "$work/raw.mnoa"
"$MNO_BIN/mno-cat" --seal -z -o "$work/in.mnoa.zst" "$work/raw.mnoa"
rm -f "$work/raw.mnoa"
"$baseline" tobson "$work/in.mnoa" >"$work/in.bson"
docs=$((3 * per))

drop="$cmd $MNO_TEST_MONGO_URI $db '{\"dropDatabase\":1}'"   # run by a shell (hyperfine, sh -c)
# the baseline inserts the same documents into one collection per run: the same bytes, the
# same number of inserts (the restore's three collections only add two renames)
base_cmd="$baseline insert $uri all $work/in.bson"
restore="$MNO_BIN/mno-restore --quiet --create --target $uri $work/in.mnoa"
restorez="$MNO_BIN/mno-restore --quiet --create --target $uri $work/in.mnoa.zst"
restoren="$MNO_BIN/mno-restore --quiet --create --no-check-first --target $uri $work/in.mnoa"

hyperfine --warmup 1 --runs 3 --prepare "$drop" --export-json "$work/t.json" \
  -n baseline "$base_cmd" -n mno-restore "$restore" -n "mno-restore --no-check-first" "$restoren" \
  -n "mno-restore (zstd)" "$restorez" >&2
# the check pass alone, as mno-cat --check reads (the same reader), plain and zstd
hyperfine -N --warmup 1 --runs 5 --export-json "$work/c.json" \
  -n "mno-cat --check" "$MNO_BIN/mno-cat --check $work/in.mnoa" \
  -n "mno-cat --check (zstd)" "$MNO_BIN/mno-cat --check $work/in.mnoa.zst" >&2

rss() { sh -c "$drop" >/dev/null; /usr/bin/time -v "$@" 2>&1 >/dev/null | awk -F': ' '/Maximum resident/ { print $2 }'; }
# shellcheck disable=SC2086
m_base=$(rss $base_cmd); m_rest=$(rss $restore); m_restz=$(rss $restorez)
bytes=$(stat -c %s "$work/in.mnoa"); zbytes=$(stat -c %s "$work/in.mnoa.zst")
sh -c "$drop" >/dev/null

python3 - "$work/t.json" "$work/c.json" "$docs" "$m_base" "$m_rest" "$m_restz" "$bytes" "$zbytes" "$scale" <<'EOF'
import json, sys
t = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"] + json.load(open(sys.argv[2]))["results"]}
docs, mb, mr, mz, by, zb, scale = sys.argv[3:]
b = t["baseline"]["mean"]
print("## mno-restore, MongoDB (Connec!)")
print()
print("%s documents (BENCH_SCALE=%s, 3 collections, one secondary index each) restored with"
      " `--create` into a fresh database from an archive of %.1f MB plain, %.1f MB zstd. The baseline"
      " is a plain libmongoc loop of unordered insert_many batches of the same documents read from"
      " a BSON file (bench/mongo_insert_baseline.c): no parsing, no checks, no index, no journal."
      " mno-restore parses and checks every record, stages each section, builds the index after"
      " the data, renames and journals; from a FILE it first reads and checks the whole archive"
      " (a bad archive changes nothing; that pass only sums, the documents decoded and hashed in a"
      " second thread), which `--no-check-first` skips." % (docs, scale, int(by) / 1e6, int(zb) / 1e6))
print()
print("| run | mean s | ratio to baseline | docs/s | peak RSS MB | memory ratio |")
print("|---|---|---|---|---|---|")
for name, m in (("baseline", mb), ("mno-restore", mr), ("mno-restore --no-check-first", None), ("mno-restore (zstd)", mz),
                ("mno-cat --check", None), ("mno-cat --check (zstd)", None)):
    r = t[name]
    print("| %s | %.2f ± %.2f | %.2f | %.0f | %s | %s |" %
          (name, r["mean"], r["stddev"] or 0, r["mean"] / b, int(docs) / r["mean"],
           "%.1f" % (int(m) / 1024) if m else "-", "%.2f" % (int(m) / int(mb)) if m else "-"))
print()
print("`mno-cat --check` is the check pass alone (the same reader, mno_stream_check), nothing written.")
print()
print("Target: mno-restore within 1.5x of the baseline, memory flat (staging insert batches hold at most 1 MiB, two at a time; 16 MiB when merging into an existing collection).")
EOF
