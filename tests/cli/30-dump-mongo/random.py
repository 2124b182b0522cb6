#!/usr/bin/env python3
# random.py: seeded random Connec!-like documents of every BSON type, as Extended JSON lines
# for `mongodump-client insert`, to check mno-dump's records against libbson's own printing.
# Usage: random.py SEED COUNT   (a few documents are large: one alone fills a dump batch)
import json, random, struct, sys, base64

seed, count = int(sys.argv[1]), int(sys.argv[2])
R = random.Random(seed)

ALPHA = ["a", "Z", "0", " ", "-", "_", ".", "\"", "\\", "/", "\t", "\n", "\r", "\b", "\f",
         "\x01", "\x1f", "\x7f", "\u00e9", "\u00ff", "\u0100", "\u2603", "\u20ac", "\uffff",
         "\U0001f600", "\U0010ffff"]

def text(n, nul=True):
    s = "".join(R.choice(ALPHA) if R.random() < 0.3 else chr(R.randint(0x20, 0x7e)) for _ in range(n))
    if nul and R.random() < 0.05:
        s += "\x00" + s[:3]
    return s

def key():
    k = text(R.randint(1, 12), nul=False)
    return k if not k.startswith("$") else "k" + k

def double():
    c = R.random()
    if c < 0.1:
        return R.choice(["NaN", "Infinity", "-Infinity", "-0.0", "0.0", "5e-324", "1.7976931348623157e+308",
                         "2.2250738585072014e-308", "1e+15", "1e+16", "123456789012345678", "0.1", "-1e-07"])
    if c < 0.4:   # amounts: multiples of 1/16 and cents
        return repr(R.randint(-10**9, 10**9) / R.choice([1, 2, 4, 16, 100]))
    if c < 0.7:
        return repr(R.uniform(-1e6, 1e6))
    return repr(struct.unpack("<d", struct.pack("<Q", R.getrandbits(64)))[0]).replace("inf", "Infinity").replace("nan", "NaN")

def decimal():
    c = R.random()
    if c < 0.1:
        return R.choice(["NaN", "Infinity", "-Infinity", "0", "-0", "0E-6176", "-0.00", "1E+6144",
                         "9.999999999999999999999999999999999E+6144", "1E-6176", "1.000", "0.001",
                         "1E+3", "12345678901234567890123456789012.34"])
    digits = str(R.randint(0, 10 ** R.randint(1, 34) - 1))
    exp = R.choice([0, 0, -2, -2, -1, R.randint(-40, 10), R.randint(-6176, 6111 - len(digits) + 1)])
    s = ("-" if R.random() < 0.3 else "") + digits
    return s + ("E%d" % exp if exp else "")

def scalar(depth, arr):
    t = R.randrange(22)
    if t in (14, 15, 18) and arr:   # libbson's parser refuses these inside an array
        t = 1
    if t == 0: return text(R.randint(0, 40))
    if t == 1: return {"$numberInt": str(R.randint(-2**31, 2**31 - 1))}
    if t == 2: return {"$numberLong": str(R.randint(-2**63, 2**63 - 1))}
    if t == 3: return {"$numberDouble": double()}
    if t == 4: return {"$numberDecimal": decimal()}
    if t == 5: return {"$date": {"$numberLong": str(R.randint(-62135596800000, 253402300799999))}}
    if t == 6: return {"$oid": "%024x" % R.getrandbits(96)}
    if t == 7:
        raw = bytes(R.getrandbits(8) for _ in range(R.randint(0, 40)))
        sub = R.choice(["00", "01", "03", "04", "05", "06", "07", "80", "ff"])
        if sub in ("03", "04"):
            raw = raw[:16].ljust(16, b"\0")
        return {"$binary": {"base64": base64.b64encode(raw).decode(), "subType": sub}}
    if t == 8: return R.random() < 0.5
    if t == 9: return None
    if t == 10:
        return {"$regularExpression": {"pattern": text(R.randint(0, 10), nul=False),
                                       "options": "".join(sorted(R.sample("ilmsux", R.randint(0, 3))))}}
    if t == 11: return {"$timestamp": {"t": R.randint(0, 2**32 - 1), "i": R.randint(0, 2**32 - 1)}}
    if t == 12: return {"$minKey": 1}
    if t == 13: return {"$maxKey": 1}
    if t == 14: return {"$code": text(R.randint(0, 20), nul=False)}
    if t == 15: return {"$code": text(R.randint(0, 10), nul=False), "$scope": document(depth + 1, 3)}
    if t == 16: return {"$symbol": text(R.randint(0, 10))}
    if t == 17: return {"$undefined": True}
    if t == 18: return {"$dbPointer": {"$ref": text(R.randint(1, 8), nul=False), "$id": {"$oid": "%024x" % R.getrandbits(96)}}}
    if t == 19 and depth < 6: return document(depth + 1, 4)
    if t == 20 and depth < 6: return [value(depth + 1, True) for _ in range(R.randint(0, 5))]
    return {"$numberInt": str(R.randint(0, 1000))}

def value(depth, arr=False):
    return scalar(depth, arr)

def document(depth, width):
    return {key(): value(depth) for _ in range(R.randint(0, width))}

def ident(i):
    c = i % 5
    if c == 0: return {"$numberInt": str(i)}
    if c == 1: return "id-%08d-%s" % (i, text(3, nul=False))
    if c == 2: return {"$oid": "%024x" % (0x5f0000000000000000000000 + i)}
    if c == 3: return {"$numberLong": str(i * 1000003)}
    return {"$numberDouble": repr(i + 0.5)}

for i in range(count):
    d = {"_id": ident(i), "channel_id": "org-%d" % (i % 7), "resource_type": "random"}
    d.update(document(0, 12))
    if i % 997 == 13:
        d["blob"] = "x" * R.randint(300000, 1200000)   # one document fills a batch alone
    sys.stdout.write(json.dumps(d, separators=(",", ":"), ensure_ascii=R.random() < 0.5) + "\n")
