#!/usr/bin/env bash
# archive.sh URI NS...: prints an mnoa archive of the tables NS (schema.table) of database URI,
# written without mno-dump: psql prints each value's own text output (the session pinned as
# the archive format says), sums are zero; `mno-cat --seal` fills them in. The key is the
# primary key; the begin line has no ddl (mno-restore --create then builds the table from the
# columns and key) unless MNO_TEST_DDL=1 (then pg_dump's definition of the table).
set -euo pipefail
uri=$1; shift
export PGOPTIONS="-c TimeZone=UTC -c DateStyle=ISO -c IntervalStyle=postgres -c extra_float_digits=3 -c bytea_output=hex"
q() { psql -X -At -v ON_ERROR_STOP=1 -d "$uri" -c "$1"; }
echo '{"t":"header","format":"mnoa","version":1,"engine":"postgresql","source":"test","tenant":"acme"}'
for ns in "$@"; do
  rel="'$ns'::regclass"
  cols=$(q "SELECT json_agg(json_build_object('name', attname, 'type', format_type(atttypid, atttypmod)) ORDER BY attnum)
            FROM pg_attribute WHERE attrelid = $rel AND attnum > 0 AND NOT attisdropped")
  key=$(q "SELECT coalesce(json_agg(a.attname ORDER BY k.i), '[]') FROM pg_index x,
            unnest(x.indkey) WITH ORDINALITY k(n, i) JOIN pg_attribute a ON a.attrelid = $rel AND a.attnum = k.n
            WHERE x.indrelid = $rel AND x.indisprimary")
  # format('%s') prints with the type's output function (a cast to text would trim char(n))
  expr=$(q "SELECT string_agg(format('%L, CASE WHEN t.%I IS NULL THEN NULL ELSE format(''%%s'', t.%I) END', attname, attname, attname), ', ' ORDER BY attnum)
            FROM pg_attribute WHERE attrelid = $rel AND attnum > 0 AND NOT attisdropped")
  order=$(q "SELECT coalesce(string_agg(format('%I', a.attname), ', ' ORDER BY k.i), '1') FROM pg_index x,
            unnest(x.indkey) WITH ORDINALITY k(n, i) JOIN pg_attribute a ON a.attrelid = $rel AND a.attnum = k.n
            WHERE x.indrelid = $rel AND x.indisprimary")
  ddl=null
  if [ "${MNO_TEST_DDL:-0}" = 1 ]; then
    ddl=$(pg_dump -s -t "$ns" -d "$uri" | grep -v '^--\|^\\\|^SET \|^SELECT pg_catalog.set_config' | jq -Rs .)
  fi
  jq -cn --arg ns "$ns" --argjson c "$cols" --argjson k "$key" --argjson d "$ddl" \
    '{t:"begin", ns:$ns, columns:$c, key:$k} + (if $d then {ddl:$d} else {} end)'
  q "SELECT json_build_object('t', 'rec', 'ns', '$ns', 'v', json_build_object($expr)) FROM $ns t ORDER BY $order"
  echo "{\"t\":\"end\",\"ns\":\"$ns\",\"count\":0,\"sum\":\"00000000000000000000000000000000\"}"
done
echo '{"t":"trailer","sections":0,"count":0,"sum":"00000000000000000000000000000000"}'
