#!/usr/bin/env python3
"""Reads tools/device/cupti_trace.cc's timeline of a qwen3vl_prefill_bench process and says, for each tower and prefill
run, how long the GPU took from its first piece of work to its last, how much of that was kernels, copies and idle
time, the kernels' time by name, and the longest idle gaps with the work on either side.

Runs: a tower starts with its pixels' first large host-to-device copy (1 MiB or more) after the previous run's
prefill (the head's second part and the tables copy more mid-run); its prefill starts at its first embedding kernel. The first run of a case is its warm-up.

    python3 tools/device/trace_summary.py TRACE [RUN ...]   (RUN: indexes of the runs to detail; default the last)
    python3 tools/device/trace_summary.py --smi TRACE.smi.csv  (nvidia-smi's samples: clocks and power while busy)
"""
import csv
import re
import sys
from collections import defaultdict


def base_name(name):
    name = re.sub(r"\(anonymous namespace\)::|<unnamed>::", "", name).removeprefix("void ")
    short = name.split("(")[0]
    m = re.match(r"([\w:]+)(<.*>)?", short)
    if not m:
        return short[:60]
    args = m.group(2) or ""
    # Keep the template arguments that tell the tower's and the prefill's instances apart, shortened.
    args = re.sub(r"\s+", "", args)[:48]
    return m.group(1).split("::")[-1] + args


def load(path):
    recs = []
    for line in open(path, errors="replace"):
        parts = line.rstrip("\n").split(" ", 5)
        if len(parts) < 4:
            continue
        kind, start, end, stream = parts[0], int(parts[1]), int(parts[2]), parts[3]
        if kind == "K":
            recs.append(("K", start, end, stream, parts[4], base_name(parts[5] if len(parts) > 5 else "?")))
        elif kind == "C":
            nbytes, ck = int(parts[4]), parts[5] if len(parts) > 5 else "?"
            recs.append(("C", start, end, stream, nbytes, {"1": "H2D", "2": "D2H", "8": "D2D"}.get(ck, "copy" + ck)))
        elif kind == "S":
            recs.append(("S", start, end, stream, int(parts[4]), "memset"))
    recs.sort(key=lambda r: r[1])
    return recs


def split_runs(recs):
    runs, cur = [], None
    for r in recs:
        big_h2d = r[0] == "C" and r[5] == "H2D" and r[4] >= (1 << 20)
        if big_h2d and (cur is None or cur.get("in_prefill")):
            cur = {"tower": [], "prefill": []}
            runs.append(cur)
        if cur is not None:
            if r[0] == "K" and r[5].startswith("embedding"):
                cur["in_prefill"] = True
            cur["prefill" if cur.get("in_prefill") else "tower"].append(r)
    return runs


def summarize(label, recs, top=12):
    if not recs:
        print(f"{label}: no records")
        return
    t0, t1 = recs[0][1], max(r[2] for r in recs)
    span = (t1 - t0) / 1e6
    # Busy time: the union of the records' intervals (the second stream's copies may overlap kernels).
    busy, cur_s, cur_e = 0, None, None
    gaps = []
    last_rec = None
    for r in recs:
        if cur_e is None or r[1] > cur_e:
            if cur_e is not None:
                busy += cur_e - cur_s
                gaps.append((r[1] - cur_e, last_rec, r))
            cur_s, cur_e = r[1], r[2]
        else:
            cur_e = max(cur_e, r[2])
        last_rec = r if last_rec is None or r[2] >= last_rec[2] else last_rec
    busy += cur_e - cur_s
    by = defaultdict(lambda: [0, 0])
    for r in recs:
        key = r[5] if r[0] == "K" else f"{r[5]} ({r[0]})"
        by[key][0] += 1
        by[key][1] += r[2] - r[1]
    kern = sum(v[1] for k, v in by.items() if not k.endswith(")"))
    print(f"{label}: span {span:.2f} ms, busy {busy / 1e6:.2f} ms, idle {span - busy / 1e6:.2f} ms in {len(gaps)} gaps,"
          f" kernels {kern / 1e6:.2f} ms ({sum(1 for r in recs if r[0] == 'K')} launches)")
    for k, (n, ns) in sorted(by.items(), key=lambda kv: -kv[1][1])[:top]:
        print(f"    {ns / 1e6:8.3f} ms {n:5d}x  {k}")
    # Whether a kernel runs slower as the run goes on (clocks): its first and last few launches' mean duration.
    for k, (n, ns) in sorted(by.items(), key=lambda kv: -kv[1][1])[:3]:
        d = [r[2] - r[1] for r in recs if r[5] == k and r[0] == "K"]
        if len(d) >= 6:
            print(f"    {k}: first 3 launches {sum(d[:3]) / 3e3:.1f} us, last 3 {sum(d[-3:]) / 3e3:.1f} us, "
                  f"min {min(d) / 1e3:.1f}, max {max(d) / 1e3:.1f}")
    gaps.sort(key=lambda g: -g[0])
    small = sum(g[0] for g in gaps if g[0] < 20_000)
    print(f"  gaps under 20 us: {sum(1 for g in gaps if g[0] < 20_000)} of them, {small / 1e6:.2f} ms; longest:")
    for g, a, b in gaps[:8]:
        print(f"    {g / 1e3:9.1f} us  after {a[5]}  before {b[5]}")


def smi(path):
    rows = [r for r in csv.reader(open(path)) if len(r) > 5 and not r[0].startswith("timestamp")]

    def num(v):
        try:
            return float(v.strip().split()[0])
        except (ValueError, IndexError):
            return 0.0

    busy = [r for r in rows if num(r[3]) > 200]  # watts: the GPU at work, not idle between phases
    clocks = sorted(num(r[1]) for r in busy)
    print(f"smi: {len(rows)} samples, {len(busy)} over 200 W; SM clock there: min {clocks[0] if clocks else 0:.0f}, "
          f"median {clocks[len(clocks) // 2] if clocks else 0:.0f}, max {clocks[-1] if clocks else 0:.0f} MHz; "
          f"power max {max((num(r[3]) for r in rows), default=0):.0f} W; temperature at the end "
          f"{busy[-1][4].strip() if busy else '-'} C; throttle reasons {sorted(set(r[5].strip() for r in busy))}")


def main():
    if sys.argv[1] == "--smi":
        smi(sys.argv[2])
        return
    recs = load(sys.argv[1])
    runs = split_runs(recs)
    print(f"{len(recs)} records, {len(runs)} runs (the first is the warm-up)")
    for i, r in enumerate(runs):
        t = r["tower"]
        p = r["prefill"]
        ts = (max(x[2] for x in t) - t[0][1]) / 1e6 if t else 0
        ps = (max(x[2] for x in p) - p[0][1]) / 1e6 if p else 0
        print(f"run {i}: tower span {ts:.2f} ms, prefill span {ps:.2f} ms")
    picks = [int(a) for a in sys.argv[2:]] or [len(runs) - 1]
    for i in picks:
        if 0 <= i < len(runs):
            summarize(f"run {i} tower", runs[i]["tower"])
            summarize(f"run {i} prefill", runs[i]["prefill"])


if __name__ == "__main__":
    main()
