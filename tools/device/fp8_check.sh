#!/usr/bin/env bash
# The FP8 path (native/src/ops/quantize_fp8.cu, gemm_fp8_wgmma.cu: issue 14's FP8 groundwork) checked and timed on
# the GPU in one device call, from binaries built here (nothing is compiled there).
#
#   here:   bash tools/device/fp8_check.sh prepare
#           compiles gemm_fp8_wgmma.cu and gemm_wgmma.cu (the bf16 GEMM it is compared with) for sm_90a, the
#           quantizer, fill_uniform, cuda_pool and native/test/gemm_fp8_cuda_test.cu for sm_90, the CPU twins with
#           g++, and links .dev/fp8bin/gemm_fp8_cuda_test; the ptxas report goes to .dev/fp8bin/ptxas.txt.
#   `run`, kind nvidia-h200, timeout_s 300, carry [".dev/fp8bin"]:
#           bash tools/device/fp8_check.sh device
#           gemm_fp8_cuda_test check (CUDA == CPU: conversion, quantizer bytes, GEMM vs its twin), fidelity (fp8 path
#           vs bf16 path vs f64 at the Generator's shapes), time (TFLOP/s fp8 variants vs gemm_wgmma bf16), each its
#           own process, and the SASS grep (QGMMA must be there).
# Results in $OUT/fp8.log (the only file); stdout ends with the PASS / FAIL lines, fidelity rows and the timing table.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
case "${1:-}" in
prepare)
  here=native/test src=native/src out=native/build/fp8
  bin=.dev/fp8bin
  mkdir -p "$bin"
  JOBS=2
  # shellcheck source=../../native/test/cuda_build_common.sh
  source native/test/cuda_build_common.sh
  for f in native/src/ops/gemm_fp8_wgmma.cu native/src/ops/gemm_wgmma.cu; do compile nv90a "$f"; done
  for f in native/src/ops/quantize_fp8.cu native/src/ops/fill_uniform.cu native/src/core/cuda_pool.cu \
           native/test/gemm_fp8_cuda_test.cu; do compile nv "$f"; done
  for f in native/src/ops/quantize_fp8_cpu.cc native/src/ops/gemm_fp8_cpu.cc native/src/core/parallel.cc; do
    compile cxx "$f"
  done
  wait_compiles || { cat "$out"/obj/*.ptxas >&2; echo "a source failed to compile" >&2; exit 1; }
  cat "$out/obj/gemm_fp8_wgmma.cu.o.ptxas" > "$bin/ptxas.txt" 2> /dev/null
  grep -E "Used|spill|warning" "$bin/ptxas.txt" | sed 's/^/ptxas: /'
  "$NVCC" "${NVFLAGS_90A[@]}" -gencode arch=compute_90,code=sm_90 -o "$bin/gemm_fp8_cuda_test" "${objs[@]}" -lpthread ||
    { echo "link failed" >&2; exit 1; }
  du -sh "$bin" ;;
device)
  out=${OUT:-/tmp/fp8_check}
  mkdir -p "$out"
  log="$out/fp8.log"  # the only file written under $OUT
  b=.dev/fp8bin/gemm_fp8_cuda_test
  echo "device: $(nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader)" | tee "$log"
  summary=()
  # Each mode its own process and time limit (a kernel that hangs costs its limit only).
  for mode in "check 0,1,2,3" fidelity time; do
    echo "=== $mode" >> "$log"
    lim=60
    [ "$mode" = fidelity ] || [ "$mode" = time ] || lim=90
    # shellcheck disable=SC2086
    timeout $lim "$b" $mode > "$out/mode.tmp" 2>&1
    rc=$?
    cat "$out/mode.tmp" >> "$log"
    case "$mode" in
      fidelity) grep "^fidelity" "$out/mode.tmp" | cut -c1-220 ;;
      time) sed -n '/^shape /,$p' "$out/mode.tmp" ;;
      *) grep -E "FAIL|exception" "$out/mode.tmp" | head -20 ;;
    esac
    summary+=("${mode%% *}: rc=$rc $([ $rc = 0 ] && echo PASS || echo FAIL)")
  done
  rm -f "$out/mode.tmp"
  echo "=== SASS (QGMMA / HGMMA per kernel)" >> "$log"
  if command -v cuobjdump > /dev/null; then
    cuobjdump --dump-sass "$b" 2>&1 | awk '/Function :/{f=$3} /QGMMA/{q[f]++} /HGMMA/{h[f]++} /LDL|STL/{l[f]++} END{for(k in q) print k": "q[k]" QGMMA, "l[k]+0" LDL/STL"; for(k in h) print k": "h[k]" HGMMA"}' >> "$log"
    qg=$(grep -c " QGMMA," "$log")
    summary+=("sass: $qg kernels with QGMMA $([ "$qg" -gt 0 ] && echo PASS || echo FAIL)")
  else
    summary+=("sass: no cuobjdump on the device")
  fi
  echo "=== ptxas (compiled on the build machine)" >> "$log"
  cat .dev/fp8bin/ptxas.txt >> "$log" 2> /dev/null
  grep -E "^check \|" "$log" | cut -c1-230
  printf '%s\n' "${summary[@]}" ;;
*) echo "usage: fp8_check.sh prepare | device" >&2; exit 2 ;;
esac
