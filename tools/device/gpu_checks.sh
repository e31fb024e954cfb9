#!/usr/bin/env bash
# The engine's standing GPU checks in one device call (what a session runs first on the GPU machine): the VAE's
# implicit-GEMM convolutions (vae_conv_check.sh), the Generator on CPU and CUDA against diffusers with the distilled
# checkpoint and the guidance interval (generate_e2e.sh), the Reasoner's CUDA tests (engine_check.sh with
# ENGINE_CHECK_BENCH=0: ops, qwen3, lifecycle, gemm_bench, cuda_vs_cpu.mjs) and one decode bench per shape. Each
# script's own prepare builds its part here; this packs the binaries into one xz archive (~3.5 MB instead of ~45 MB
# of stripped drivers, addon and bundle), so node, the pack and the tracked tree fit the call's 64 MiB.
#
#   here:   bash tools/device/gpu_checks.sh prepare      # ~10-20 min on the 2 shared cores when nothing is built
#   `run`, kind nvidia-h200, timeout_s 600, carry [".dev/node.xz", ".dev/gpu_checks"]:
#           bash tools/device/gpu_checks.sh device        # ~4-5 min (2026-11-30, H200: 249 s)
#
# Results: stdout ends with each check's PASS / FAIL lines and the decode figures; $OUT/gpu_checks_logs.tgz holds
# every log (rewritten after each check, so a call cut short still returns what ran).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
case "${1:-}" in
prepare)
  bash scripts/build-native.sh || exit 1
  ENGINE_CHECK_BENCH=0 bash tools/device/engine_check.sh prepare || exit 1
  bash tools/device/vae_conv_check.sh prepare || exit 1
  bash tools/device/generate_e2e.sh bundle || exit 1
  bash tools/device/node_xz.sh || exit 1
  rm -rf .dev/gpu_checks && mkdir -p .dev/gpu_checks
  tar -cf - .dev/bin/{ops_cuda_test,qwen3_cuda_test,lifecycle_cuda_test,gemm_bench,qwen3_decode_bench} .dev/vaeconvbin \
    native/build/Release/cosmos_native.node .dev/gen_e2e | xz -6 -T2 > .dev/gpu_checks/pack.tar.xz || exit 1
  bash tools/device/carry_fits.sh .dev/node.xz .dev/gpu_checks || exit 1 ;;
device)
  out=${OUT:-/tmp/gpu_checks}
  mkdir -p "$out"
  r=/tmp/gpu_checks_logs
  rm -rf "$r" && mkdir -p "$r"
  pack() { tar -czf "$out/gpu_checks_logs.tgz" -C /tmp gpu_checks_logs 2> /dev/null; }
  tar -xJf .dev/gpu_checks/pack.tar.xz || { echo "no .dev/gpu_checks/pack.tar.xz: run prepare here and carry it"; exit 1; }
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  run_check() {  # run_check <name> <timeout s> <command...>: its output to $r/<name>.txt, then the lines that matter
    local name=$1 limit=$2 t=$SECONDS
    shift 2
    OUT=$r/$name timeout "$limit" "$@" > "$r/$name.txt" 2>&1
    echo "== $name: rc $? ($((SECONDS - t)) s)"
    pack
  }
  run_check vae_conv 250 bash tools/device/vae_conv_check.sh device
  grep -E "PASS|FAIL|^\{" "$r/vae_conv.txt" | tail -20
  run_check generate_e2e 80 bash tools/device/generate_e2e.sh device
  grep -vE '^\{' "$r/generate_e2e.txt" | tail -24
  run_check engine_check 190 env ENGINE_CHECK_BENCH=0 bash tools/device/engine_check.sh device
  grep -E "rc=|PASS|FAIL|fails|DIFFER" "$r/engine_check/summary.txt" 2> /dev/null | cut -c1-200 | tail -30
  for shape in "128 128" "1024 256"; do
    # shellcheck disable=SC2086
    timeout 30 .dev/bin/qwen3_decode_bench $shape > "$r/decode_${shape/ /_}.txt" 2>&1
    grep -E "^(decode [0-9]+ tokens|roofline)" "$r/decode_${shape/ /_}.txt" | cut -c1-200
  done
  pack ;;
*) echo "usage: gpu_checks.sh prepare | device" >&2; exit 2 ;;
esac
