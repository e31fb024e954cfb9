#!/usr/bin/env bash
# The native Generator (src/native/generator.ts + NativeCosmos3Generator) on the device machine, COSMOS_DEVICE=cpu
# then cuda: the fixture's t2i / t2v / i2v / v2v / t2v_sound runs with diffusers' noise injected, max |diff| of step
# latents (vision, and sound for t2v_sound), final latents and decoded frames vs Cosmos3OmniPipeline (pass: all
# <= 1e-3; the AVAE-decoded wave of t2v_sound <= 1e-4), the wall time of a first run and the device bytes a second
# run of the same request leaves in use (pass: 0; on CUDA the run's latents, CFG velocities and sampler history are blocks of the transformer's pool
# from the initial latents to the VAE / AVAE, so this also checks they are all given back); and the guidance interval
# on the t2i run (uncond forwards 0 / 2 / 1 for guidance 1, [0, 900], [900, 1000]; the unguided step 0 = the
# guidance-1 run's within 1e-5, the guided step 0 = diffusers' within 1e-3; the [0, 900] run's final latents on CUDA
# vs the CPU run within 1e-3: passed on the H200 2026-11-30); and the distilled checkpoint's t2i / i2v / v2v
# (test/fixtures/cosmos3-tiny-distilled: 4 re-noising FlowMatchEuler steps) against Cosmos3DistilledModularPipeline with its per-step noise injected (pass: all <= 1e-3, 0 bytes
# left). The
# device has no node and no npm: the driver is bundled with esbuild (sharp stays external and is carried) and run
# with a carried node binary, as tools/device/reason_e2e.sh does.
#
#   here:        bash scripts/build-native.sh                  # the CUDA addon (nvcc here compiles the .cu files)
#                bash tools/device/generate_e2e.sh bundle      # .dev/gen_e2e (git-ignored): driver.mjs, the fixture's
#                                                              # media pre-decoded, the addon xz-compressed (node, the
#                                                              # addon as built and the tree are over the 64 MiB)
#                bash tools/device/node_xz.sh
#   the `run` tool, kind nvidia-h200, carry [.dev/node.xz, .dev/gen_e2e]:
#                bash tools/device/generate_e2e.sh device
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
case "${1:-}" in
bundle)
  mkdir -p .dev/gen_e2e
  # sharp is replaced by a module that throws when called: the driver reads the fixture's PNGs pre-decoded
  # (below) and the generation path never calls sharp, so node, the addon and the tree fit the 64 MiB carry.
  node_modules/.bin/esbuild tools/device/generate_e2e.ts --bundle --platform=node --format=esm --target=node20 \
    --alias:sharp=./tools/device/sharp_absent.mjs --outfile=.dev/gen_e2e/driver.mjs --log-level=warning
  mkdir -p .dev/gen_e2e/media
  node --input-type=module -e '
    import sharp from "sharp";
    import { readdirSync, writeFileSync } from "node:fs";
    const src = "test/fixtures/cosmos3-tiny-reference/media", dst = ".dev/gen_e2e/media";
    for (const name of readdirSync(src).filter((f) => f.endsWith(".png"))) {
      const { data, info } = await sharp(`${src}/${name}`).removeAlpha().raw().toBuffer({ resolveWithObject: true });
      writeFileSync(`${dst}/${name}.rgb`, data);
      writeFileSync(`${dst}/${name}.json`, JSON.stringify({ width: info.width, height: info.height }));
    }'
  xz -9 -T2 < native/build/Release/cosmos_native.node > .dev/gen_e2e/cosmos_native.node.xz || exit 1
  bash tools/device/carry_fits.sh .dev/node.xz .dev/gen_e2e ;;
device)
  bash tools/fixtures/references.sh unpack || exit 1  # tracked xz-compressed: test/fixtures/README.md
  xz -dc .dev/node.xz > /tmp/node && chmod +x /tmp/node
  xz -dc .dev/gen_e2e/cosmos_native.node.xz > /tmp/cosmos_native.node
  out=${OUT:-/tmp/generate_e2e}; mkdir -p "$out"
  for d in cpu cuda; do
    GEN_E2E_MEDIA=.dev/gen_e2e/media COSMOS_NATIVE_PATH=/tmp/cosmos_native.node COSMOS_DEVICE=$d timeout 300 /tmp/node .dev/gen_e2e/driver.mjs "$PWD" 2>&1 | tee "$out/$d.jsonl" || echo "$d: failed"
  done
  /tmp/node -e '
    const fs = require("fs");
    let ok = true;
    const heads = {};
    for (const d of ["cpu", "cuda"]) {
      const p = `${process.argv[1]}/${d}.jsonl`;
      const all = fs.existsSync(p) ? fs.readFileSync(p, "utf8").trim().split("\n").filter((l) => l.startsWith("{")).map(JSON.parse) : [];
      const rows = all.filter((r) => r.mode !== "t2i_interval");
      if (rows.length !== 8) { ok = false; console.log(d, "runs:", rows.length, "of 8 (5 modes + distilled t2i / i2v / v2v)"); }
      // The guidance interval: passes 0 / 2 / 1, the unguided step = guidance 1, the guided ones = CFG (diffusers).
      const gi = all.find((r) => r.mode === "t2i_interval");
      heads[d] = gi?.head;
      const giOk = !!gi && gi.backend === d && JSON.stringify(gi.uncondPasses) === "[0,2,1]" &&
        gi.unguidedStep0VsGuidance1 <= 1e-5 && gi.guidedStep1VsGuidance1 > 1e-3 && gi.guidedStep0VsDiffusers <= 1e-3;
      if (!giOk) ok = false;
      console.log(d, "t2i guidance interval", giOk ? "ok" : "BAD", gi ? JSON.stringify({ ...gi, head: undefined }) : "missing");
      for (const r of rows) {
        const worst = Math.max(...r.steps, ...(r.sound ?? []), r.final, r.video);
        const wave = "wave" in r ? ` wave ${typeof r.wave === "number" ? r.wave.toExponential(2) : "missing"}` : "";
        if (!(worst <= 1e-3) || r.backend !== d || ("wave" in r && !(typeof r.wave === "number" && r.wave <= 1e-4))) ok = false;
        if (r.mode === "t2v_sound" && (r.sound ?? []).length === 0) ok = false;
        if (r.bytesLeft !== 0) ok = false;
        console.log(d, r.mode, "backend", r.backend, "worst", worst.toExponential(2) + wave, r.ms, "ms", "bytes left", r.bytesLeft);
      }
    }
    // The [0, 900] run on CUDA vs its CPU twin (first 64 final latents).
    const headDiff = heads.cpu && heads.cuda ? Math.max(...heads.cpu.map((v, i) => Math.abs(v - heads.cuda[i]))) : NaN;
    if (!(headDiff <= 1e-3)) ok = false;
    console.log("t2i guidance interval cuda vs cpu (first 64 final latents)", headDiff);
    console.log(ok ? "PASS" : "FAIL");' "$out" ;;
*) echo "usage: generate_e2e.sh bundle|device" >&2; exit 2 ;;
esac
