"""Joins the Cosmos 3 Generator bench rows of ours (bench/cosmos3_generator_bench.cu) and diffusers
(bench/cosmos3_diffusers_bench.py) measured in the same run into JSON lines with ours, baseline and ratio.

Input: JSON lines {"row", "impl": "ours" | "diffusers", "s", "peak_gib", ...} (other lines are ignored). A row
measured more than once by one side (ours runs before and after diffusers) counts with its median; the spread
is kept as ours_all. ratio = baseline s / ours s (> 1: ours is faster). Ours' "<row>_with_prefill" rows (one
forward_gen + the und prefill that diffusers recomputes every forward) are paired with diffusers' "<row>".

  python3 bench/cosmos3_bench_join.py rows.jsonl
"""

import json
import statistics
import sys

SUFFIX = "_with_prefill"


def load(path):
    by = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                r = json.loads(line)
            except json.JSONDecodeError:
                continue
            if r.get("s") is None and isinstance(r.get("estimate_full_s"), (int, float)):
                r = {**r, "s": r["estimate_full_s"], "estimated": True}
            if "row" in r and "impl" in r and (isinstance(r.get("s"), (int, float)) or r["row"] == "device_used"):
                by.setdefault((r["row"], r["impl"]), []).append(r)
    return by


def join(by):
    out = []
    for row, impl in sorted(k for k in by if k[1] == "ours"):
        if row == "transformer_build":
            continue
        if row == "device_used":
            out.append({"row": row, "ours_used_gib": max(r["used_gib"] for r in by[(row, impl)])})
            continue
        ours = [r["s"] for r in by[(row, impl)]]
        base_row = row[: -len(SUFFIX)] if row.endswith(SUFFIX) else row
        base = by.get((base_row, "diffusers"), [])
        o = statistics.median(ours)
        j = {"row": row, "ours": round(o, 4)}
        if any(r.get("estimated") for r in by[(row, impl)]):
            j["ours_estimated"] = True
        if len(ours) > 1:
            j["ours_all"] = ours
        j["baseline"] = round(statistics.median(r["s"] for r in base), 4) if base else None
        j["ratio"] = round(j["baseline"] / o, 3) if base and o > 0 else None
        j["ours_peak_gib"] = max(r.get("peak_gib", 0) for r in by[(row, impl)])
        j["baseline_peak_gib"] = max(r.get("peak_gib", 0) for r in base) if base else None
        out.append(j)
    for row, impl in sorted(k for k in by if k[1] == "diffusers"):  # baseline rows ours did not measure
        if row != "transformer_build" and (row, "ours") not in by:
            out.append({"row": row, "ours": None, "baseline": by[(row, impl)][0]["s"], "ratio": None})
    return out


def main():
    for j in join(load(sys.argv[1])):
        print(json.dumps(j))


if __name__ == "__main__":
    main()
