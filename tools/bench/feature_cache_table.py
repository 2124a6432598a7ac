#!/usr/bin/python3
"""The table of tools/bench/feature_cache.sh, from its work folder: per run the
wall time, the epochs (train + val, from the store), the fixed cost (wall
minus the epochs phase), peak memory and the phase line; then the ratios."""
import csv
import statistics
import sys

work = sys.argv[1]
rows = list(csv.DictReader(open(f"{work}/epochs.csv")))
runs = list(dict.fromkeys(r["id"] for r in rows))
names = ["uncached", "cold", "warm"]
out = {}
for name, run in zip(names, runs):
    wall, rss_kb = open(f"{work}/{name}.time").read().split()
    phases = open(f"{work}/{name}.phases").read().strip()
    parts = dict(p.rsplit(" ", 2)[0:2] for p in phases.split(": ", 1)[1].split(" (total")[0].split(", "))
    epochs = float(parts.get("epochs", 0)) + float(parts.get("checkpoints", 0))
    e = [float(r["wall_seconds"]) for r in rows if r["id"] == run]
    out[name] = dict(wall=float(wall), epochs=epochs, median=statistics.median(e[1:]), rss=int(rss_kb) / 1024)
    print(f"{name:8s} whole run {float(wall):6.2f} s  epochs {epochs:6.2f} s  fixed {float(wall) - epochs:5.2f} s  "
          f"median epoch {out[name]['median']:.3f} s  peak {out[name]['rss']:.0f} MB")
    print(f"         {phases}")
u, w = out["uncached"], out["warm"]
print(f"per epoch: uncached / warm = {u['median'] / w['median']:.0f}x")
print(f"whole run: uncached / cold = {u['wall'] / out['cold']['wall']:.1f}x, uncached / warm = {u['wall'] / w['wall']:.1f}x "
      f"(target >= 10x); warm fixed cost {w['wall'] - w['epochs']:.2f} s (target <= 3 s)")
