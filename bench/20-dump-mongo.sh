#!/usr/bin/env bash
# 20-dump-mongo.sh: mno-dump --all of the Connec! bench database (1 M documents at BENCH_SCALE=1)
# against a plain libmongoc cursor loop that reads the same documents (bench/mongo_cursor_baseline.c);
# time with hyperfine (interleaved rounds), peak memory with /usr/bin/time -v. Prints a markdown
# fragment with ratios.
# The data is loaded by bench/00-data.sh into database bench_connec; when it is absent (this
# script run alone), a Connec!-like collection set is generated here.
set -euo pipefail
: "${MNO_TEST_MONGO_URI:?run through bench/run}"
scale=${BENCH_SCALE:-1}
work=${MNO_BENCH_WORK:-$(mktemp -d)}/20-dump-mongo
mkdir -p "$work"
base=${MNO_TEST_MONGO_URI%/}
base=${base%%\?*}
uri="$base/bench_connec"
client=$MNO_TESTBIN/mongodump-client
baseline=$MNO_TESTBIN/mongo_cursor_baseline

total() { local n=0 c; for c in $("$client" colls "$uri"); do n=$((n + $("$client" count "$uri" "$c"))); done; echo "$n"; }

docs=$(total)
if [ "$docs" -eq 0 ]; then
  want=$(awk -v s="$scale" 'BEGIN { printf "%d", 1000000 * s }')
  echo "20-dump-mongo: bench_connec is empty; generating $want documents" >&2
  for c in people invoices accounts; do
    python3 - "$c" "$((want / 3))" <<'EOF' | "$client" insert "$uri" "$c" >/dev/null
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

# Every collection of the database, scoped by channel_id (ignored by --all: all documents).
scope=$work/bench.scope
"$client" colls "$uri" | sed 's/$/: match channel_id in org_uids/' >"$scope"

dump="$MNO_BIN/mno-dump --source $uri --all --scope $scope --quiet -o $work/out.mnoa"
dumpz="$MNO_BIN/mno-dump --source $uri --all --scope $scope --quiet -z -o $work/out.mnoa.zst"
dumpn="$MNO_BIN/mno-dump --source $uri --all --scope $scope --quiet -o /dev/null"
base_cmd="$baseline $uri"

# The commands run interleaved: each round times every command once, in an order that rotates
# from round to round, so that a change in a shared machine's load weighs on every command
# alike; round 0 is the warm-up. Each run writes a new file (--prepare removes the last one:
# replacing a 135 MB file would time the file system freeing the old one).
names=(baseline mno-dump "mno-dump -z" "mno-dump -o /dev/null")
cmds=("$base_cmd" "$dump" "$dumpz" "$dumpn")
rounds=6
for r in $(seq 0 $rounds); do
  args=()
  for k in "${!names[@]}"; do
    i=$(( (k + r) % ${#names[@]} ))
    args+=(-n "${names[$i]}" "${cmds[$i]}")
  done
  hyperfine -N --runs 1 --prepare "rm -f $work/out.mnoa $work/out.mnoa.zst" --export-json "$work/t.$r.json" "${args[@]}" >&2
done

rss() { /usr/bin/time -v "$@" 2>&1 >/dev/null | awk -F': ' '/Maximum resident/ { print $2 }'; }
# shellcheck disable=SC2086
m_base=$(rss $base_cmd); rm -f "$work/out.mnoa" "$work/out.mnoa.zst"; m_dump=$(rss $dump); m_dumpz=$(rss $dumpz)
bytes=$(stat -c %s "$work/out.mnoa"); zbytes=$(stat -c %s "$work/out.mnoa.zst")

python3 - "$work" "$rounds" "$docs" "$m_base" "$m_dump" "$m_dumpz" "$bytes" "$zbytes" "$scale" <<'EOF'
import json, statistics, sys
work, rounds = sys.argv[1], int(sys.argv[2])
times = {}
for r in range(1, rounds + 1):
    for res in json.load(open("%s/t.%d.json" % (work, r)))["results"]:
        times.setdefault(res["command"], []).extend(res["times"])
t = {n: {"mean": statistics.mean(v), "stddev": statistics.stdev(v)} for n, v in times.items()}
docs, mb, md, mz, by, zb, scale = sys.argv[3:]
b = t["baseline"]["mean"]
print("## mno-dump, MongoDB (Connec!)")
print()
print("%s documents (BENCH_SCALE=%s) in database bench_connec, dumped whole (`--all`) to a new file;"
      " the baseline is a plain libmongoc find loop sorted by _id with the same batch size"
      " (bench/mongo_cursor_baseline.c), which writes nothing. Archive: %.1f MB plain, %.1f MB zstd."
      " Mean of %d runs each, the commands interleaved (one run of each per round, the order rotating)."
      " `-o /dev/null` is the same dump without the file system: reading, hashing and printing only." %
      (docs, scale, int(by) / 1e6, int(zb) / 1e6, rounds))
print()
print("| run | mean s | ratio to baseline | peak RSS MB | memory ratio |")
print("|---|---|---|---|---|")
for name, m in (("baseline", mb), ("mno-dump", md), ("mno-dump -z", mz), ("mno-dump -o /dev/null", None)):
    r = t[name]
    mem = "| %.1f | %.2f |" % (int(m) / 1024, int(m) / int(mb)) if m else "| - | - |"
    print("| %s | %.2f ± %.2f | %.2f %s" % (name, r["mean"], r["stddev"] or 0, r["mean"] / b, mem))
print()
print("Target: mno-dump within 1.5x of the baseline.")
EOF
