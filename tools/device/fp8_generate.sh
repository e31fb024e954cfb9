#!/usr/bin/env bash
# The Generator's fp8 load option (`quantization: "fp8"`) through the real session on the GPU machine: the native
# addon built here, bench/fp8_fidelity.ts bundled, on the mini Generator (checkpoints/mini-generator: trained,
# every gen-stream linear 16-aligned so the CUDA fp8 GEMM takes them all), COSMOS_DEVICE=cpu then cuda. Each
# backend runs the same prompts unquantized and fp8 with the same noise, and again with the noise nudged by a
# relative 1e-3 (how rough each session's function is: bench/fp8_fidelity.ts --nudge); this script then compares
# the backends. PASS when, for every prompt:
#   - the sessions report quantization "none" / "fp8" on the backend asked for;
#   - the first step's guided velocity (one CFG forward pair from the same input): CUDA fp8 vs the CPU twin's fp8,
#     relative L2, within twice the larger of the two fp8 sessions' own nudge distances. e4m3 rounding flips whole
#     ulps, so any difference in x, however small, moves an fp8 forward by about that much (the mini Generator:
#     ~0.1 at guidance 4, against 2e-4 unquantized on the CPU); the twin cannot agree better, and a wrong fp8 path
#     (bad scales, the wrong linears) lands far outside it;
#   - CUDA's fp8 session is much rougher than its unquantized one (nudge distance fp8 > 3x none: CUDA's bf16
#     rounding makes the unquantized forward rough too, 0.016, against fp8's 0.12): fp8 was taken;
#   - fp8 vs unquantized on CUDA, final latents, relative L2, in (1e-3, 0.5): it stays near the model.
# The final latents' backend-to-backend distances are printed, not judged. H200, 2026-12-01, 4 prompts: v0 CUDA fp8
# vs CPU fp8 0.11-0.14 (unquantized 0.026-0.032), nudge distances fp8 0.09-0.11 (CPU) / 0.10-0.13 (CUDA), none 1.5e-4
# (CPU) / 0.014-0.018 (CUDA); final latents fp8 vs unquantized 0.13-0.16 on both.
#
#   here:   bash scripts/build-native.sh && bash tools/device/fp8_generate.sh bundle
#           (.dev/fp8gen: the bundle and the addon xz-compressed: node + addon + tree would not fit the 64 MiB otherwise)
#   `run`, kind nvidia-h200, carry [".dev/node.xz", ".dev/fp8gen"]:
#           bash tools/device/fp8_generate.sh device
#           $OUT/fp8_generate.log (both backends' JSON lines, the comparison, PASS / FAIL).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
case "${1:-}" in
bundle)
  mkdir -p .dev/fp8gen
  node_modules/.bin/esbuild tools/device/fp8_generate.ts --bundle --platform=node --format=esm --target=node20 \
    --alias:sharp=./tools/device/sharp_absent.mjs --define:import.meta.url='"file:///cosmos-ts/fp8_generate.mjs"' \
    --outfile=/tmp/fp8_generate.mjs --log-level=warning || exit 1
  xz -9 -T2 < /tmp/fp8_generate.mjs > .dev/fp8gen/driver.mjs.xz || exit 1
  xz -9 -T2 < native/build/Release/cosmos_native.node > .dev/fp8gen/cosmos_native.node.xz || exit 1
  bash tools/device/carry_fits.sh .dev/node.xz .dev/fp8gen ;;
device)
  out=${OUT:-/tmp/fp8_generate}
  mkdir -p "$out"
  log="$out/fp8_generate.log"
  rm -rf /tmp/fp8_latents "$log"
  xz -dc .dev/node.xz > /tmp/node && chmod +x /tmp/node
  xz -dc .dev/fp8gen/cosmos_native.node.xz > /tmp/cosmos_native.node
  xz -dc .dev/fp8gen/driver.mjs.xz > /tmp/fp8_generate.mjs
  for d in cpu cuda; do
    COSMOS_NATIVE_PATH=/tmp/cosmos_native.node COSMOS_DEVICE=$d timeout 400 /tmp/node /tmp/fp8_generate.mjs \
      --checkpoint checkpoints/mini-generator --count "${FP8_COUNT:-3}" --steps "${FP8_STEPS:-30}" \
      --nudge 1e-3 --save-latents "/tmp/fp8_latents/$d" 2>&1 | sed "s/^/$d: /" | tee -a "$log" || echo "$d: failed" | tee -a "$log"
  done
  /tmp/node -e '
    const fs = require("fs");
    const dir = "/tmp/fp8_latents";
    const read = (d, name) => { const b = fs.readFileSync(`${dir}/${d}/${name}`); return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4); };
    const rel = (a, b) => { let n = 0, m = 0; for (let i = 0; i < b.length; i++) n += (a[i] - b[i]) ** 2, m += b[i] ** 2; return Math.sqrt(n / m); };
    let ok = true;
    const log = fs.readFileSync(process.argv[1], "utf8");
    for (const d of ["cpu", "cuda"]) {
      const line = log.split("\n").find((l) => l.startsWith(`${d}: {"sessions"`));
      const s = line ? JSON.parse(line.slice(d.length + 2)).sessions : undefined;
      const good = s && s.none.backend === d && s.fp8.backend === d && s.none.quantization === "none" && s.fp8.quantization === "fp8";
      if (!good) ok = false;
      console.log(d, "sessions", good ? "ok" : "BAD", JSON.stringify(s));
    }
    const seeds = fs.existsSync(`${dir}/cuda`) ? fs.readdirSync(`${dir}/cuda`).filter((f) => /^\d+\.fp8\.f32$/.test(f)).map((f) => f.split(".")[0]) : [];
    if (seeds.length === 0) ok = false;
    // Each backend'"'"'s rows by seed (for the nudge distances).
    const rowsOf = (d) => Object.fromEntries(log.split("\n").filter((l) => l.startsWith(`${d}: {"seed"`))
      .map((l) => JSON.parse(l.slice(d.length + 2))).map((r) => [String(r.seed), r]));
    const byBackend = { cpu: rowsOf("cpu"), cuda: rowsOf("cuda") };
    for (const seed of seeds) {
      const pair = (kind, file) => rel(read("cuda", `${seed}.${kind}.${file}`), read("cpu", `${seed}.${kind}.${file}`));
      const effect = (d, file) => rel(read(d, `${seed}.fp8.${file}`), read(d, `${seed}.none.${file}`));
      const nudged = { cpu: byBackend.cpu[seed]?.nudgeVelocityRelL2, cuda: byBackend.cuda[seed]?.nudgeVelocityRelL2 };
      const row = {
        seed: Number(seed),
        v0: { cudaFp8VsCpuFp8: pair("fp8", "v0.f32"), cudaNoneVsCpuNone: pair("none", "v0.f32"), fp8EffectCpu: effect("cpu", "v0.f32"), fp8EffectCuda: effect("cuda", "v0.f32") },
        nudged,
        final: { cudaFp8VsCpuFp8: pair("fp8", "f32"), cudaNoneVsCpuNone: pair("none", "f32"), fp8EffectCpu: effect("cpu", "f32"), fp8EffectCuda: effect("cuda", "f32") },
      };
      const good = !!nudged.cpu && !!nudged.cuda &&
        row.v0.cudaFp8VsCpuFp8 <= 2 * Math.max(nudged.cpu.fp8, nudged.cuda.fp8) &&
        nudged.cuda.fp8 > 3 * nudged.cuda.none &&
        row.final.fp8EffectCuda > 1e-3 && row.final.fp8EffectCuda < 0.5;
      if (!good) ok = false;
      console.log(JSON.stringify({ ...row, ok: good }));
    }
    console.log(ok ? "PASS" : "FAIL");' "$log" 2>&1 | tee -a "$log" ;;
*) echo "usage: fp8_generate.sh bundle|device" >&2; exit 2 ;;
esac
