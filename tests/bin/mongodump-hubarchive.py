#!/usr/bin/env python3
# mongodump-hubarchive.py: writes a small hand-made MnoHub archive (mnoa v1, engine postgresql)
# with a public.organizations section, sums computed independently (md5 of ROW()::text).
# Usage: mongodump-hubarchive.py TENANT|--null [--no-orgs] UID...   > archive
import hashlib, json, sys

args = sys.argv[1:]
tenant = args.pop(0)
tenant = None if tenant == "--null" else tenant
with_orgs = True
if args and args[0] == "--no-orgs":
    with_orgs = False
    args.pop(0)

def line(o):
    sys.stdout.write(json.dumps(o, separators=(",", ":")) + "\n")

def digest(text):
    return int.from_bytes(hashlib.md5(text.encode()).digest(), "big")

line({"t": "header", "format": "mnoa", "version": 1, "engine": "postgresql", "source": "mnohub",
      "tenant": tenant, "created": "2026-11-25T12:00:00Z", "producer": "mongodump-hubarchive"})
total, count, sections = 0, 0, 0

def section(ns, cols, rows):
    global total, count, sections
    line({"t": "begin", "ns": ns, "columns": [{"name": c, "type": t} for c, t in cols],
          "key": [cols[0][0]]})
    s = 0
    for r in rows:
        line({"t": "rec", "ns": ns, "v": dict(zip([c for c, _ in cols], r))})
        s = (s + digest("(" + ",".join(r) + ")")) % (1 << 128)
    line({"t": "end", "ns": ns, "count": len(rows), "sum": "%032x" % s})
    total = (total + s) % (1 << 128)
    count += len(rows)
    sections += 1

section("public.tenants", [("id", "bigint"), ("name", "character varying")],
        [["1", tenant or "all"]])
if with_orgs:
    section("public.organizations",
            [("id", "bigint"), ("uid", "character varying"), ("mnoe_tenant_id", "bigint")],
            [[str(i + 1), u, "1"] for i, u in enumerate(args)])
line({"t": "trailer", "sections": sections, "count": count, "sum": "%032x" % total})
