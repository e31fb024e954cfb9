#!/usr/bin/env bash
# The Hopper wgmma GEMM (native/src/ops/gemm_wgmma.cu) checked and timed on the GPU in one device call:
# native/test/gemm_wgmma_cuda_test, one process per variant for the correctness rows (a variant that faults or
# hangs cannot take the others down), the SASS grep (HGMMA must be there), then the timing table of the variants
# that passed next to matmul_cuda's mma.sync GEMM on the Generator's and the 8B prefill's shapes.
#
#   here:   bash tools/device/wgmma_check.sh prepare
#           compiles gemm_wgmma.cu for sm_90a (-gencode arch=compute_90a,code=sm_90a: wgmma and setmaxnreg exist
#           only there), matmul.cu, fill_uniform.cu, cuda_pool.cu and the test for sm_90, links .dev/wgmmabin/
#           gemm_wgmma_cuda_test; the ptxas report (registers, spills, smem) goes to .dev/wgmmabin/ptxas.txt.
#   `run`, kind nvidia-h200, timeout_s 300, carry [".dev/wgmmabin"]:
#           bash tools/device/wgmma_check.sh device
# Results under $OUT/wgmma.log; stdout ends with the PASS / FAIL lines and the timing table.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
variants=(0 1 2 3)
case "${1:-}" in
prepare)
  out=native/build/wgmma
  bin=.dev/wgmmabin
  mkdir -p "$out" "$bin"
  NV=(nice -n 10 nvcc -std=c++17 -O3 -DCOSMOS_CUDA)
  SM90=(-gencode arch=compute_90,code=sm_90)
  SM90A=(-gencode arch=compute_90a,code=sm_90a)
  "${NV[@]}" "${SM90A[@]}" -Xptxas -v -c native/src/ops/gemm_wgmma.cu -o "$out/gemm_wgmma.o" 2> "$bin/ptxas.txt" ||
    { cat "$bin/ptxas.txt" >&2; exit 1; }
  grep -E "Used|spill|warning" "$bin/ptxas.txt" | sed 's/^/ptxas: /'
  pids=()
  for f in native/src/ops/matmul.cu native/src/ops/fill_uniform.cu native/src/core/cuda_pool.cu \
           native/test/gemm_wgmma_cuda_test.cu; do
    while [ "$(jobs -rp | wc -l)" -ge 2 ]; do sleep 1; done
    "${NV[@]}" "${SM90[@]}" -c "$f" -o "$out/$(basename "$f").o" & pids+=($!)
  done
  rc=0
  for p in "${pids[@]}"; do wait "$p" || rc=1; done
  [ $rc = 0 ] || { echo "a source failed to compile" >&2; exit 1; }
  "${NV[@]}" "${SM90A[@]}" "${SM90[@]}" -o "$bin/gemm_wgmma_cuda_test" "$out/gemm_wgmma_cuda_test.cu.o" \
    "$out/gemm_wgmma.o" "$out/matmul.cu.o" "$out/fill_uniform.cu.o" "$out/cuda_pool.cu.o" -lpthread ||
    { echo "link failed" >&2; exit 1; }
  du -sh "$bin" ;;
device)
  out=${OUT:-/tmp/wgmma_check}
  mkdir -p "$out"
  log="$out/wgmma.log"
  b=.dev/wgmmabin/gemm_wgmma_cuda_test
  echo "device: $(nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader)" | tee "$log"
  summary=()
  passed=()
  for v in "${variants[@]}"; do
    echo "=== check variant $v" >> "$log"
    timeout 90 "$b" check "$v" >> "$log" 2>&1
    rc=$?
    summary+=("check v$v: rc=$rc $([ $rc = 0 ] && echo PASS || echo FAIL)")
    [ $rc = 0 ] && passed+=("$v")
  done
  echo "=== SASS" >> "$log"
  if command -v cuobjdump > /dev/null; then
    cuobjdump --dump-sass "$b" > "$out/sass.txt" 2>&1
    hg=$(grep -c HGMMA "$out/sass.txt")
    ldl=$(grep -cE "LDL|STL" "$out/sass.txt")
    summary+=("sass: HGMMA lines $hg, LDL/STL lines $ldl (whole binary) $([ "$hg" -gt 0 ] && echo PASS || echo FAIL)")
    grep -E "Function|HGMMA" "$out/sass.txt" | awk '/Function/{f=$0} /HGMMA/{c[f]++} END{for(k in c) print k": "c[k]" HGMMA"}' >> "$log"
  else
    summary+=("sass: no cuobjdump on the device")
  fi
  echo "=== ptxas (compiled on the build machine)" >> "$log"
  cat .dev/wgmmabin/ptxas.txt >> "$log" 2>/dev/null
  if [ ${#passed[@]} -gt 0 ]; then
    list=$(IFS=,; echo "${passed[*]}")
    echo "=== time variants $list" >> "$log"
    timeout 200 "$b" time "$list" > "$out/time.txt" 2>&1
    rc=$?
    cat "$out/time.txt" >> "$log"
    summary+=("time ($list): rc=$rc $([ $rc = 0 ] && echo PASS || echo FAIL)")
  fi
  grep -E "FAIL|exception" "$log" | grep -v "^time |" | head -20
  printf '%s\n' "${summary[@]}"
  [ -f "$out/time.txt" ] && sed -n '/^shape /,$p' "$out/time.txt" ;;
*) echo "usage: wgmma_check.sh prepare | device" >&2; exit 2 ;;
esac
