#!/usr/bin/env bash
# Test drivers linked against the engine objects that `bash bench/run.sh prepare [COMMIT]` compiled from a commit
# (native/build/bench/obj), so one device call runs the tests and the bench on the same engine code.
#
#   here:   bash bench/run.sh prepare [COMMIT] && bash tools/device/bench_tests.sh prepare [DRIVER...]
#           DRIVER: native/test/<name>.cu (default: ops_cuda_test qwen3_cuda_test), compiled from this tree (as the
#           bench drivers are) into native/build/benchtests, linked and stripped into .dev/benchtests.
#   `run`, kind nvidia-h200, carry [".dev/benchbin", ".dev/benchtests"]:
#           bash tools/device/bench_tests.sh device
#           Unpacks the fixtures, runs every driver there (qwen3_cuda_test with the repo root), prints each one's rc
#           and its FAIL lines; logs under $OUT/<driver>.log.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
case "${1:-}" in
prepare)
  shift
  drivers=("$@")
  [ ${#drivers[@]} -gt 0 ] || drivers=(ops_cuda_test qwen3_cuda_test)
  obj=native/build/bench/obj
  [ -f .dev/benchbin/MANIFEST ] || { echo "run bash bench/run.sh prepare first" >&2; exit 1; }
  mapfile -t engine < <(find "$obj" -name 'native_src_*.o' | sort)
  mkdir -p native/build/benchtests .dev/benchtests
  for d in "${drivers[@]}"; do
    o=native/build/benchtests/$d.o
    nice -n 10 nvcc -std=c++17 -O3 -DCOSMOS_CUDA --expt-relaxed-constexpr -gencode arch=compute_90,code=sm_90 \
      -c "native/test/$d.cu" -o "$o" || exit 1
    nice -n 10 nvcc -gencode arch=compute_90,code=sm_90 -o ".dev/benchtests/$d" "$o" "${engine[@]}" -lpthread &&
      strip ".dev/benchtests/$d" || { echo "link failed: $d" >&2; exit 1; }
  done
  head -1 .dev/benchbin/MANIFEST | tee .dev/benchtests/MANIFEST
  du -sh .dev/benchtests ;;
device)
  bash tools/fixtures/references.sh unpack > /dev/null || exit 1
  out=${OUT:-/tmp/bench_tests}
  mkdir -p "$out"
  for b in .dev/benchtests/*; do
    [ -x "$b" ] || continue
    d=$(basename "$b")
    args=()
    [ "$d" = qwen3_cuda_test ] && args=(.)
    timeout 240 "$b" "${args[@]}" > "$out/$d.log" 2>&1
    echo "$d: rc=$? ($(grep -c PASS "$out/$d.log") PASS, $(grep -c FAIL "$out/$d.log") FAIL)"
    grep FAIL "$out/$d.log" | head -5
  done ;;
*) echo "usage: bench_tests.sh prepare [DRIVER...] | device" >&2; exit 2 ;;
esac
