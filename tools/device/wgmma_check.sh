#!/usr/bin/env bash
# The Hopper wgmma GEMM (native/src/ops/gemm_wgmma.cu) checked and timed on the GPU in one device call:
# native/test/gemm_wgmma_cuda_test, the correctness rows in separate processes (a variant that faults or hangs
# cannot take the others down), the SASS grep (HGMMA must be there), the timing table of the variants that passed
# next to matmul_cuda's mma.sync GEMM on the Generator's and the 8B prefill's shapes, matmul_cuda as the engine
# calls it (wgmma dispatch) and ops_cuda_test linked with that dispatch.
#
#   here:   bash tools/device/wgmma_check.sh prepare
#           compiles gemm_wgmma.cu for sm_90a (-gencode arch=compute_90a,code=sm_90a: wgmma and setmaxnreg exist
#           only there), matmul.cu, fill_uniform.cu, cuda_pool.cu and the test for sm_90, links .dev/wgmmabin/
#           gemm_wgmma_cuda_test; the ptxas report (registers, spills, smem) goes to .dev/wgmmabin/ptxas.txt.
#           Also links .dev/wgmmabin/ops_cuda_test from the addon build's objects (native/build/cmake-cuda).
#   `run`, kind nvidia-h200, timeout_s 540, carry [".dev/wgmmabin"]:
#           bash tools/device/wgmma_check.sh device     (WGMMA_SKIP_TIME=1: without the variants' timing table)
#           It ends with `gemm_wgmma_cuda_test swiglu` and `gelu`: the fused SwiGLU and GELU MLPs vs the unfused
#           steps, and timed.
# Results in $OUT/wgmma.log (the only file); stdout ends with the PASS / FAIL lines and the timing table.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
case "${1:-}" in
prepare)
  here=native/test src=native/src out=native/build/wgmma
  bin=.dev/wgmmabin
  mkdir -p "$out/ops" "$bin"
  JOBS=2
  # shellcheck source=../../native/test/cuda_build_common.sh
  source native/test/cuda_build_common.sh
  compile nv90a native/src/ops/gemm_wgmma.cu
  for f in native/src/ops/matmul.cu native/src/ops/fill_uniform.cu native/src/ops/swiglu.cu native/src/ops/gelu.cu \
           native/src/core/cuda_pool.cu native/test/gemm_wgmma_cuda_test.cu; do
    compile nv "$f"
  done
  wait_compiles || { cat "$out"/obj/*.ptxas >&2; echo "a source failed to compile" >&2; exit 1; }
  cat "$out/obj/gemm_wgmma.cu.o.ptxas" > "$bin/ptxas.txt"
  grep -E "Used|spill|warning" "$bin/ptxas.txt" | sed 's/^/ptxas: /'
  "$NVCC" "${NVFLAGS_90A[@]}" -gencode arch=compute_90,code=sm_90 -o "$bin/gemm_wgmma_cuda_test" "${objs[@]}" \
    -lpthread || { echo "link failed" >&2; exit 1; }
  # ops_cuda_test with matmul_cuda's wgmma dispatch: the addon build's objects (native/build/cmake-cuda) for
  # ops/, layers/ and core/, with matmul.cu, gemm_wgmma.cu (sm_90a, above), transpose2d and the driver compiled here.
  objs_root=native/build/cmake-cuda/CMakeFiles/cosmos_native.dir/src
  if [ -d "$objs_root/ops" ]; then
    for f in native/src/ops/transpose2d.cu native/test/ops_cuda_test.cu; do
      o="$out/ops/$(basename "$f").o"
      [ -f "$o" ] && [ "$o" -nt "$f" ] || "$NVCC" "${NVFLAGS[@]}" -c "$f" -o "$o" || exit 1
    done
    [ -f "$out/ops/transpose2d_cpu.cc.o" ] ||
      nice -n 10 g++ -std=c++17 -O2 -pthread -c native/src/ops/transpose2d_cpu.cc -o "$out/ops/transpose2d_cpu.cc.o"
    addon_objs=()
    # The addon's other sm_90a kernels (fp8 GEMM, flash, conv) are objects of its cosmos_wgmma target.
    wgmma_root=native/build/cmake-cuda/CMakeFiles/cosmos_wgmma.dir/src
    for o in $(find "$objs_root"/ops "$objs_root"/layers "$objs_root"/models "$objs_root"/runtime "$objs_root"/core \
      "$objs_root"/safetensors "$wgmma_root"/ops \
      -name '*.o' | sort); do
      rel=${o#"$objs_root"/}
      rel=${rel#"$wgmma_root"/}
      case "$rel" in ops/matmul.cu.o | ops/gemm_wgmma.cu.o | ops/transpose2d*) continue ;; esac
      [ -f "native/src/${rel%.o}" ] && addon_objs+=("$o")  # objects of since-removed sources stay out
    done
    "$NVCC" "${NVFLAGS_90A[@]}" -gencode arch=compute_90,code=sm_90 -o "$bin/ops_cuda_test" "$out/ops/ops_cuda_test.cu.o" \
      "$out/ops/transpose2d.cu.o" "$out/ops/transpose2d_cpu.cc.o" "$out/obj/matmul.cu.o" "$out/obj/gemm_wgmma.cu.o" \
      "${addon_objs[@]}" -lpthread &&
      strip "$bin/ops_cuda_test" || echo "ops_cuda_test did not link: the device run skips it" >&2
  fi
  du -sh "$bin" ;;
device)
  bash tools/fixtures/references.sh unpack || exit 1  # tracked xz-compressed: test/fixtures/README.md
  out=${OUT:-/tmp/wgmma_check}
  mkdir -p "$out"
  log="$out/wgmma.log"  # the only file written under $OUT
  b=.dev/wgmmabin/gemm_wgmma_cuda_test
  echo "device: $(nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader)" | tee "$log"
  summary=()
  passed=()
  # v0-v3 passed on the device before (21:07); the ping-pong variants each get their own process.
  for vs in 0,1,2,3 4 5; do
    echo "=== check variants $vs" >> "$log"
    timeout 120 "$b" check "$vs" >> "$log" 2>&1
    rc=$?
    summary+=("check v$vs: rc=$rc $([ $rc = 0 ] && echo PASS || echo FAIL)")
    [ $rc = 0 ] && passed+=("$vs")
  done
  echo "=== SASS (HGMMA per kernel)" >> "$log"
  if command -v cuobjdump > /dev/null; then
    cuobjdump --dump-sass "$b" 2>&1 | awk '/Function :/{f=$3} /HGMMA/{c[f]++} /LDL|STL/{l[f]++} END{for(k in c) print k": "c[k]" HGMMA, "l[k]+0" LDL/STL"}' >> "$log"
    hg=$(grep -c "HGMMA" "$log")
    summary+=("sass: $hg kernels with HGMMA $([ "$hg" -gt 0 ] && echo PASS || echo FAIL)")
  else
    summary+=("sass: no cuobjdump on the device")
  fi
  if [ ${#passed[@]} -gt 0 ] && [ "${WGMMA_SKIP_TIME:-0}" != 1 ]; then  # WGMMA_SKIP_TIME=1: no timing table
    list=$(IFS=,; echo "${passed[*]}")
    echo "=== time variants $list" >> "$log"
    timeout 240 "$b" time "$list" > "$out/time.tmp" 2>&1
    rc=$?
    cat "$out/time.tmp" >> "$log"
    summary+=("time ($list): rc=$rc $([ $rc = 0 ] && echo PASS || echo FAIL)")
  fi
  echo "=== dispatch (matmul_cuda as the engine calls it)" >> "$log"
  timeout 120 "$b" dispatch >> "$log" 2>&1
  rc=$?
  summary+=("dispatch: rc=$rc $([ $rc = 0 ] && echo PASS || echo FAIL)")
  for mode in swiglu gelu; do  # the fused MLP epilogues vs the unfused steps
    echo "=== $mode (the fused $mode MLP vs the unfused steps)" >> "$log"
    timeout 120 "$b" "$mode" > "$out/$mode.tmp" 2>&1
    rc=$?
    cat "$out/$mode.tmp" >> "$log"
    grep "^$mode" "$out/$mode.tmp" | cut -c1-200
    rm -f "$out/$mode.tmp"
    summary+=("$mode: rc=$rc $([ $rc = 0 ] && echo PASS || echo FAIL)")
  done
  if [ -x .dev/wgmmabin/ops_cuda_test ]; then
    echo "=== ops_cuda_test (matmul_cuda with the wgmma dispatch)" >> "$log"
    timeout 150 .dev/wgmmabin/ops_cuda_test > "$out/ops.tmp" 2>&1
    rc=$?
    grep -E "matmul|FAIL|^OK" "$out/ops.tmp" >> "$log"
    summary+=("ops_cuda_test: rc=$rc $([ $rc = 0 ] && echo PASS || echo FAIL) ($(grep -c PASS "$out/ops.tmp") PASS rows)")
    rm -f "$out/ops.tmp"
  fi
  echo "=== ptxas (compiled on the build machine)" >> "$log"
  cat .dev/wgmmabin/ptxas.txt >> "$log" 2>/dev/null
  grep -E "FAIL|exception" "$log" | grep -v "^time |" | head -20
  grep -E "^dispatch \|" "$log" | sed 's/^dispatch | //' | cut -c1-110
  printf '%s\n' "${summary[@]}"
  [ -f "$out/time.tmp" ] && sed -n '/^shape /,$p' "$out/time.tmp"
  rm -f "$out/time.tmp" ;;
*) echo "usage: wgmma_check.sh prepare | device" >&2; exit 2 ;;
esac
