#!/usr/bin/env bash
# The tensor-core flash attention (native/src/ops/flash_attention.cu, flash_attention_wgmma.cu) checked on the GPU in
# one short device call: the flash rows of ops_cuda_test (vs attention_cpu), cosmos3_transformer_cuda_test (the tiny
# fixture with flash on for bf16 weights), the bench's attention rows + transformer forward at 256p and 480p, and the
# Qwen3-VL tower + prefill bench (bench/qwen3vl_prefill_bench.cu: the tower's head_dim 72 and the decoder's causal
# prefill run on it too).
#
#   here:   bash tools/device/flash_check.sh prepare
#           compiles (nvcc, sm_90; ops/*_wgmma.cu for sm_90a, as the addon builds them) the new / changed engine
#           sources (flash_attention.cu, flash_attention_wgmma.cu, gemm_wgmma.cu, attention_block.cu,
#           cosmos3_transformer_cuda.cu, qwen3_text_cuda.cu, qwen3_vision_cuda.cu) and the four drivers into
#           native/build/flash, links them with the other
#           engine objects of the addon's CUDA build (native/build/cmake-cuda, as generator_check.sh does) into
#           .dev/flashbin (stripped). Nothing is built on the device.
#   `run`, kind nvidia-h200, timeout_s 160, carry [".dev/flashbin"]:
#           bash tools/device/flash_check.sh device
# Results under $OUT/flash.log (and on stdout: the rows and the pass / fail lines).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
case "${1:-}" in
prepare)
  objs_root=native/build/cmake-cuda/CMakeFiles/cosmos_native.dir/src
  [ -d "$objs_root/models" ] || { echo "no CUDA addon build: COSMOS_NATIVE_JOBS=2 bash scripts/build-native.sh" >&2; exit 1; }
  out=native/build/flash
  mkdir -p "$out" .dev/flashbin
  NVFLAGS=(-std=c++17 -O3 -DCOSMOS_CUDA -gencode arch=compute_90,code=sm_90 -gencode arch=compute_90,code=compute_90)
  SM90A=(-std=c++17 -O3 -DCOSMOS_CUDA -gencode arch=compute_90a,code=sm_90a)
  # Compiled here: this task's sources and any source whose addon object is missing or older than it (ops added
  # since the addon's last build); the rest is linked from cmake-cuda.
  fresh=(ops/flash_attention.cu ops/flash_attention_wgmma.cu ops/gemm_wgmma.cu layers/attention_block.cu
    models/cosmos3_transformer_cuda.cu models/qwen3_text_cuda.cu models/qwen3_vision_cuda.cu)
  for f in $(find native/src -name '*.cu' -o -name '*.cc' | grep -v /binding/ | sort); do
    rel=${f#native/src/}
    o="$objs_root/$rel.o"
    case " ${fresh[*]} " in *" $rel "*) continue ;; esac
    { [ ! -f "$o" ] || [ "$f" -nt "$o" ]; } && fresh+=("$rel")
  done
  echo "compiled here: ${fresh[*]}"
  drivers=(native/test/ops_cuda_test.cu native/test/cosmos3_transformer_cuda_test.cu bench/cosmos3_generator_bench.cu
    bench/qwen3vl_prefill_bench.cu)
  srcs=("${fresh[@]/#/native/src/}" "${drivers[@]}")
  pids=()
  for f in "${srcs[@]}"; do  # 2 compiles at a time (the shared machine has 2 cores)
    while [ "$(jobs -rp | wc -l)" -ge 2 ]; do sleep 1; done
    o="$out/$(basename "$f").o"
    if [ ! -f "$o" ] || [ "$f" -nt "$o" ] || [ -n "$(find native/src -name '*.h' -newer "$o" | head -1)" ]; then
      fl=("${NVFLAGS[@]}")
      [[ $f == *_wgmma.cu ]] && fl=("${SM90A[@]}")
      nice -n 10 nvcc "${fl[@]}" -Xptxas -v -c "$f" -o "$o" 2> "$o.ptxas" & pids+=($!)
    fi
  done
  rc=0
  for p in "${pids[@]}"; do wait "$p" || rc=1; done
  [ $rc = 0 ] || { cat "$out"/*.ptxas | grep -i error >&2; echo "a source failed to compile" >&2; exit 1; }
  grep -h -A2 "flash_wgmma_kernel" "$out/flash_attention_wgmma.cu.o.ptxas" | grep -E "registers|spill" | head -2
  objs=()
  for o in $(find "$objs_root" -name '*.o' -not -path '*/binding/*' | sort); do
    rel=${o#"$objs_root"/}
    skip=0
    for f in "${fresh[@]}"; do [ "$rel" = "$f.o" ] && skip=1; done
    [ $skip = 0 ] && [ -f "native/src/${rel%.o}" ] && objs+=("$o")
  done
  for f in "${fresh[@]}"; do objs+=("$out/$(basename "$f").o"); done
  for f in "${drivers[@]}"; do
    name=$(basename "$f" .cu)
    nice -n 10 nvcc "${NVFLAGS[@]}" -o ".dev/flashbin/$name" "$out/$name.cu.o" "${objs[@]}" -lpthread &&
      strip ".dev/flashbin/$name" || { echo "link failed: $name" >&2; exit 1; }
  done
  du -sh .dev/flashbin ;;
device)
  bash tools/fixtures/references.sh unpack || exit 1  # tracked xz-compressed: test/fixtures/README.md
  out=${OUT:-/tmp/flash_check}
  mkdir -p "$out"
  log="$out/flash.log"
  b=.dev/flashbin
  echo "device: $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader)" | tee "$log"
  echo "=== ops_cuda_test flash" >> "$log"
  timeout 25 $b/ops_cuda_test flash >> "$log" 2>&1; echo "ops_cuda_test flash: rc=$?" | tee -a "$log"
  echo "=== cosmos3_transformer_cuda_test" >> "$log"
  timeout 45 $b/cosmos3_transformer_cuda_test . >> "$log" 2>&1; echo "cosmos3_transformer_cuda_test: rc=$?" | tee -a "$log"
  echo "=== bench attention + forward 256p,480p" >> "$log"
  timeout 75 $b/cosmos3_generator_bench attention forward --shapes 256p,480p --reps 2 >> "$log" 2>&1
  echo "bench: rc=$?" | tee -a "$log"
  echo "=== qwen3vl_prefill_bench (tower + prefill: the tower's hd 72 and the causal prefill on flash_attention_cuda)" >> "$log"
  timeout 60 $b/qwen3vl_prefill_bench >> "$log" 2>&1; echo "qwen3vl_prefill_bench: rc=$?" | tee -a "$log"
  grep -E '\| flash|FAIL|^(OK|FAIL)|exception|"row"|^(image|video) |attention|TFLOP' "$log" ;;
*) echo "usage: flash_check.sh prepare | device" >&2; exit 2 ;;
esac
