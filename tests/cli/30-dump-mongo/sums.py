#!/usr/bin/env python3
# sums.py: per namespace, the count and the mnoa sum (md5 of each document's BSON bytes, summed
# mod 2^128) of 'ns<TAB>hex' lines on stdin; prints 'ns<TAB>count<TAB>sum', sorted by ns.
import hashlib, sys
acc = {}
for line in sys.stdin:
    ns, hx = line.rstrip("\n").split("\t")
    c, s = acc.get(ns, (0, 0))
    acc[ns] = (c + 1, (s + int.from_bytes(hashlib.md5(bytes.fromhex(hx)).digest(), "big")) % (1 << 128))
for ns in sorted(acc):
    print("%s\t%d\t%032x" % (ns, acc[ns][0], acc[ns][1]))
