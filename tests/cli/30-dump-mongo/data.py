#!/usr/bin/env python3
# data.py: the documents of tests/cli/30-dump-mongo.bats, as Extended JSON lines per collection.
# Usage: data.py COLLECTION   (people, invoices, edge, lookups, sessions)
# Tenant acme owns org-acme-1 and org-acme-2; other tenants own org-other-1 and org-acme-10
# (a uid that starts like acme's: whole values must be compared). Some documents have no
# channel_id or a null one: they belong to nobody.
import json, sys, uuid

ORGS = ["org-acme-1", "org-other-1", "org-acme-2", "org-acme-10"]
coll = sys.argv[1]
out = sys.stdout

def emit(doc):
    out.write(doc if isinstance(doc, str) else json.dumps(doc, separators=(",", ":")))
    out.write("\n")

def uid(i):
    return str(uuid.UUID(int=(i * 0x9E3779B97F4A7C15 + 12345) % (1 << 128)))

if coll == "people":
    for i in range(1, 301):
        org = ORGS[i % 4] if i % 37 else None
        d = {"_id": uid(i),
             "id": [{"realm": "2243", "provider": "my-external-app", "id": str(i)}]
                   + ([{"realm": org, "provider": "connec", "id": uid(i)}] if org else []),
             "code": "PE%d" % i, "status": "ARCHIVED" if i % 10 == 0 else "ACTIVE",
             "first_name": "First%d" % i, "last_name": "Last%d" % i,
             "email": {"address": "p%d@example.com" % i},
             "created_at": {"$date": {"$numberLong": str(1475541383000 + i * 86400000)}},
             "group_id": "cld-%d" % (i % 3), "resource_type": "people"}
        if org:
            d["channel_id"] = org
        elif i % 2:
            d["channel_id"] = None
        emit(d)
elif coll == "invoices":
    for i in range(1, 51):
        emit({"_id": {"$oid": "%024x" % (0x5f0000000000000000000000 + i * 7919)},
              "channel_id": ORGS[i % 4], "title": "INV-%04d" % i,
              "total_amount": {"$numberDecimal": "%d.%02d" % (i * 13, i % 100)},
              "lines": [{"qty": {"$numberInt": str(i % 5)}, "unit": {"$numberDouble": str(i * 0.5)}}],
              "resource_type": "invoices"})
elif coll == "lookups":
    for i in range(1, 6):
        emit({"_id": {"$numberInt": str(i)}, "name": "currency-%d" % i})
elif coll == "sessions":
    for i in range(1, 4):
        emit({"_id": "s%d" % i, "channel_id": "org-acme-1", "token": "secret%d" % i})
elif coll == "edge":
    # _id of every type a document id may have (they sort across type classes), and fields
    # of every BSON type with their awkward values.
    A = '"channel_id":"org-acme-1"'
    O = '"channel_id":"org-other-1"'
    lines = [
        '{"_id":{"$minKey":1},%s,"k":"minkey id"}' % A,
        '{"_id":null,%s,"k":"null id"}' % A,
        '{"_id":{"$numberInt":"-5"},%s,"i32":{"$numberInt":"-2147483648"},"i32max":{"$numberInt":"2147483647"}}' % A,
        '{"_id":{"$numberLong":"-4"},%s,"i64":{"$numberLong":"-9223372036854775808"},"i64max":{"$numberLong":"9223372036854775807"}}' % A,
        '{"_id":{"$numberDouble":"-3.5"},%s,"negzero":{"$numberDouble":"-0.0"},"nan":{"$numberDouble":"NaN"},"inf":{"$numberDouble":"Infinity"},"ninf":{"$numberDouble":"-Infinity"},"tiny":{"$numberDouble":"5e-324"},"big":{"$numberDouble":"1.7976931348623157e+308"},"third":{"$numberDouble":"0.1"}}' % A,
        '{"_id":{"$numberDecimal":"-2.50"},%s,"dec":{"$numberDecimal":"1.000"},"decexp":{"$numberDecimal":"-1.23E-6170"},"decnan":{"$numberDecimal":"NaN"},"decinf":{"$numberDecimal":"-Infinity"},"deczero":{"$numberDecimal":"-0.00"}}' % A,
        '{"_id":{"$numberInt":"7"},%s,"k":"other tenant int id"}' % O,
        '{"_id":{"$numberLong":"8"},%s,"k":"long id after int"}' % A,
        '{"_id":"","channel_id":"org-acme-1","k":"empty string id"}',
        '{"_id":"7fef0000-aaaa-4bbb-8ccc-000000000001",%s,"str":"h\\u00e9llo \\u2603 \\ud83d\\ude00","nul":"a\\u0000b","ctl":"\\t\\n\\r\\u0001\\\\\\"","sym":{"$symbol":"a symbol"}}' % A,
        '{"_id":"7fef0000-aaaa-4bbb-8ccc-000000000002",%s,"k":"other tenant string id"}' % O,
        '{"_id":{"$symbol":"zz-symbol-id"},%s,"k":"symbol id"}' % A,
        '{"_id":{"a":{"$numberInt":"1"},"b":"x"},%s,"k":"document id"}' % A,
        '{"_id":{"$binary":{"base64":"AAECAwQFBgcICQoLDA0ODw==","subType":"04"}},%s,"b0":{"$binary":{"base64":"","subType":"00"}},"b2":{"$binary":{"base64":"AQID","subType":"02"}},"b3":{"$binary":{"base64":"c//SZESzTGmQ6OfR38A11A==","subType":"03"}},"b5":{"$binary":{"base64":"1B2M2Y8AsgTpgAmY7PhCfg==","subType":"05"}},"b80":{"$binary":{"base64":"/w==","subType":"80"}}}' % A,
        '{"_id":{"$oid":"5f0000000000000000000001"},%s,"oid":{"$oid":"ffffffffffffffffffffffff"},"regex":{"$regularExpression":{"pattern":"^a.*\\\\d$","options":"imsx"}},"code":{"$code":"function(){return 1;}"},"cws":{"$code":"x","$scope":{"x":{"$numberInt":"1"}}},"dbp":{"$dbPointer":{"$ref":"people","$id":{"$oid":"5f0000000000000000000002"}}},"undef":{"$undefined":true}}' % A,
        '{"_id":false,%s,"t":true,"f":false,"n":null}' % A,
        '{"_id":true,%s,"k":"bool id"}' % A,
        '{"_id":{"$date":{"$numberLong":"-62135596800000"}},%s,"d0":{"$date":{"$numberLong":"0"}},"dmax":{"$date":{"$numberLong":"253402300799999"}},"dneg":{"$date":{"$numberLong":"-1"}}}' % A,
        '{"_id":{"$timestamp":{"t":1700000000,"i":7}},%s,"ts0":{"$timestamp":{"t":0,"i":0}},"tsmax":{"$timestamp":{"t":4294967295,"i":4294967295}}}' % A,
        '{"_id":{"$maxKey":1},%s,"minkey":{"$minKey":1},"maxkey":{"$maxKey":1}}' % A,
        '{"_id":{"$numberInt":"100"},%s,"z":1,"a":2,"m":{"z":[],"a":{}},"nested":[[{"$numberInt":"1"},[{"$numberLong":"2"},{"a":[[],{}]}]],{},[]],"k":"field order and nesting"}' % A,
        '{"_id":{"$numberInt":"101"},"k":"no channel_id"}',
    ]
    for l in lines:
        json.loads(l)   # well-formed JSON
        emit(l)
else:
    sys.exit("data.py: unknown collection " + coll)
