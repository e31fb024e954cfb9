#!/usr/bin/env bash
# The implicit-GEMM VAE convolution (native/src/ops/conv3d_igemm.cu; on by default since this check passed on the
# H200, 2026-11-30; COSMOS_VAE_CONV=im2col: the im2col + matmul path) and its wgmma kernels (ops/conv3d_igemm_wgmma.cu:
# the TMA kernel for stride-1 convs, the default on an H200; COSMOS_VAE_CONV=gather: the cp.async gather kernel;
# COSMOS_VAE_CONV=mma: the mma.sync kernel) checked and timed on the GPU in one device call.
#
#   here:   bash tools/device/vae_conv_check.sh prepare
#           compiles (2 jobs, nice 10) the VAE's engine sources for sm_90 (ops/gemm_wgmma.cu for sm_90a, as the
#           addon builds it, so the im2col path times with the wgmma GEMM the engine uses) into
#           native/build/vaeconv/obj and links .dev/vaeconvbin/{conv3d_igemm_cuda_test, wan_vae_cuda_test}
#           (stripped, ~10 MB); the ptxas report of conv3d_igemm.cu for sm_90 and sm_90a (registers, spills) goes
#           to .dev/vaeconvbin/ptxas.txt. An object is rebuilt when a file in its -MD dependency list is newer.
#   `run`, kind nvidia-h200, timeout_s 600, carry [".dev/vaeconvbin"]:
#           bash tools/device/vae_conv_check.sh device
#           1. conv3d_igemm_cuda_test check, the default kernels (wgmma tma; wgmma gather for stride 2), again with
#              COSMOS_VAE_CONV_WIDE=8 (every launch on 128 x 256 tiles), then COSMOS_VAE_CONV=gather and =mma: each
#              vs the host emulation (same bf16 operands) and vs conv3d_cpu at the VAE's conv kinds and real channel
#              counts, small frames, ragged sizes, bias, bf16 out;
#           2. SASS: HMMA count and LDL/STL (local memory) of the igemm kernels (cuobjdump, when the device has it);
#           3. wan_vae_cuda_test --no-bench (igemm, the default): the tiny fixture's bf16 rows (its 24- and
#              48-channel convs go through igemm) vs the CPU model and diffusers;
#           4. conv3d_igemm_cuda_test time $VAE_TIME_BASE: every conv shape of a 480x832 decode chunk, the default
#              kernel vs COSMOS_VAE_CONV=$VAE_TIME_BASE (default gather; im2col or mma);
#           5. conv3d_igemm_cuda_test vae 5 48, COSMOS_VAE_CONV=$VAE_REF_CONV (default gather; mma, or im2col for the
#              old baseline) then the default (wgmma tma): the Wan2.2 decoder on a 2x2 latent vs the CPU model, then
#              480x832 decode of 17 and 189 frames (JSON rows, as bench/run.sh vae); the 17-frame videos of the two
#              runs compared (/tmp file).
# Results: $OUT/vae_conv.log (everything); stdout ends with the tables, the JSON rows and the PASS / FAIL lines.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
case "${1:-}" in
prepare)
  src=native/src
  obj=native/build/vaeconv/obj
  bin=.dev/vaeconvbin
  mkdir -p "$obj" "$bin"
  NV=(nice -n 10 nvcc -std=c++17 -O3 -DCOSMOS_CUDA --expt-relaxed-constexpr)
  SM90=(-gencode arch=compute_90,code=sm_90)
  SM90A=(-gencode arch=compute_90a,code=sm_90a)
  : > "$bin/ptxas.txt"
  for g in "${SM90[*]}" "${SM90A[*]}"; do
    # shellcheck disable=SC2086
    "${NV[@]}" $g -Xptxas -v -c $src/ops/conv3d_igemm.cu -o /tmp/vaeconv_ptxas.o 2>> "$bin/ptxas.txt" ||
      { cat "$bin/ptxas.txt" >&2; exit 1; }
  done
  "${NV[@]}" "${SM90A[@]}" -Xptxas -v -c $src/ops/conv3d_igemm_wgmma.cu -o /tmp/vaeconv_ptxas.o 2>> "$bin/ptxas.txt" ||
    { cat "$bin/ptxas.txt" >&2; exit 1; }
  rm -f /tmp/vaeconv_ptxas.o
  grep -A2 "conv3d_igemm_kernel\|conv3d_wgmma_kernel\|conv3d_tma_kernel" "$bin/ptxas.txt" | grep -E "Compiling|Used|spill" |
    sed -e 's/_ZN.*conv3d_\(igemm\|wgmma\|tma\)_kernelILb\([01]\)E.* for /\1 kernel<out_bf16=\2> /' -e 's/^/ptxas: /'
  ops=(conv3d conv3d_igemm cast_bf16 matmul attention_gemm attention wan_rmsnorm upsample_nearest pixel_patchify avg_down dup_up
       wan_latent_norm add fill_uniform quantize_fp8)  # quantize_fp8, gemm_fp8 below: layers/linear's fp8 path
  nv=() cxx=()
  for op in "${ops[@]}"; do nv+=("$src/ops/$op.cu"); cxx+=("$src/ops/${op}_cpu.cc"); done
  nv+=("$src"/layers/{linear,weights}.cu "$src"/core/cuda_pool.cu "$src"/models/wan_vae_cuda.cu
       native/test/conv3d_igemm_cuda_test.cu native/test/wan_vae_cuda_test.cu)
  cxx+=("$src"/layers/{linear_cpu,weights}.cc "$src"/core/{parallel,json,config,tensor,memory}.cc
        "$src"/safetensors/safetensors.cc "$src"/models/wan_vae.cc "$src"/ops/gemm_fp8_cpu.cc)
  objs=()
  up_to_date() {  # up_to_date <object>: it and its dependency list (-MD) exist, and no dependency is newer
    [ -f "$1" ] && [ -s "$1.d" ] || return 1
    local dep
    for dep in $(sed -e 's/^[^:]*://' -e 's/\\$//' "$1.d"); do [ "$dep" -nt "$1" ] && return 1; done
    return 0
  }
  build() {  # build <kind> <source>: in the background when out of date
    local o
    o="$obj/$(echo "$2" | tr / _).o"
    objs+=("$o")
    up_to_date "$o" && return
    rm -f "$o"
    while [ "$(jobs -rp | wc -l)" -ge 2 ]; do sleep 0.5; done
    case $1 in
    nv) "${NV[@]}" "${SM90[@]}" -MD -MF "$o.d" -c "$2" -o "$o" || rm -f "$o" & ;;
    a) "${NV[@]}" "${SM90A[@]}" -MD -MF "$o.d" -c "$2" -o "$o" || rm -f "$o" & ;;
    cxx) nice -n 10 g++ -std=c++17 -O2 -pthread -MD -MF "$o.d" -c "$2" -o "$o" || rm -f "$o" & ;;
    esac
  }
  for f in "${nv[@]}"; do build nv "$f"; done
  build a "$src/ops/gemm_wgmma.cu"
  build a "$src/ops/gemm_fp8_wgmma.cu"
  build a "$src/ops/conv3d_igemm_wgmma.cu"
  for f in "${cxx[@]}"; do build cxx "$f"; done
  wait
  for o in "${objs[@]}"; do [ -f "$o" ] || { echo "missing $o (its compile failed, see above)" >&2; exit 1; }; done
  common=()
  for o in "${objs[@]}"; do case "$o" in *native_test_*) ;; *) common+=("$o") ;; esac; done
  for t in conv3d_igemm_cuda_test wan_vae_cuda_test; do
    nice -n 10 nvcc "${SM90[@]}" "${SM90A[@]}" -o "$bin/$t" "$obj/native_test_$t.cu.o" "${common[@]}" -lpthread &&
      strip "$bin/$t" || { echo "link failed: $t" >&2; exit 1; }
  done
  git log -1 --format='built from %h (%s)' > "$bin/MANIFEST"
  git status --short -- native/src native/test | sed 's/^/uncommitted: /' >> "$bin/MANIFEST"
  cat "$bin/MANIFEST"
  du -sh "$bin" ;;
device)
  bash tools/fixtures/references.sh unpack || exit 1  # tracked xz-compressed: test/fixtures/README.md
  out=${OUT:-/tmp/vae_conv_check}
  mkdir -p "$out"
  log="$out/vae_conv.log"
  b=.dev/vaeconvbin
  echo "device: $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader); $(head -1 $b/MANIFEST)" | tee "$log"
  summary=()
  step() {  # step <name> <timeout s> <command...>: output to the log (and $out/step.txt for the tables)
    local name=$1 limit=$2
    shift 2
    echo "=== $name: $*" >> "$log"
    timeout "$limit" "$@" > "$out/step.txt" 2>&1
    local rc=$?
    cat "$out/step.txt" >> "$log"
    summary+=("$name: rc=$rc $([ $rc = 0 ] && echo PASS || echo FAIL)")
    return $rc
  }
  step "check: igemm (wgmma tma on sm_90) vs emulation and conv3d_cpu" 240 $b/conv3d_igemm_cuda_test check
  grep -E "FAIL|exception" "$out/step.txt" | head -20
  grep -c "\[wgmma tma\]" "$out/step.txt" | sed 's/^/rows on the wgmma tma kernel: /'
  for sw in "COSMOS_VAE_CONV_WIDE=8" "COSMOS_VAE_CONV=gather" "COSMOS_VAE_CONV=mma"; do
    step "check: igemm with $sw" 240 env "$sw" $b/conv3d_igemm_cuda_test check
    grep -E "FAIL|exception" "$out/step.txt" | head -20
  done
  echo "=== SASS of conv3d_igemm_cuda_test (HMMA, LDL/STL per kernel)" >> "$log"
  if command -v cuobjdump > /dev/null; then
    cuobjdump --dump-sass $b/conv3d_igemm_cuda_test 2> /dev/null |
      awk '/Function :/{f=$3} /HMMA|HGMMA/{c[f]++} /LDL|STL/{l[f]++} END{for(k in c) print k": "c[k]" HMMA/HGMMA, "l[k]+0" LDL/STL"}' |
      grep "igemm\|wgmma" > "$out/sass.txt"
    cat "$out/sass.txt" >> "$log"
    if grep -q HMMA "$out/sass.txt" && ! grep -qv " 0 LDL/STL" "$out/sass.txt"; then
      summary+=("sass: igemm kernels have HMMA, no local memory: PASS")
    else
      summary+=("sass: $(tr '\n' ';' < "$out/sass.txt") FAIL")
    fi
    rm -f "$out/sass.txt"
  else
    summary+=("sass: no cuobjdump on the device (not checked)")
  fi
  step "wan_vae_cuda_test tiny fixture, igemm (default)" 180 $b/wan_vae_cuda_test "$PWD" --no-bench
  grep -E "bf16|FAIL" "$out/step.txt" | head -20
  if [ "${VAE_SKIP_TIME:-0}" != 1 ]; then  # VAE_SKIP_TIME=1: leave step 4 out (up to 150 s)
    step "time: per conv, default vs ${VAE_TIME_BASE:-gather}" 150 $b/conv3d_igemm_cuda_test time "${VAE_TIME_BASE:-gather}"
    sed -n '/^| conv/,$p' "$out/step.txt"
  fi
  step "vae decode 480x832, COSMOS_VAE_CONV=${VAE_REF_CONV:-gather}" 240 env COSMOS_VAE_CONV=${VAE_REF_CONV:-gather} $b/conv3d_igemm_cuda_test vae 5 48
  grep -E '^\{|^\| (wan2.2|480x832)' "$out/step.txt"
  step "vae decode 480x832, igemm (default: wgmma tma on sm_90)" 200 $b/conv3d_igemm_cuda_test vae 5 48
  grep -E '^\{|^\| (wan2.2|480x832)' "$out/step.txt"
  rm -f "$out/step.txt"
  echo "=== ptxas (compiled on the build machine)" >> "$log"
  cat $b/ptxas.txt >> "$log" 2> /dev/null
  printf '%s\n' "${summary[@]}" | tee -a "$log"
  if printf '%s\n' "${summary[@]}" | grep -q FAIL; then echo "vae_conv_check: FAIL" | tee -a "$log"; else echo "vae_conv_check: PASS" | tee -a "$log"; fi ;;
*) echo "usage: vae_conv_check.sh prepare | device" >&2; exit 2 ;;
esac
