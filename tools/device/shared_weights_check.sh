#!/usr/bin/env bash
# The shared weight cache on the GPU (issue 12 item 1: reason() and generate() on one Cosmos 3 checkpoint hold the
# und tower once): builds native/test/shared_weights_cuda_test on the device (nvcc, 16 jobs, ~2-4 min; nothing is
# prepared here) and runs it on test/fixtures/cosmos3-reasoner-tiny/transformer (which cosmos3-shared-tiny links), f32
# and bf16 matmul weights. One command:
#   `run`, kind nvidia-h200, timeout_s 600, carry ["test/fixtures/cosmos3-reasoner-tiny"] (a derived fixture, not
#   tracked: tools/fixtures/derive.sh writes it here):  bash tools/device/shared_weights_check.sh
# $OUT gets build.log and table.md; the last line is PASS or FAIL.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
out=${OUT:-/tmp/shared_weights_check}
mkdir -p "$out"
command -v nvcc >/dev/null 2>&1 || export PATH="/usr/local/cuda/bin:$PATH"
t0=$SECONDS
if ! JOBS=16 timeout 420 bash native/test/build_shared_weights_cuda_test.sh /tmp/shared_weights_cuda > "$out/build.log" 2>&1; then
  tail -n 40 "$out/build.log"
  echo "FAIL (build, $((SECONDS - t0)) s)"
  exit 1
fi
echo "build: $((SECONDS - t0)) s"
timeout 120 /tmp/shared_weights_cuda/shared_weights_cuda_test "$PWD" 2>&1 | tee "$out/table.md"
rc=${PIPESTATUS[0]}
nvidia-smi --query-gpu=name,memory.used --format=csv,noheader 2>/dev/null | tee -a "$out/table.md"
[ "$rc" = 0 ] && echo PASS || echo "FAIL (exit $rc)"
