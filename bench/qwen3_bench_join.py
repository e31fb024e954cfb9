"""Joins the Qwen3 decode and Qwen3-VL tower + prefill benches of ours and transformers, measured in the same
`bash bench/run.sh decode prefill` call, into JSON lines with ours, baseline and ratio (issue 14 "How to measure").

Inputs (the logs bench/run.sh writes):
  decode:  ours = bench/qwen3_decode_bench.cu's lines "decode N tokens after a P-token prompt: X ms/token, Y tokens/s"
           (", persistent step" after "prompt" under COSMOS_DECODE_PERSISTENT=1: rows qwen3_decode_persistent_P_N;
           then its sweep "persistent step [LEVERS]: X ms/token, Y tokens/s", LEVERS "defaults" or changes joined
           by " + ": rows qwen3_decode_persistent_LEVERS_P_N with LEVERS in snake case, the timed runs left out)
           and "roofline (weight bytes / D2D bandwidth): R ms/token = Z tokens/s" (+ "D2D copy bandwidth ...");
           baseline = bench/hf_qwen3_decode.py's JSON line {"bench": "qwen3_8b_text_decode_transformers", ...}
           (eager), baseline_compiled = its --compiled line ("..._transformers_compiled": static cache +
           torch.compile reduce-overhead), each with its ratio.
  prefill: ours = bench/qwen3vl_prefill_bench.cu's JSON line {"bench": "qwen3vl_8b_tower_prefill", "cases": [...]};
           baseline = bench/hf_qwen3vl_prefill.py's {"bench": "qwen3vl_8b_tower_prefill_transformers", ...}
           from pixels made on the GPU in bf16; baseline_host_pixels = its "ms_host_pixels", from the processor's
           host float32 pixels sent up inside the timed call, as ours is timed, each with its ratio.
Ratio = baseline time / ours time (> 1: ours is faster); decode compares tokens/s the same way.

  python3 bench/qwen3_bench_join.py decode.log prefill.log
"""

import json
import re
import sys

DECODE = re.compile(
    r"^decode (\d+) tokens after a (\d+)-token prompt(, persistent step)?: ([\d.]+) ms/token, ([\d.]+) tokens/s")
SWEEP = re.compile(r"^persistent step \[([^\]]+)\]: ([\d.]+) ms/token, ([\d.]+) tokens/s")
ROOF = re.compile(r"^roofline \(weight bytes / D2D bandwidth\): ([\d.]+) ms/token = ([\d.]+) tokens/s")
D2D = re.compile(r"^D2D copy bandwidth \(read\+write\): (\d+) GB/s")


def json_lines(text):
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                pass


def decode_rows(text):
    ours, roof, d2d = {}, {}, None
    key = None
    for line in text.splitlines():
        if m := DECODE.match(line):
            key = (int(m[2]), int(m[1]), "persistent" if m[3] else "")  # (prompt, gen, which step)
            ours.setdefault(key, []).append(float(m[5]))
        elif (m := SWEEP.match(line)) and key:
            variant = "persistent_" + re.sub(r"[^a-z0-9]+", "_", m[1].lower()).strip("_")
            ours.setdefault(key[:2] + (variant,), []).append(float(m[3]))
        elif (m := ROOF.match(line)) and key:
            roof[key[:2]] = float(m[2])
        elif m := D2D.match(line):
            d2d = int(m[1])
    base, compiled = {}, {}
    for j in json_lines(text):
        if j.get("bench") == "qwen3_8b_text_decode_transformers":
            base.setdefault((j["prompt"], j["gen"]), []).append(j["tokens_per_s"])
        elif j.get("bench") == "qwen3_8b_text_decode_transformers_compiled":
            compiled.setdefault((j["prompt"], j["gen"]), []).append(j["tokens_per_s"])
    for key in sorted(ours):
        step = f"{key[2]}_" if key[2] else ""
        o = max(ours[key])  # best of the runs: the bench's own figure is one timed decode
        b = max(base[key[:2]]) if key[:2] in base else None
        c = max(compiled[key[:2]]) if key[:2] in compiled else None
        yield {
            "row": f"qwen3_decode_{step}{key[0]}_{key[1]}",
            "unit": "tokens/s",
            "ours": o,
            "ours_all": ours[key],
            "baseline": b,
            "ratio": round(o / b, 3) if b else None,
            "baseline_compiled": c,
            "ratio_compiled": round(o / c, 3) if c else None,
            "roofline_tokens_per_s": roof.get(key[:2]),
            "d2d_gb_s": d2d,
        }


def prefill_rows(text):
    # Ours with COSMOS_FP8_PREFILL=1 ("fp8_prefill": true) is its own row against the same bf16 baseline, with the
    # fp8 prefill's distance from bf16 (last-row logits, text rows, random weights) beside it; so is ours with the
    # tower's GEMM inputs in f32 and cast (COSMOS_TOWER_BF16_INPUTS=0, "tower_bf16_inputs": false: the same numbers as
    # the default's bf16 from their producers), with its tower times beside it; and ours with the decoder prefill's
    # residual stream in f32 (COSMOS_PREFILL_BF16_RESIDUAL=0, "prefill_bf16_residual": false) or the tower's GELU on
    # tanhf (COSMOS_GELU_TANH_APPROX=0, "gelu_tanh_approx": false), each marked in its row's name (a line without the
    # keys, an older bench's, counts as the defaults).
    ours, towers, base, base_host, fidelity = {}, {}, {}, {}, {}
    for j in json_lines(text):
        if j.get("bench") == "qwen3vl_8b_tower_prefill":
            for c in j["cases"]:
                key = (c["case"], bool(c.get("fp8_prefill")), bool(c.get("tower_bf16_inputs")),
                       bool(c.get("prefill_bf16_residual", True)), bool(c.get("gelu_tanh_approx", True)))
                ours.setdefault(key, []).append(c["tower_ms"] + c["prefill_ms"])
                towers.setdefault(key, []).append(c["tower_ms"])
                if key[1]:
                    fidelity[key] = {"fp8_logits_rel_l2": c["fp8_logits_rel_l2"], "fp8_same_argmax": c["fp8_same_argmax"]}
        elif j.get("bench") == "qwen3vl_8b_tower_prefill_transformers":
            for c in j["cases"]:
                base.setdefault(c["case"], []).append(c["ms"])
                if "ms_host_pixels" in c:
                    base_host.setdefault(c["case"], []).append(c["ms_host_pixels"])
    for key in sorted(ours):
        case, fp8, bf16_in, prefill_bf16_stream, tanh_approx = key
        o = min(ours[key])
        b = min(base[case]) if case in base else None
        bh = min(base_host[case]) if case in base_host else None
        yield {
            "row": f"qwen3vl_tower_prefill_{case}" + (" fp8_prefill" if fp8 else "")
            + ("" if bf16_in else " tower_f32_inputs") + ("" if prefill_bf16_stream else " prefill_f32_stream")
            + ("" if tanh_approx else " gelu_tanhf"),
            "unit": "ms",
            "ours": round(o, 1),
            "ours_all": ours[key],
            "tower_ms_all": towers[key],
            "baseline": b,
            "ratio": round(b / o, 3) if b else None,
            "baseline_host_pixels": bh,
            "ratio_host_pixels": round(bh / o, 3) if bh else None,
            **fidelity.get(key, {}),
        }


def main():
    text = ""
    for path in sys.argv[1:]:
        with open(path) as f:
            text += f.read() + "\n"
    for row in list(decode_rows(text)) + list(prefill_rows(text)):
        print(json.dumps(row))


if __name__ == "__main__":
    main()
