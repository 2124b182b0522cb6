#!/usr/bin/env bash
# 40-restore-pg.sh: mno-restore against PostgreSQL's own loaders on the same rows: the large
# table (public.audit_events of the MnoHub fixtures, 1 M rows of ~450 bytes at BENCH_SCALE=1)
# restored into an empty table with the same indexes, against `psql \copy ... from` of the same
# rows and `pg_restore --data-only` of a `pg_dump -Fc` of the table. Times with hyperfine,
# peak memory with /usr/bin/time -v. Prints a markdown fragment with the ratios.
set -euo pipefail
: "${MNO_TEST_PG_URI:?run through bench/run}"
. "$MNO_TOP/tests/lib/env.sh"
scale=${BENCH_SCALE:-1}
runs=${BENCH_RUNS:-5}
work=${MNO_BENCH_WORK:-$(mktemp -d)}/40-restore-pg
mkdir -p "$work"
export PGOPTIONS="-c TimeZone=UTC -c DateStyle=ISO -c IntervalStyle=postgres -c extra_float_digits=3 -c bytea_output=hex"

src=$(pg_newdb bench_restore_src)
tgt=$(pg_newdb bench_restore_tgt)
rows=$(awk -v s="$scale" 'BEGIN { printf "%d", 1000000 * s }')
echo "40-restore-pg: loading the fixtures and $rows audit events" >&2
"$MNO_TOP/tests/fixtures/load" mnohub "$src"
psql -X -q -v ON_ERROR_STOP=1 -d "$src" <<SQL
DELETE FROM public.audit_events;
INSERT INTO public.audit_events (id, key, user_id, organization_id, description, metadata, subject_type, subject_id, created_at)
  SELECT g, 'user.login.' || (g % 17), g % 50 + 1, g % 30 + 1,
         'User ' || g || ' signed in from "office", (tab	here) ünïcødé ' || md5(g::text),
         '{"ip": "10.0.' || (g % 255) || '.1", "agent": "Mozilla/5.0 (X11; Linux x86_64)", "n": ' || g || '}',
         'Organization', g % 30 + 1, '2020-01-01 00:00:00+00'::timestamptz + g * interval '1 second'
  FROM generate_series(1, $rows) g;
CREATE INDEX index_audit_events_on_user_id ON public.audit_events (user_id);
VACUUM ANALYZE public.audit_events;
SQL
# the target: the same schema and indexes, no rows
pg_dump -s -d "$src" | psql -X -q -v ON_ERROR_STOP=1 -d "$tgt" >/dev/null
indexes=$(psql -X -At -d "$tgt" -c "SELECT count(*) FROM pg_index WHERE indrelid = 'public.audit_events'::regclass")

# the same rows three ways: COPY text, pg_dump custom format, an mnoa archive
psql -X -q -d "$src" -c "\\copy public.audit_events to $work/one.copy"
pg_dump -Fc --data-only -t public.audit_events -d "$src" -f "$work/one.dump"
if [ -x "$MNO_BIN/mno-dump" ] && [ -f "$MNO_TOP/filters/mnohub.scope" ]; then
  scope=$work/one.scope
  psql -X -At -d "$src" -c "SELECT 'public.' || tablename || ': ' || CASE tablename WHEN 'audit_events' THEN 'global' ELSE 'skip' END FROM pg_tables WHERE schemaname = 'public'" >"$scope"
  "$MNO_BIN/mno-dump" --source "$src" --all --scope "$scope" --quiet -o "$work/one.mnoa"
  made_by="mno-dump"
else
  "$MNO_TOP/tests/cli/40-restore-pg/archive.sh" "$src" public.audit_events | "$MNO_BIN/mno-cat" --seal -o "$work/one.mnoa" -
  made_by="psql and mno-cat --seal (tests/cli/40-restore-pg/archive.sh)"
fi
"$MNO_BIN/mno-cat" --seal -z -o "$work/one.mnoa.zst" "$work/one.mnoa"

empty="psql -X -q -d $tgt -c 'TRUNCATE public.audit_events' -c 'DROP SCHEMA IF EXISTS mno_migrate CASCADE'"
copy="psql -X -q -d $tgt -c '\\copy public.audit_events from $work/one.copy'"
pgr="pg_restore --data-only -d $tgt $work/one.dump"
mno="$MNO_BIN/mno-restore --quiet --target $tgt $work/one.mnoa"
mnon="$MNO_BIN/mno-restore --quiet --no-check-first --target $tgt $work/one.mnoa"
mnoz="$MNO_BIN/mno-restore --quiet --target $tgt $work/one.mnoa.zst"
mnoj="$MNO_BIN/mno-restore --quiet -j 2 --target $tgt $work/one.mnoa"
mnop="cat $work/one.mnoa.zst | $MNO_BIN/mno-restore --quiet --target $tgt -"

hyperfine --warmup 1 --runs "$runs" --export-json "$work/t.json" --prepare "$empty" \
  -n "psql \\copy from" "$copy" -n "pg_restore --data-only" "$pgr" -n mno-restore "$mno" -n "mno-restore --no-check-first" "$mnon" \
  -n "mno-restore .zst" "$mnoz" -n "mno-restore - (from cat .zst)" "$mnop" -n "mno-restore -j 2" "$mnoj" >&2
# the check pass alone, as mno-cat --check reads (the same reader), plain and zstd
hyperfine -N --warmup 1 --runs "$runs" --export-json "$work/c.json" \
  -n "mno-cat --check" "$MNO_BIN/mno-cat --check $work/one.mnoa" \
  -n "mno-cat --check .zst" "$MNO_BIN/mno-cat --check $work/one.mnoa.zst" >&2

# what -j spreads: the same rows as four tables of a quarter each (four sections), -j 1, 2, 4
q4=""; for k in 1 2 3 4; do q4="$q4 public.audit_q$k"; done
for db in "$src" "$tgt"; do
  for k in 1 2 3 4; do
    psql -X -q -v ON_ERROR_STOP=1 -d "$db" -c "CREATE TABLE public.audit_q$k (LIKE public.audit_events INCLUDING ALL)"
    [ "$db" = "$src" ] && psql -X -q -v ON_ERROR_STOP=1 -d "$db" -c "INSERT INTO public.audit_q$k SELECT * FROM public.audit_events WHERE id % 4 = $k - 1"
  done
done
if [ "$made_by" = mno-dump ]; then
  psql -X -At -d "$src" -c "SELECT 'public.' || tablename || ': ' || CASE WHEN tablename LIKE 'audit\_q_' THEN 'global' ELSE 'skip' END FROM pg_tables WHERE schemaname = 'public'" >"$work/four.scope"
  "$MNO_BIN/mno-dump" --source "$src" --all --scope "$work/four.scope" --quiet -o "$work/four.mnoa"
else
  "$MNO_TOP/tests/cli/40-restore-pg/archive.sh" "$src" $q4 | "$MNO_BIN/mno-cat" --seal -o "$work/four.mnoa" -
fi
empty4="psql -X -q -d $tgt -c 'TRUNCATE $(echo $q4 | tr ' ' ',')' -c 'DROP SCHEMA IF EXISTS mno_migrate CASCADE'"
hyperfine --warmup 1 --runs "$runs" --export-json "$work/j.json" --prepare "$empty4" \
  -n "four sections -j 1" "$MNO_BIN/mno-restore --quiet --target $tgt $work/four.mnoa" \
  -n "four sections -j 2" "$MNO_BIN/mno-restore --quiet -j 2 --target $tgt $work/four.mnoa" \
  -n "four sections -j 4" "$MNO_BIN/mno-restore --quiet -j 4 --target $tgt $work/four.mnoa" >&2
bash -c "$empty4"; "$MNO_BIN/mno-restore" --quiet -j 4 --target "$tgt" "$work/four.mnoa"
for k in 1 2 3 4; do
  sql="SELECT count(*), md5(string_agg(a::text, '' ORDER BY id)) FROM public.audit_q$k a"
  [ "$(psql -X -At -d "$tgt" -c "$sql")" = "$(psql -X -At -d "$src" -c "$sql")" ] ||
    { echo "40-restore-pg: -j 4 restored public.audit_q$k differently" >&2; exit 1; }
done
bash -c "$empty4"

# the end state is the same whichever loaded it
bash -c "$empty"; bash -c "$mno"
got=$(psql -X -At -d "$tgt" -c "SELECT count(*), md5(string_agg(a::text, '' ORDER BY id)) FROM public.audit_events a")
want=$(psql -X -At -d "$src" -c "SELECT count(*), md5(string_agg(a::text, '' ORDER BY id)) FROM public.audit_events a")
[ "$got" = "$want" ] || { echo "40-restore-pg: the restored table differs from the source" >&2; exit 1; }
[ "$(psql -X -At -d "$tgt" -c "SELECT count(*) FROM pg_index WHERE indrelid = 'public.audit_events'::regclass AND indisvalid")" = "$indexes" ] \
  || { echo "40-restore-pg: the indexes differ after the restore" >&2; exit 1; }

rss() { bash -c "$empty"; /usr/bin/time -v bash -c "$1" 2>&1 >/dev/null | awk -F': ' '/Maximum resident/ { print $2 }'; }
m_copy=$(rss "$copy"); m_pgr=$(rss "$pgr"); m_mno=$(rss "$mno"); m_mnoz=$(rss "$mnoz")
bytes=$(stat -c %s "$work/one.mnoa"); zbytes=$(stat -c %s "$work/one.mnoa.zst"); cbytes=$(stat -c %s "$work/one.copy")

python3 - "$work/t.json" "$work/c.json" "$work/j.json" "$rows" "$scale" "$indexes" "$bytes" "$zbytes" "$cbytes" "$m_copy" "$m_pgr" "$m_mno" "$m_mnoz" "$made_by" <<'EOF'
import json, os, sys
t = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"] + json.load(open(sys.argv[2]))["results"]}
j = {r["command"]: r for r in json.load(open(sys.argv[3]))["results"]}
rows, scale, idx, by, zb, cb, mc, mp, mm, mz, made_by = sys.argv[4:]
c = t["psql \\copy from"]["mean"]
p = t["pg_restore --data-only"]["mean"]
print("## mno-restore, PostgreSQL")
print()
print("public.audit_events of the MnoHub fixtures: %s rows (BENCH_SCALE=%s), restored into an empty table"
      " with the same %s indexes (primary key included); each run starts from an empty table"
      " (hyperfine --prepare). Archive written by %s: %.1f MB plain, %.1f MB zstd (COPY text: %.1f MB)."
      " mno-restore checks every record's md5 as it reads and, into an empty table, rebuilds the"
      " plain indexes after the load. From a FILE it first reads and checks the whole archive"
      " (a bad archive changes nothing): that pass only sums, each record line going straight to"
      " its record text, decoded and hashed (several md5s at a time) in a second thread;"
      " `--no-check-first` and stdin skip it." % (rows, scale, idx, made_by, int(by) / 1e6, int(zb) / 1e6, int(cb) / 1e6))
print()
print("| run | mean s | ratio to psql \\copy | ratio to pg_restore | peak RSS MB |")
print("|---|---|---|---|---|")
mem = {"psql \\copy from": mc, "pg_restore --data-only": mp, "mno-restore": mm, "mno-restore .zst": mz}
for name in ("psql \\copy from", "pg_restore --data-only", "mno-restore", "mno-restore --no-check-first", "mno-restore .zst", "mno-restore - (from cat .zst)",
             "mno-restore -j 2", "mno-cat --check", "mno-cat --check .zst"):
    r = t[name]
    m = mem.get(name)
    print("| %s | %.2f ± %.2f | %.2f | %.2f | %s |" % (name.replace("\\", "\\\\"), r["mean"], r["stddev"] or 0,
          r["mean"] / c, r["mean"] / p, "%.1f" % (int(m) / 1024) if m else "-"))
print()
print("`mno-cat --check` is the check pass alone (the same reader, mno_stream_check), nothing written.")
print()
print("`-j 2` restores up to two sections at a time, each on its own connection (docs/restore.md); this"
      " archive is one table, one section, so it has nothing to spread: the row shows what -j costs"
      " (the check pass also notes where sections start), not what it gains. The one large table bounds"
      " what -j can gain on this bench. What it spreads, the same rows as four tables of a quarter each"
      " (four sections, each table with its 3 indexes; same target, emptied before each run):")
print()
print("| run | mean s | ratio to -j 1 |")
print("|---|---|---|")
j1 = j["four sections -j 1"]["mean"]
for name in ("four sections -j 1", "four sections -j 2", "four sections -j 4"):
    r = j[name]
    print("| %s | %.2f ± %.2f | %.2f |" % (name, r["mean"], r["stddev"] or 0, r["mean"] / j1))
print()
print("On this machine's %d cores the server's work (COPY, index builds) and mno-restore's (reading,"
      " checking, sending) share the same CPUs, which bounds the gain; on a separate database server"
      " each section's COPY runs on its own backend." % os.cpu_count())
print()
print("Targets: mno-restore within 1.1x of psql \\\\copy from, faster than pg_restore --data-only.")
EOF
