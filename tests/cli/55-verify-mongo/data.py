#!/usr/bin/env python3
# data.py: the documents of tests/cli/55-verify-mongo.bats, one canonical Extended JSON v2 line each.
# Usage: data.py COLLECTION   (people, invoices, lookups)
# Every BSON type a Connec! document holds, written in canonical form (explicit $numberInt,
# $numberLong, $numberDouble, $numberDecimal, $date, $oid, $binary), so the same lines are both
# what is inserted into the target and the archive's records.
import json, sys, uuid

ORGS = ["org-acme-1", "org-acme-2", "org-other-1"]

def i32(n): return {"$numberInt": str(n)}
def i64(n): return {"$numberLong": str(n)}
def dbl(x): return {"$numberDouble": repr(float(x))}
def date(ms): return {"$date": {"$numberLong": str(ms)}}

def emit(doc):
    sys.stdout.write(json.dumps(doc, separators=(",", ":"), ensure_ascii=False) + "\n")

def uid(i):
    return str(uuid.UUID(int=(i * 0x9E3779B97F4A7C15 + 4242) % (1 << 128)))

coll = sys.argv[1]
if coll == "people":
    for i in range(1, 121):
        emit({"_id": uid(i), "channel_id": ORGS[i % 3], "first_name": "First%d" % i,
              "last_name": "O'Brien, \"Ünï\" %d" % i if i % 7 == 0 else "Last%d" % i,
              "email": {"address": "p%d@example.com" % i},
              "n": i32(i), "big": i64(i * 1000000007), "score": dbl(i / 8),
              "created_at": date(1475541383000 + i * 86400000),
              "tags": ["a b", i32(i % 5)], "active": i % 2 == 0, "note": None})
elif coll == "invoices":
    for i in range(1, 41):
        emit({"_id": {"$oid": "%024x" % (0x5f0000000000000000000000 + i * 7919)},
              "channel_id": ORGS[i % 3], "title": "INV-%04d" % i,
              "total_amount": {"$numberDecimal": "%d.%02d" % (i * 13, i % 100)},
              "blob": {"$binary": {"base64": "AAEC/w==", "subType": "00"}},
              "lines": [{"qty": i32(i % 5), "unit": dbl(i * 0.5)}]})
elif coll == "lookups":
    for i in range(1, 6):
        emit({"_id": i32(i), "name": "currency-%d" % i})
else:
    sys.exit("data.py: unknown collection %s" % coll)
