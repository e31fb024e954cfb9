#!/usr/bin/env bash
# The Cosmos 3 Generator's GPU check + bench in one device call (issue 12 items 8 and 9): the CUDA-vs-CPU /
# fixture tests, then ours and diffusers' benches alternated (ours, diffusers, ours), then the rows joined with
# ratios (bench/cosmos3_bench_join.py) into $OUT/summary.txt.
#
#   here:   bash tools/device/generator_check.sh prepare
#           links the drivers into .dev/genbin (stripped): ops_cuda_test, cosmos3_transformer_cuda_test,
#           wan_vae_cuda_test, cosmos3_generator_bench. Each driver .cu is compiled here (nvcc, sm_90) and linked
#           with the engine objects of the addon's CUDA build (native/build/cmake-cuda, made by
#           scripts/build-native.sh: every op, layer and model, the binding left out), so nothing is compiled
#           twice; it warns when a source under native/src is newer than those objects. Also writes
#           .dev/diffusers_src.tgz (tools/device/cosmos3_fixtures.sh prepare) when missing. All git-ignored.
#   `run`, kind nvidia-h200, timeout_s 600, carry [".dev/genbin", ".dev/diffusers_src.tgz"]:
#           bash tools/device/generator_check.sh device
#
# Wall time is held under GENCHECK_BUDGET_S (default 530 s): every step runs under `timeout`, never stops the
# others, and a step is skipped (and the summary says so) when less time is left than it needs.
# Results under $OUT: summary.txt (the lines that matter + the joined rows), rows.jsonl (every bench row),
# tests.log, bench.log (stderr of the benches).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
case "${1:-}" in
prepare)
  objs_root=native/build/cmake-cuda/CMakeFiles/cosmos_native.dir/src
  [ -d "$objs_root/models" ] || { echo "no CUDA addon build: COSMOS_NATIVE_JOBS=2 bash scripts/build-native.sh" >&2; exit 1; }
  # Stale objects would run code other than this tree's: a source newer than its object, or a header changed
  # after the addon's last build (the drivers compiled here would see another layout than the objects).
  stale=()
  for f in $(find native/src -name '*.cu' -o -name '*.cc' | grep -v /binding/); do
    o="$objs_root/${f#native/src/}.o"
    [ -f "$o" ] && [ "$f" -nt "$o" ] && stale+=("$f")
  done
  latest=$(ls -t $(find "$objs_root" -name '*.o') | head -1)
  stale+=($(find native/src -name '*.h' -newer "$latest" | grep -v /binding/))
  [ ${#stale[@]} -gt 0 ] && echo "warning: newer than the addon's CUDA objects (COSMOS_NATIVE_JOBS=2 bash scripts/build-native.sh first): ${stale[*]}" >&2
  # Only objects whose source is in this tree (the cmake folder keeps those of renamed or deleted files).
  objs=()
  for o in $(find "$objs_root" -name '*.o' -not -path '*/binding/*' | sort); do
    rel=${o#"$objs_root"/}
    [ -f "native/src/${rel%.o}" ] && objs+=("$o")
  done
  # ops/gemm_wgmma.cu (matmul_cuda's Hopper path) is the addon's separate sm_90a object library.
  objs+=($(find native/build/cmake-cuda/CMakeFiles/cosmos_wgmma.dir -name '*.o' 2> /dev/null))
  out=native/build/genbench
  mkdir -p "$out" .dev/genbin
  NVFLAGS=(-std=c++17 -O3 -DCOSMOS_CUDA -gencode arch=compute_90,code=sm_90 -gencode arch=compute_90,code=compute_90)
  drivers=(native/test/ops_cuda_test.cu native/test/cosmos3_transformer_cuda_test.cu native/test/wan_vae_cuda_test.cu
           bench/cosmos3_generator_bench.cu)
  pids=()
  for f in "${drivers[@]}"; do  # 2 compiles at a time (the shared machine has 2 cores)
    while [ "$(jobs -rp | wc -l)" -ge 2 ]; do sleep 1; done
    o="$out/$(basename "$f").o"
    if [ ! -f "$o" ] || [ "$f" -nt "$o" ]; then nice -n 10 nvcc "${NVFLAGS[@]}" -c "$f" -o "$o" & pids+=($!); fi
  done
  rc=0
  for p in "${pids[@]}"; do wait "$p" || rc=1; done
  [ $rc = 0 ] || { echo "a driver failed to compile" >&2; exit 1; }
  for f in "${drivers[@]}"; do
    name=$(basename "$f" .cu)
    nice -n 10 nvcc "${NVFLAGS[@]}" -o ".dev/genbin/$name" "$out/$name.cu.o" "${objs[@]}" -lpthread && strip ".dev/genbin/$name" ||
      { echo "link failed: $name" >&2; exit 1; }
  done
  [ -f .dev/diffusers_src.tgz ] || bash tools/device/cosmos3_fixtures.sh prepare
  du -sh .dev/genbin .dev/diffusers_src.tgz ;;
device)
  bash tools/fixtures/references.sh unpack || exit 1  # tracked xz-compressed: test/fixtures/README.md
  out=${OUT:-/tmp/generator_check}
  mkdir -p "$out"
  sum="$out/summary.txt" rows="$out/rows.jsonl"
  : > "$sum"
  : > "$rows"
  budget=${GENCHECK_BUDGET_S:-530}
  note() { echo "$*" | tee -a "$sum"; }
  left() { echo $((budget - SECONDS)); }
  # step <name> <timeout s> <min s left> <log> <command...>: runs it unless fewer than <min> s are left;
  # JSON lines ({"row": ...}) of its stdout go to rows.jsonl, everything to the log.
  step() {
    local name=$1 limit=$2 need=$3 log=$4; shift 4
    if [ "$(left)" -lt "$need" ]; then note "$name: skipped ($(left) s left, needs $need)"; return 0; fi
    [ "$limit" -gt "$(left)" ] && limit=$(left)
    local t0=$SECONDS
    echo "=== $name: $*" >> "$log"
    timeout "$limit" "$@" > /tmp/gencheck_step.txt 2>> "$log"
    local rc=$?
    cat /tmp/gencheck_step.txt >> "$log"
    grep '^{"row"' /tmp/gencheck_step.txt >> "$rows"
    note "$name: rc=$rc ($((SECONDS - t0)) s)"
  }
  b=.dev/genbin
  note "device: $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader) ; $(nproc) cores"
  rm -rf /tmp/dsrc && mkdir -p /tmp/dsrc && tar -xzf .dev/diffusers_src.tgz -C /tmp/dsrc || note "no .dev/diffusers_src.tgz"
  # 1. CUDA vs CPU vs diffusers fixtures (issue 12 item 8).
  step ops_cuda_test 90 40 "$out/tests.log" $b/ops_cuda_test
  note "  ops rows PASS: $(grep -c '| PASS' "$out/tests.log")  FAIL: $(grep -c '| FAIL' "$out/tests.log")"
  step cosmos3_transformer_cuda_test 90 40 "$out/tests.log" $b/cosmos3_transformer_cuda_test .
  step wan_vae_cuda_test 60 30 "$out/tests.log" $b/wan_vae_cuda_test . --no-bench
  grep -E "FAIL|^(OK|FAIL):|exception" "$out/tests.log" | head -30 | tee -a "$sum"
  # 2. Benches, ours / diffusers / ours. The diffusers process imports once (~20 s) and runs all its rows.
  step "ours forward + vae" 120 90 "$out/bench.log" $b/cosmos3_generator_bench forward vae --reps 3
  step "diffusers forward + vae + e2e" 220 160 "$out/bench.log" \
    env PYTHONPATH=/tmp/dsrc/src PYTHONUNBUFFERED=1 python3 bench/cosmos3_diffusers_bench.py forward vae e2e --reps 3
  # Less than ~200 s left: e2e only (the second forward round is the drift check).
  if [ "$(left)" -ge 200 ]; then
    step "ours e2e + forward (2nd)" 190 120 "$out/bench.log" $b/cosmos3_generator_bench forward e2e --reps 3
  else
    step "ours e2e" 150 100 "$out/bench.log" $b/cosmos3_generator_bench e2e
  fi
  note "--- rows joined (ratio = diffusers s / ours s: > 1 means ours is faster)"
  python3 bench/cosmos3_bench_join.py "$rows" | tee -a "$sum"
  note "--- every row"
  tee -a "$sum" < "$rows"
  note "total: $SECONDS s" ;;
*) echo "usage: generator_check.sh prepare | device" >&2; exit 2 ;;
esac
