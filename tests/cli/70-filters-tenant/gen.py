# gen.py N: a whole-database archive (mnoa v1, PostgreSQL) of 1,000 organizations of 100 tenants
# (public.orgs) and N rows of public.big, each of an organization, its sums computed here
# (md5 of the record text, docs/format.md section 4), for the memory test of 70-filters-tenant.bats.
import hashlib, json, sys
n = int(sys.argv[1])
w = sys.stdout.write
def field(v):
    if v is None: return ""
    if v == "" or any(c in v for c in '"\\(),') or any(c.isspace() for c in v):
        return '"' + v.replace('\\', '\\\\').replace('"', '""') + '"'
    return v
def section(ns, cols, rows):
    w(json.dumps({"t": "begin", "ns": ns, "columns": [{"name": c, "type": "text"} for c in cols], "key": [cols[0]]}, separators=(",", ":")) + "\n")
    s = 0
    for r in rows:
        text = "(" + ",".join(field(v) for v in r) + ")"
        s = (s + int(hashlib.md5(text.encode()).hexdigest(), 16)) % 2**128
        w(json.dumps({"t": "rec", "ns": ns, "v": dict(zip(cols, r))}, separators=(",", ":")) + "\n")
    w(json.dumps({"t": "end", "ns": ns, "count": len(rows) if isinstance(rows, list) else n, "sum": "%032x" % s}, separators=(",", ":")) + "\n")
    return s
w('{"t":"header","format":"mnoa","version":1,"engine":"postgresql","source":"test","tenant":null,"all":true}\n')
s1 = section("public.orgs", ["id", "tenant"], [[str(i), "t%d" % (i % 100)] for i in range(1, 1001)])
s2 = section("public.big", ["id", "org_id", "pad"], [[str(g), str(1 + g % 1000), "x" * 120] for g in range(1, n + 1)])
w('{"t":"trailer","sections":2,"count":%d,"sum":"%032x"}\n' % (1000 + n, (s1 + s2) % 2**128))
