#!/usr/bin/env bash
# The native engine's whole GPU check in one device call: build the CUDA test drivers, run the op tests,
# the decoder fidelity test, the memory lifecycle test (op workspaces in the pools; load -> run -> free
# x20 back at the baseline), the GEMM comparison (mma.sync vs the old WMMA kernel), the addon's CUDA vs
# CPU vs transformers check (cuda_vs_cpu.mjs: f32 graph and eager, bf16), and the decode bench of this
# tree against a BEFORE commit's, built in the same call and alternated (128/128 and 1024/256, twice),
# with the sampled decode at the Reasoner's default settings (host logits row + sample_cpu vs the GPU
# sampler), then the vision tower + multimodal prefill bench (bench/qwen3vl_prefill_bench.cu, NO_BREAKDOWN=1) of
# both, alternated (after, before, after, before).
#
#   here:   bash tools/device/engine_check.sh prepare [BEFORE]   # BEFORE: a commit (default HEAD~1);
#           writes .dev/before (its native/ and bench/ sources), .dev/node.xz and, when nvcc is here,
#           .dev/bin (this tree's drivers, built here: the device then only builds BEFORE, in the
#           background while the tests run); all git-ignored. Build the addon first
#           (bash scripts/build-native.sh).
#   `run`, kind nvidia-h200, carry [.dev/node.xz, .dev/before, .dev/bin, native/build/Release]:
#           bash tools/device/engine_check.sh device
#
# ENGINE_CHECK_BENCH=0 skips BEFORE's build and the decode benches (tests only); ENGINE_CHECK_VISION=0
# skips the vision bench.
#
# Results under $OUT (at most 8 files come back): summary.txt (the lines that matter), build.log,
# tests.log, node.log, bench.log, vision.log. Every step has a timeout, and a failing step does not stop the
# others: the summary says which failed.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
case "${1:-}" in
prepare)
  before="${2:-HEAD~1}"
  rm -rf .dev/before && mkdir -p .dev/before
  git archive "$before" native/src native/test bench | tar -x -C .dev/before
  # BEFORE's engine runs this tree's decode bench driver (it only calls model methods both have), so
  # the sampled-decode rows (host row + sample_cpu vs decode_sample) exist on both sides.
  cp bench/qwen3_decode_bench.cu .dev/before/bench/
  git rev-parse "$before" > .dev/before/COMMIT
  bash tools/device/node_xz.sh
  [ -f native/build/Release/cosmos_native.node ] || { echo "build the addon first: bash scripts/build-native.sh" >&2; exit 1; }
  if command -v nvcc >/dev/null 2>&1; then
    rm -rf .dev/bin && bash native/test/build_ops_test.sh .dev/bin-build >/dev/null && mkdir -p .dev/bin &&
      cp .dev/bin-build/{ops_cuda_test,qwen3_cuda_test,lifecycle_cuda_test,qwen3_decode_bench,gemm_bench} .dev/bin/ &&
      bash bench/build_qwen3vl_prefill_bench.sh .dev/bin-build >/dev/null && cp .dev/bin-build/qwen3vl_prefill_bench .dev/bin/
  fi
  du -sh .dev/before .dev/node.xz .dev/bin native/build/Release ;;
device)
  bash tools/fixtures/references.sh unpack || exit 1  # tracked xz-compressed: test/fixtures/README.md
  out=${OUT:-/tmp/engine_check}
  mkdir -p "$out"
  sum="$out/summary.txt"
  : > "$sum"
  note() { echo "$*" | tee -a "$sum"; }
  step() {  # step <name> <timeout s> <log> <command...>: runs it, notes rc and time
    local name=$1 limit=$2 log=$3; shift 3
    local t0=$SECONDS
    echo "=== $name: $*" >> "$log"
    timeout "$limit" "$@" >> "$log" 2>&1
    local rc=$?
    note "$name: rc=$rc ($((SECONDS - t0)) s)"
    return $rc
  }
  note "device: $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader) ; $(nproc) cores"
  note "before: $(cat .dev/before/COMMIT 2>/dev/null || echo missing)"
  # BEFORE builds in the background (CPU only) while the correctness tests run; the benches wait for it.
  bench=${ENGINE_CHECK_BENCH:-1}
  before_build=
  if [ "$bench" != 0 ]; then
    (bash .dev/before/native/test/build_ops_test.sh .dev/before/build > "$out/build.log" 2>&1 &&
      { [ "${ENGINE_CHECK_VISION:-1}" = 0 ] ||
        bash .dev/before/bench/build_qwen3vl_prefill_bench.sh .dev/before/build >> "$out/build.log" 2>&1; }
     echo "rc=$?" >> "$out/build.log") &
    before_build=$!
  fi
  b=.dev/bin
  if [ ! -x $b/ops_cuda_test ]; then
    b=native/build/ops_test
    step "build (this tree)" 420 "$out/tests.log" bash native/test/build_ops_test.sh $b
  fi
  note "this tree's drivers: $b"
  step ops_cuda_test 180 "$out/tests.log" $b/ops_cuda_test
  grep -c "| PASS" "$out/tests.log" | sed 's/^/  ops rows PASS: /' | tee -a "$sum"
  grep "FAIL" "$out/tests.log" | head -20 | tee -a "$sum"
  grep -E "^\| (sample|sample dist|sample rules) " "$out/tests.log" | tee -a "$sum"
  grep -E "^sample time" "$out/tests.log" | tee -a "$sum"
  step qwen3_cuda_test 180 "$out/tests.log" $b/qwen3_cuda_test .
  step lifecycle_cuda_test 300 "$out/tests.log" $b/lifecycle_cuda_test .
  sed -n '/^op workspaces/,$p' "$out/tests.log" | grep -v "^  round" | tee -a "$sum"
  grep "^  round" "$out/tests.log" | sed -n '1p;2p;20p' | tee -a "$sum"
  step gemm_bench 180 "$out/tests.log" $b/gemm_bench
  sed -n '/^| shape/,/^gemm_bench/p' "$out/tests.log" | tee -a "$sum"
  # The addon: CPU vs CUDA vs transformers (cuda_vs_cpu.mjs), graph and eager, f32 and bf16 weights.
  xz -dc .dev/node.xz > /tmp/node && chmod +x /tmp/node
  n=/tmp/node
  step "cuda_vs_cpu dump cpu" 240 "$out/node.log" env COSMOS_DEVICE=cpu $n native/test/cuda_vs_cpu.mjs dump /tmp/cpu.json
  step "cuda_vs_cpu dump cuda" 240 "$out/node.log" env COSMOS_DEVICE=cuda $n native/test/cuda_vs_cpu.mjs dump /tmp/cuda.json
  step "cuda_vs_cpu dump cuda eager" 240 "$out/node.log" env COSMOS_DEVICE=cuda COSMOS_CUDA_GRAPH=0 $n native/test/cuda_vs_cpu.mjs dump /tmp/cuda_eager.json
  step "cuda_vs_cpu dump cuda bf16" 240 "$out/node.log" env COSMOS_DEVICE=cuda COSMOS_CUDA_WEIGHTS=bf16 $n native/test/cuda_vs_cpu.mjs dump /tmp/cuda_bf16.json
  step "cuda_vs_cpu compare" 120 "$out/node.log" $n native/test/cuda_vs_cpu.mjs compare /tmp/cpu.json /tmp/cuda.json /tmp/cuda_eager.json /tmp/cuda_bf16.json
  grep -iE "fail|worst|memory|identical|tokens" "$out/node.log" | tail -25 | tee -a "$sum"
  [ "$bench" = 0 ] && exit 0
  wait $before_build
  note "build (before): $(tail -1 "$out/build.log")"
  # Decode bench: this tree (after) and BEFORE alternated, twice per shape.
  for rep in 1 2; do
    for args in "128 128" "1024 256"; do
      for which in after before; do
        bin=$b/qwen3_decode_bench
        [ $which = before ] && bin=.dev/before/build/qwen3_decode_bench
        echo "=== $which $args (rep $rep)" >> "$out/bench.log"
        timeout 240 $bin $args > /tmp/bench.txt 2>&1
        rc=$?
        cat /tmp/bench.txt >> "$out/bench.log"
        note "decode bench $which $args rep $rep (rc=$rc): $(grep -E '^decode [0-9]+ tokens' /tmp/bench.txt | sed 's/ after a.*prompt://') | $(grep -E '^prefill' /tmp/bench.txt)"
        note "  $(grep -E '^sampled decode' /tmp/bench.txt | sed 's/ (T 0.7 top-k 20 top-p 0.8 presence 1.5)//')"
      done
    done
  done
  grep -E "^(D2D|weights|pool|same decode)" "$out/bench.log" | sort | uniq -c | head -20 >> "$sum"
  # ENGINE_CHECK_VISION=0: stop here (a change that cannot move the vision figures).
  [ "${ENGINE_CHECK_VISION:-1}" = 0 ] && exit 0
  # Vision tower + multimodal prefill (image 1280x720, video 16 x 854x480): each bench runs each case
  # twice and reports the second; this tree and BEFORE alternated, twice.
  # after-device: this tree with the tower's outputs left in its pool and read in place by the prefill
  # (DEVICE_OUTPUTS=1, the addon's NativeTensor path); after: through the host as before.
  for rep in 1 2; do
    for which in after after-device before; do
      bin=$b/qwen3vl_prefill_bench
      [ $which = before ] && bin=.dev/before/build/qwen3vl_prefill_bench
      [ -x $bin ] || { note "vision bench $which: no binary"; continue; }
      echo "=== vision $which (rep $rep)" >> "$out/vision.log"
      timeout 240 env NO_BREAKDOWN=1 DEVICE_OUTPUTS=$([ $which = after-device ] && echo 1 || echo 0) $bin > /tmp/vbench.txt 2>&1
      rc=$?
      cat /tmp/vbench.txt >> "$out/vision.log"
      note "vision bench $which rep $rep (rc=$rc):"
      grep -E "^(image|video)" /tmp/vbench.txt | sed -E 's/ +/ /g' | tee -a "$sum"
    done
  done ;;
*) echo "usage: engine_check.sh prepare [BEFORE] | device" >&2; exit 2 ;;
esac
