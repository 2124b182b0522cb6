#!/usr/bin/env python3
# check.py: independent checks of a MnoHub archive for 20-dump-pg.bats (reads plain mnoa JSON Lines).
#   check.py rows ARCHIVE        "TABLE<TAB>ID" per record (schema dropped), sorted
#   check.py refs ARCHIVE UIDS   every reference of every record resolves to a record of the
#                                archive (global tables are in it whole); prints the dangling
#                                ones and exits 1. UIDS: a file of every organization uid of
#                                the source (a token of a text column is a reference when it is one)
#   check.py absent ARCHIVE VALS none of the values (one a line) appears in the archive as a
#                                whole token (uids, emails); prints the ones found and exits 1
#   check.py copy ARCHIVE NS     the section's records as COPY text (what psql's \copy prints)
import json, re, sys

def records(path):
    with open(path, encoding="utf-8") as f:
        for line in f:
            o = json.loads(line)
            if o["t"] == "rec":
                yield o["ns"], o["v"]

# The MnoHub model's references (reference/maestrano-model.md), written from the schema, not
# from the scope file: (table, column, referenced table, referenced column, type column, type).
REFS = [
    ("sub_tenants", "mnoe_tenant_id", "tenants", "id", None, None),
    ("users", "mnoe_tenant_id", "tenants", "id", None, None),
    ("users", "mnoe_sub_tenant_id", "sub_tenants", "id", None, None),
    ("organizations", "mnoe_tenant_id", "tenants", "id", None, None),
    ("invoices", "mnoe_tenant_id", "tenants", "id", None, None),
    ("orga_relations", "organization_id", "organizations", "id", None, None),
    ("orga_relations", "user_id", "users", "id", None, None),
    ("teams", "organization_id", "organizations", "id", None, None),
    ("org_invites", "organization_id", "organizations", "id", None, None),
    ("org_invites", "team_id", "teams", "id", None, None),
    ("app_instances", "app_id", "apps", "id", None, None),
    ("app_instances", "owner_id", "organizations", "id", "owner_type", "Organization"),
    ("credit_cards", "owner_id", "organizations", "id", "owner_type", "Organization"),
    ("credit_cards", "owner_id", "users", "id", "owner_type", "User"),
    ("bills", "invoice_id", "invoices", "id", None, None),
    ("bills", "billable_id", "app_instances", "id", "billable_type", "AppInstance"),
    ("deletion_requests", "deletable_id", "organizations", "id", "deletable_type", "Organization"),
    ("deletion_requests", "deletable_id", "users", "id", "deletable_type", "User"),
    ("audit_events", "organization_id", "organizations", "id", None, None),
    ("identities", "user_id", "users", "id", None, None),
    ("product_pricings", "product_id", "products", "id", None, None),
    ("subscriptions", "organization_id", "organizations", "id", None, None),
    ("subscriptions", "product_id", "products", "id", None, None),
    ("subscriptions", "product_pricing_id", "product_pricings", "id", None, None),
    ("dashboards", "owner_id", "users", "id", "owner_type", "User"),
    ("dashboards", "owner_id", "organizations", "id", "owner_type", "Organization"),
    ("widgets", "dashboard_id", "dashboards", "id", None, None),
]
def refs(path, uidfile):
    with open(uidfile, encoding="utf-8") as f:
        every_uid = {line.rstrip("\n") for line in f}
    rows = {}
    for ns, v in records(path):
        rows.setdefault(ns.split(".", 1)[1], []).append(v)
    keys = {}
    for t, vs in rows.items():
        keys[(t, "id")] = {v["id"] for v in vs}
        if t == "organizations":
            keys[(t, "uid")] = {v["uid"] for v in vs}
    bad = []
    for t, col, rt, rcol, tcol, tval in REFS:
        for v in rows.get(t, []):
            if v.get(col) is None or (tcol and v.get(tcol) != tval):
                continue
            if v[col] not in keys.get((rt, rcol), set()):
                bad.append("%s %s: %s=%s -> %s.%s" % (t, v["id"], col, v[col], rt, rcol))
    uids = keys.get(("organizations", "uid"), set())
    for v in rows.get("dashboards", []):
        for tok in re.split(r"[^A-Za-z0-9_-]+", v["organization_ids"] or ""):
            if tok in every_uid and tok not in uids:
                bad.append("dashboards %s: organization_ids names %s" % (v["id"], tok))
    for v in rows.get("widgets", []):
        s = json.loads(v["settings"]) if v["settings"] else {}
        ids = s.get("organization_ids") if isinstance(s, dict) else None
        for u in ids if isinstance(ids, list) else [ids] if isinstance(ids, str) else []:
            if u not in uids:
                bad.append("widgets %s: settings names %s" % (v["id"], u))
    for b in bad:
        print(b)
    return 1 if bad else 0

def absent(path, valfile):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    with open(valfile, encoding="utf-8") as f:
        vals = [line.rstrip("\n") for line in f if line.strip()]
    found = [v for v in vals
             if re.search(r"(?<![A-Za-z0-9_.@+-])" + re.escape(v) + r"(?![A-Za-z0-9_@+-]|\.[A-Za-z0-9])", text)]
    for v in found:
        print(v)
    return 1 if found else 0

def copytext(path, ns):
    esc = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f", "\v": "\\v"}
    out = sys.stdout
    for n, v in records(path):
        if n == ns:
            out.write("\t".join("\\N" if x is None else "".join(esc.get(c, c) for c in x)
                                for x in v.values()) + "\n")
    return 0

if __name__ == "__main__":
    cmd, path = sys.argv[1], sys.argv[2]
    if cmd == "rows":
        for line in sorted("%s\t%s" % (ns.split(".", 1)[1], v["id"]) for ns, v in records(path)):
            print(line)
        sys.exit(0)
    if cmd == "absent":
        sys.exit(absent(path, sys.argv[3]))
    sys.exit(refs(path, sys.argv[3]) if cmd == "refs" else copytext(path, sys.argv[3]))
