#!/usr/bin/env bash
# The persistent decode step's tests and speed in one device call (issue 14, bench/README "The persistent step
# measured"): its correctness rows, then decode 128/128 and 1024/256 on the graph step and on the persistent step with
# its tuning sweep and timed reports.
#
#   here:   bash tools/device/decode_probe.sh prepare [COMMIT]
#           bash bench/run.sh prepare [COMMIT] + bash tools/device/bench_tests.sh prepare ops_cuda_test qwen3_cuda_test,
#           then .dev/decode_probe.tar.xz with just the three drivers and their MANIFESTs: the tracked tree is
#           ~39 MB of a call's 64 MiB, and .dev/benchbin whole (~30 MB) does not fit beside it.
#   device: `run`, kind nvidia-h200, timeout_s 600, carry [".dev/decode_probe.tar.xz"]:
#           bash tools/device/decode_probe.sh device
#           ops_cuda_test and qwen3_cuda_test (every row; the persistent ones and the timing report printed),
#           qwen3_decode_bench 128 128 and 1024 256, each on the graph step (COSMOS_DECODE_PERSISTENT=0) and on the
#           persistent one (the sweep of Qwen3PersistentTuning's levers, each alone and the faster ones together, the
#           timed twin's reports; each run also times its step on the other KV cache format). Then both steps again
#           with fp8 weights (COSMOS_FP8_WEIGHTS=1). ~4 min (H100, session 62). Under $OUT: ops_cuda_test.log,
#           qwen3_cuda_test.log, decode.log (everything the bf16 benches printed), summary.txt (its joined JSON rows,
#           bench/qwen3_bench_join.py), decode_fp8.log.
#   device: bash tools/device/decode_probe.sh ncu: one step under ncu (below).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
TAR=.dev/decode_probe.tar.xz
case "${1:-}" in
prepare)
  bash bench/run.sh prepare "${2:-HEAD}" || exit 1
  bash tools/device/bench_tests.sh prepare ops_cuda_test qwen3_cuda_test || exit 1
  tar -cJf "$TAR" .dev/benchbin/MANIFEST .dev/benchbin/qwen3_decode_bench .dev/benchtests/MANIFEST \
    .dev/benchtests/ops_cuda_test .dev/benchtests/qwen3_cuda_test || exit 1
  ls -la "$TAR"
  bash tools/device/carry_fits.sh "$TAR" ;;
device)
  out=${OUT:-/tmp/decode_probe}
  mkdir -p "$out"
  tar -xJf "$TAR" || { echo "no $TAR: run prepare here and carry it" >&2; exit 1; }
  head -1 .dev/benchbin/MANIFEST
  # bench_tests.sh device runs every driver in .dev/benchtests (ops_cuda_test, qwen3_cuda_test) and writes their logs
  OUT=$out bash tools/device/bench_tests.sh device
  grep -E "persistent|^  (step \(|wait:|staging|attention items|attention, us|waiting for|producing|ring slots)" "$out/qwen3_cuda_test.log"
  b=.dev/benchbin/qwen3_decode_bench
  for a in "128 128" "1024 256"; do
    echo "== decode $a: graph step" | tee -a "$out/decode.log"
    COSMOS_DECODE_PERSISTENT=0 timeout 100 $b $a >> "$out/decode.log" 2>&1 ||
      echo "rc $? (graph step $a)" | tee -a "$out/decode.log"
    echo "== decode $a: persistent step" | tee -a "$out/decode.log"
    COSMOS_DECODE_PERSISTENT=1 timeout 150 $b $a >> "$out/decode.log" 2>&1 ||
      echo "rc $? (persistent step $a)" | tee -a "$out/decode.log"
  done
  grep -E "^== |^D2D|^decode [0-9]|^KV cache|^roofline|^persistent|^  |rror|trap|gave up" "$out/decode.log"
  python3 bench/qwen3_bench_join.py "$out/decode.log" /dev/null | tee "$out/summary.txt"
  # The same with fp8 weights (COSMOS_FP8_WEIGHTS=1: e4m3 layers, bf16 lm_head), apart: the join's rows are bf16's.
  for a in "128 128" "1024 256"; do
    for p in 0 1; do
      echo "== decode $a, fp8 weights: $([ $p = 1 ] && echo persistent || echo graph) step" | tee -a "$out/decode_fp8.log"
      COSMOS_FP8_WEIGHTS=1 COSMOS_DECODE_PERSISTENT=$p timeout 150 $b $a >> "$out/decode_fp8.log" 2>&1 ||
        echo "rc $? (fp8, persistent=$p, $a)" | tee -a "$out/decode_fp8.log"
    done
  done
  grep -E "^== |^decode [0-9]|^KV cache|^roofline|^persistent step \[[^]]*\]: |rror|trap|gave up" "$out/decode_fp8.log" ;;
ncu)
  # One step of the persistent kernel under ncu (NCU_ENV: the model's switches, e.g. COSMOS_FP8_WEIGHTS=1; NCU_KERNEL:
  # the kernel's mangled name, by default the untimed fp8 one): its speed-of-light, warp states and scheduler
  # sections (ncu.txt), and its SASS with the stall samples of each instruction (ncu_sass.csv). ~2 min.
  out=${OUT:-/tmp/decode_probe}
  mkdir -p "$out"
  [ -x .dev/benchbin/qwen3_decode_bench ] || tar -xJf "$TAR" || exit 1
  env ${NCU_ENV:-COSMOS_FP8_WEIGHTS=1} timeout 400 ncu --kernel-name-base mangled \
    --kernel-name "regex:${NCU_KERNEL:-decode_step_kernelILb0ELb1E}" --launch-skip 4 --launch-count 1 \
    --section SpeedOfLight --section WarpStateStats --section SchedulerStats --section SourceCounters \
    --section MemoryWorkloadAnalysis -o "$out/step" .dev/benchbin/qwen3_decode_bench 128 8 > "$out/ncu_run.log" 2>&1 ||
    { echo "ncu rc $?"; tail -20 "$out/ncu_run.log"; exit 1; }
  ncu --import "$out/step.ncu-rep" --page details > "$out/ncu.txt" 2>&1
  ncu --import "$out/step.ncu-rep" --page source --csv --print-source sass > "$out/ncu_sass.csv" 2>&1
  rm -f "$out/step.ncu-rep"
  cat "$out/ncu.txt" ;;
*) echo "usage: decode_probe.sh prepare [COMMIT] | device | ncu" >&2; exit 2 ;;
esac
