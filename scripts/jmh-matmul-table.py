#!/usr/bin/env python3
"""Turns MatmulBenchmark JSON results (-rf json) into a table of GFLOP/s and weight GB/s.
Usage: scripts/jmh-matmul-table.py results.json [more.json ...]"""
import json, sys

BLOCK = {"F32": (1, 4), "F16": (1, 2), "BF16": (1, 2), "Q8_0": (32, 34), "Q4_0": (32, 18), "Q4_1": (32, 20),
         "Q4_K": (256, 144), "Q5_K": (256, 176), "Q6_K": (256, 210)}
rows_out = []
for path in sys.argv[1:]:
    for r in json.load(open(path)):
        p = r["params"]
        rows, cols = map(int, p["shape"].split("x"))
        batch = int(p["batch"])
        bs, bb = BLOCK[p["type"]]
        ops = r["primaryMetric"]["score"]
        err = r["primaryMetric"].get("scoreError") or 0
        gflops = 2.0 * rows * cols * batch * ops / 1e9
        gbs = rows * cols // bs * bb * ops / 1e9
        rows_out.append((p["type"], p["shape"], batch, p["impl"], ops, err, gflops, gbs))
rows_out.sort(key=lambda t: (t[0], t[1], t[2], t[3]))
print("| type | rows x cols | batch | impl | ops/s | GFLOP/s | weight GB/s |")
print("|---|---|---|---|---|---|---|")
for t, s, b, i, ops, err, gf, gb in rows_out:
    print(f"| {t} | {s} | {b} | {i} | {ops:.1f} ± {err:.1f} | {gf:.1f} | {gb:.2f} |")
