#!/usr/bin/env bash
# The benches of bench/README.md, ours and the baseline of each row in the same run (issue 14 "How to measure").
#
#   here:   bash bench/run.sh prepare [COMMIT]
#           Builds the CUDA drivers into .dev/benchbin (stripped, git-ignored): cosmos3_generator_bench,
#           qwen3_decode_bench, qwen3vl_prefill_bench. The engine (native/src, binding left out) is compiled from
#           COMMIT (default HEAD, `git archive`, so helpers' uncommitted edits in this tree never get in) into
#           native/build/bench/obj, an object rebuilt only when its source or a header it includes changed (the
#           addon's objects in native/build/cmake-cuda are not used: in a tree others edit, what they were built
#           from is not known);
#           the drivers are this tree's bench/*.cu compiled against that snapshot. 2 compiles at a time, nice 10;
#           ~5 min from scratch on the idle 2-core machine. One prepare at a time (a lock). Also .dev/diffusers_src.tgz (tools/device/cosmos3_fixtures.sh
#           prepare) when missing. .dev/benchbin/MANIFEST names the commit and the drivers' blob hashes.
#   device: bash bench/run.sh SECTION...      (one `run` call, kind nvidia-h200,
#                                              carry [".dev/benchbin", ".dev/diffusers_src.tgz"])
#
# Sections (each fits one call; several in one call share the diffusers process and ours' process):
#   decode     Qwen3-8B text decode 128/128 and 1024/256, ours (qwen3_decode_bench on the graph of kernels,
#              COSMOS_DECODE_PERSISTENT=0, then on the persistent step, the default, which also sweeps the step's
#              tuning and prints its timed twin's reports) vs transformers eager and static cache + torch.compile
#              (hf_qwen3_decode.py 128 128 [--compiled]), with the roofline
#              from the measured D2D bandwidth                                                      ~7 min
#   gemv       the decode step's gate|up + SwiGLU and down GEMVs (8B shapes) against a read-only stream over the same
#              bytes and cudaMemcpy, and variants of their kernel (bench/decode_gemv_bench.cu); the same for
#              the fp8-weight GEMVs (bench/decode_gemv_fp8_bench.cu)                                     ~40 s
#   chain      a model of the decode step's 36-layer chain in one graph (the engine's GEMVs, stand-in norm / rope /
#              attention kernels) against the same step as one persistent kernel whose producer warps stream the
#              weights through shared memory without draining (outputs checked against the chain's first);
#              `decode_chain_bench prefetch` gives the earlier L2-prefetch and staged-GEMV rows (bench/decode_chain_bench.cu) ~30 s
#   prefill    Qwen3-VL-8B tower + prefill, image and video, ours (qwen3vl_prefill_bench; again with the opt-in
#              COSMOS_FP8_PREFILL=1) vs transformers sdpa (hf_qwen3vl_prefill.py)                  ~2 min
#   generator  Cosmos 3 Nano transformer, one forward at 256p / 480p / 720p x 189 frames, ours vs diffusers
#   vae        Wan2.2 VAE decode 480p and 720p x 189 frames, ours vs diffusers AutoencoderKLWan
#              (generator + vae: ~6 min; ours' process footprint after both = the 720p run's peak)
#   e2e        480p t2v, 189 frames, 35 steps, CFG 6: ours = the Generator engine (Cosmos3Generator::generate),
#              diffusers = Cosmos3OmniPipeline.__call__                                             ~5 min
#   e2e720     the same request at 720x1280, ours only (issue 14's 720p target; diffusers would need
#              another ~4 min): its time and peak                                                   ~4 min
#   actions    policy (256 tier, chunk 16 = 17 frames) and forward dynamics (61 frames, 640x480), 30 steps,
#              guidance 1, through the same two                                                     ~1 min
# Environment: BENCH_BUDGET_S (default 540: the whole call's wall budget; every step runs under `timeout` with
# what is left), BENCH_VAE_DEADLINE_S (default 100: ours' VAE decode stops after this long per shape and reports
# its rate; the row says "partial"), BENCH_VAE_720P_LATENT_FRAMES (default 48 = 189 frames), BENCH_REPS (3).
# Results under $OUT: summary.txt (steps, the joined rows: JSON lines with ours / baseline / ratio, then every
# row), rows.jsonl (every Generator row), bench.log (everything the benches printed).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BIN=.dev/benchbin
DRIVERS=(cosmos3_generator_bench qwen3_decode_bench qwen3vl_prefill_bench)

prepare() {
  local commit
  commit=$(git rev-parse "${1:-HEAD}") || exit 1
  local root=native/build/bench
  local snap=$root/src obj=$root/obj
  mkdir -p "$root"
  exec 9> "$root/.lock"
  flock -n 9 || { echo "another bench/run.sh prepare is running" >&2; exit 1; }
  rm -rf "$snap" && mkdir -p "$snap" "$obj" "$BIN"
  # native/src, and the GEMM tests' timing helper that bench/decode_gemv_bench.cu shares
  git archive "$commit" native/src native/test/gemm_test_util.cuh | tar -x -C "$snap"
  mkdir -p "$snap/bench" && cp bench/*.cu bench/*.h bench/*.cuh "$snap/bench/"
  # An object is up to date when every snapshot file it was built from (the source and the headers it includes,
  # recorded in $o.deps as "path blob") still has the same content: commits that touch other files keep it.
  declare -A snapblob=()
  local rels sums
  mapfile -t rels < <(cd "$snap" && find native/src native/test bench -type f | sort)
  # Absolute paths: git hash-object --stdin-paths reads a relative path from the repository's root, not from the
  # current folder, so `cd "$snap"` hashed the working tree's files (a prepare at an older COMMIT recorded today's
  # blobs for its objects, and a later prepare reused them).
  mapfile -t sums < <(printf '%s\n' "${rels[@]/#/$PWD/$snap/}" | git hash-object --stdin-paths)
  for i in "${!rels[@]}"; do snapblob[${rels[$i]}]=${sums[$i]}; done
  up_to_date() {  # up_to_date <object>
    [ -f "$1" ] && [ -s "$1.deps" ] || return 1
    local p b
    while read -r p b; do [ "${snapblob[$p]:-}" = "$b" ] || return 1; done < "$1.deps"
  }
  record_deps() {  # record_deps <object> <dep paths...>: the snapshot files among them, with their blobs
    local o=$1
    shift
    realpath -m --relative-to="$snap" -- "$@" | while read -r rel; do [ -n "${snapblob[$rel]:-}" ] && echo "$rel ${snapblob[$rel]}"; done | sort -u > "$o.deps"
    [ -s "$o.deps" ]  # (a file outside the snapshot last in the list is no failure)
  }
  compile() {  # compile <flags...> -- <source> <object>: with its dependency list (-MD)
    local flags=()
    while [ "$1" != -- ]; do flags+=("$1"); shift; done
    local src=$2 o=$3
    nice -n 10 nvcc "${flags[@]}" -MD -MF "$o.d" -c "$src" -o "$o" || { rm -f "$o" "$o.deps"; return 1; }
    # shellcheck disable=SC2046
    record_deps "$o" $(sed -e 's/^[^:]*://' -e 's/\\$//' "$o.d")
  }
  local NVBASE=(-std=c++17 -O3 -DCOSMOS_CUDA --expt-relaxed-constexpr)
  local NVFLAGS=("${NVBASE[@]}" -gencode arch=compute_90,code=sm_90 -gencode arch=compute_90,code=compute_90)
  # .cc files through nvcc too (g++ underneath, with CUDA's include path), with the addon's C++ flags.
  local CXXFLAGS=(-std=c++17 -O2 -DCOSMOS_CUDA -Xcompiler -pthread)
  # A wgmma kernel exists only as sm_90a SASS (native/CMakeLists.txt builds ops/*_wgmma.cu for sm_90a alone, never
  # sm_90 SASS or compute_90 PTX): the same here, by the same file-name rule (their wgmma instructions live in
  # ops/wgmma_sm90.cuh, so the sources themselves need not spell them).
  local SM90A=("${NVBASE[@]}" -gencode arch=compute_90a,code=sm_90a)
  local srcs=() engine_objs=() pids=() f o
  mapfile -t srcs < <(cd "$snap" && find native/src \( -name '*.cu' -o -name '*.cc' \) -not -path '*/binding/*' | sort)
  for d in "${DRIVERS[@]}"; do srcs+=("bench/$d.cu"); done
  srcs+=(bench/decode_gemv_bench.cu bench/decode_gemv_fp8_bench.cu bench/decode_chain_bench.cu)
  objname() {  # the object of a source; an sm_90a one is named apart, so a source built before under other flags is
    # never taken as up to date (its deps list records contents, not flags)
    if [[ $1 == *_wgmma.cu ]]; then echo "$obj/$(echo "$1" | tr / _).sm90a.o"; else echo "$obj/$(echo "$1" | tr / _).o"; fi
  }
  for f in "${srcs[@]}"; do
    o=$(objname "$f")
    [[ $f == native/* ]] && engine_objs+=("$o")
    up_to_date "$o" && continue
    while [ "$(jobs -rp | wc -l)" -ge 2 ]; do sleep 0.5; done
    if [[ $f == *_wgmma.cu ]]; then
      compile "${SM90A[@]}" -- "$snap/$f" "$o" &
    elif [[ $f == *.cu ]]; then
      compile "${NVFLAGS[@]}" -- "$snap/$f" "$o" &
    else
      compile "${CXXFLAGS[@]}" -- "$snap/$f" "$o" &
    fi
    pids+=($!)
  done
  wait  # (a job's status may be gone once `jobs` reported it: what counts is that every object is now up to date)
  for f in "${srcs[@]}"; do
    up_to_date "$(objname "$f")" || { echo "$f failed to compile (see above)" >&2; exit 1; }
  done
  echo "engine objects: ${#engine_objs[@]} (${#pids[@]} sources compiled now, the rest up to date)"
  for d in "${DRIVERS[@]}"; do
    nice -n 10 nvcc "${NVFLAGS[@]}" -o "$BIN/$d" "$obj/bench_$d.cu.o" "${engine_objs[@]}" -lpthread && strip "$BIN/$d" ||
      { echo "link failed: $d" >&2; exit 1; }
  done
  # The decode GEMV bench links only the objects it calls (the GEMVs and what matmul.cu reaches): 2.7 MB, not the
  # whole engine's 6.5 (the carry is 64 MiB with the tree).
  nice -n 10 nvcc "${NVFLAGS[@]}" -o "$BIN/decode_gemv_bench" "$obj/bench_decode_gemv_bench.cu.o" \
    "$obj"/native_src_ops_{gemv_swiglu,gemv_decode,matmul}.cu.o "$obj/native_src_ops_gemm_wgmma.cu.sm90a.o" \
    "$obj/native_src_core_cuda_pool.cu.o" "$obj/native_src_core_memory.cc.o" -lpthread && strip "$BIN/decode_gemv_bench" ||
    { echo "link failed: decode_gemv_bench" >&2; exit 1; }
  nice -n 10 nvcc "${NVFLAGS[@]}" -o "$BIN/decode_gemv_fp8_bench" "$obj/bench_decode_gemv_fp8_bench.cu.o" \
    "$obj/native_src_ops_gemv_fp8.cu.o" "$obj/native_src_core_cuda_pool.cu.o" "$obj/native_src_core_memory.cc.o" \
    -lpthread && strip "$BIN/decode_gemv_fp8_bench" || { echo "link failed: decode_gemv_fp8_bench" >&2; exit 1; }
  nice -n 10 nvcc "${NVFLAGS[@]}" -o "$BIN/decode_chain_bench" "$obj/bench_decode_chain_bench.cu.o" \
    "$obj"/native_src_ops_{gemv_swiglu,gemv_decode,matmul}.cu.o "$obj/native_src_ops_gemm_wgmma.cu.sm90a.o" \
    "$obj/native_src_core_cuda_pool.cu.o" "$obj/native_src_core_memory.cc.o" -lpthread && strip "$BIN/decode_chain_bench" ||
    { echo "link failed: decode_chain_bench" >&2; exit 1; }
  {
    echo "engine: native/src at $commit"
    for d in "${DRIVERS[@]}" decode_gemv_bench decode_gemv_fp8_bench decode_chain_bench; do echo "driver: bench/$d.cu $(git hash-object "bench/$d.cu")"; done
  } > "$BIN/MANIFEST"
  # an archive holding diffusers' src/, not just a file of that name (a failed archive once left an empty one); only
  # the Generator sections need it, so its absence is reported, not fatal
  if ! tar -tzf .dev/diffusers_src.tgz 2>/dev/null | grep -q '^src/'; then
    bash tools/device/cosmos3_fixtures.sh prepare ||
      echo "(only the generator / vae / e2e sections need .dev/diffusers_src.tgz; decode, prefill, gemv, chain run without it)" >&2
  fi
  cat "$BIN/MANIFEST"
  du -sh "$BIN"
  if [ -f .dev/diffusers_src.tgz ]; then du -sh .dev/diffusers_src.tgz; fi
}

device() {
  local out=${OUT:-/tmp/bench_run}
  mkdir -p "$out"
  local sum="$out/summary.txt" rows="$out/rows.jsonl" log="$out/bench.log"
  : > "$sum"
  : > "$rows"
  : > "$log"
  local budget=${BENCH_BUDGET_S:-540} reps=${BENCH_REPS:-3}
  note() { echo "$*" | tee -a "$sum"; }
  left() { echo $((budget - SECONDS)); }
  # step <name> <min s left> <command...>: runs it under `timeout` with the time left (never stops the others);
  # Generator JSON rows of its stdout go to rows.jsonl, everything to bench.log.
  step() {
    local name=$1 need=$2; shift 2
    if [ "$(left)" -lt "$need" ]; then note "$name: skipped ($(left) s left, needs $need)"; return 0; fi
    local t0=$SECONDS
    echo "=== $name: $*" >> "$log"
    timeout "$(left)" "$@" > /tmp/bench_step.txt 2>> "$log"
    local rc=$?
    cat /tmp/bench_step.txt >> "$log"
    grep '^{"row"' /tmp/bench_step.txt >> "$rows"
    note "$name: rc=$rc ($((SECONDS - t0)) s)"
  }
  local want=" $* "
  has() { [[ $want == *" $1 "* ]]; }
  note "device: $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader) ; $(nproc) cores"
  note "$(tr '\n' ';' < $BIN/MANIFEST)"
  note "sections: $*"
  local b=$BIN
  if has decode; then
    # the graph of kernels (COSMOS_DECODE_PERSISTENT=0), then the persistent step, the default (a schedule bug traps
    # after a 4 s wait; the timeout bounds anything else)
    step "ours decode 128/128, graph of kernels" 60 env COSMOS_DECODE_PERSISTENT=0 $b/qwen3_decode_bench 128 128
    step "ours decode 1024/256, graph of kernels" 60 env COSMOS_DECODE_PERSISTENT=0 $b/qwen3_decode_bench 1024 256
    step "ours decode 128/128, persistent step" 60 timeout 120 env COSMOS_DECODE_PERSISTENT=1 $b/qwen3_decode_bench 128 128
    step "ours decode 1024/256, persistent step" 60 timeout 120 env COSMOS_DECODE_PERSISTENT=1 $b/qwen3_decode_bench 1024 256
    step "transformers decode 128/128" 60 python3 bench/hf_qwen3_decode.py 128 128
    # static cache + torch.compile(reduce-overhead): the compile takes minutes, so it runs last and within what is left
    step "transformers decode 128/128, compiled" 120 python3 bench/hf_qwen3_decode.py 128 128 --compiled
  fi
  if has gemv; then
    step "decode GEMVs vs a read stream" 30 $b/decode_gemv_bench
    step "fp8 decode GEMVs vs a read stream" 30 $b/decode_gemv_fp8_bench
  fi
  if has chain; then
    # one process a persistent variant: a schedule bug traps after a 2 s wait and takes only its own rows
    for v in "W4 S5" "W4 S3" "W8 S2" "W2 S10" "W4 S5, no grid waits" "W4 S5, the stream alone"; do
      step "decode chain vs the persistent step $v" 30 timeout 60 $b/decode_chain_bench "$v"
    done
  fi
  if has prefill; then
    step "ours tower + prefill" 40 env NO_BREAKDOWN=1 $b/qwen3vl_prefill_bench
    step "ours tower + prefill, fp8 prefill" 40 env NO_BREAKDOWN=1 COSMOS_FP8_PREFILL=1 $b/qwen3vl_prefill_bench
    step "transformers tower + prefill" 60 python3 bench/hf_qwen3vl_prefill.py
  fi
  if has decode || has prefill; then
    note "--- Qwen3 rows (ratio = baseline time / ours time: > 1 means ours is faster)"
    python3 bench/qwen3_bench_join.py "$log" | tee -a "$sum"
  fi
  # The Generator: one diffusers process for every Generator section (it imports once, ~20 s), run first so its
  # pipeline's text lengths can be given to ours; then one ours process (forward -> vae -> engine).
  # diffusers' argparse wants its positional sections first (dwhat), then the options (dopts).
  local dwhat=() dopts=() oargs=() pruns=() oruns=()
  if has generator; then dwhat+=(forward); oargs+=(forward); fi
  if has vae; then
    local f720=${BENCH_VAE_720P_LATENT_FRAMES:-48}
    dwhat+=(vae); dopts+=(--vae-720p-latent-frames "$f720")
    oargs+=(vae --vae-720p-latent-frames "$f720" --vae-deadline "${BENCH_VAE_DEADLINE_S:-100}")
  fi
  if has actions; then pruns+=(policy fdyn); oruns+=(policy fdyn); fi
  if has e2e; then pruns+=(t2v480); oruns+=(t2v480); fi
  if has e2e720; then oruns+=(t2v720); fi
  [ ${#pruns[@]} -gt 0 ] && dwhat+=(pipeline) && dopts+=(--pipeline-runs "$(IFS=,; echo "${pruns[*]}")")
  [ ${#oruns[@]} -gt 0 ] && oargs+=(engine --engine-runs "$(IFS=,; echo "${oruns[*]}")")
  local dargs=("${dwhat[@]}" "${dopts[@]}")
  if [ ${#dwhat[@]} -eq 0 ] && [ ${#oruns[@]} -gt 0 ]; then  # ours alone (e2e720): no diffusers process
    step "ours ${oargs[*]}" 30 $b/cosmos3_generator_bench "${oargs[@]}" --reps "$reps"
    note "--- every Generator row"
    tee -a "$sum" < "$rows"
  fi
  if [ ${#dwhat[@]} -gt 0 ]; then
    rm -rf /tmp/dsrc && mkdir -p /tmp/dsrc && tar -xzf .dev/diffusers_src.tgz -C /tmp/dsrc || note "no .dev/diffusers_src.tgz"
    step "diffusers ${dargs[*]}" 60 env PYTHONPATH=/tmp/dsrc/src PYTHONUNBUFFERED=1 \
      python3 bench/cosmos3_diffusers_bench.py "${dargs[@]}" --reps "$reps"
    # The text lengths the pipeline tokenized (first transformer call of each run), for ours' same-length runs.
    local lens
    lens=$(python3 - "$rows" <<'EOF'
import json, sys
flags = {"engine_t2v480": "--text-tokens", "engine_policy": "--policy-text-tokens", "engine_fdyn": "--fdyn-text-tokens"}
out = []
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("impl") == "diffusers" and r.get("row") in flags and r.get("text_tokens"):
        out += [flags[r["row"]], str(r["text_tokens"])]
print(" ".join(out))
EOF
)
    note "text lengths from the pipeline: ${lens:-none}"
    # shellcheck disable=SC2206
    [ -n "$lens" ] && oargs+=($lens)
    step "ours ${oargs[*]}" 30 $b/cosmos3_generator_bench "${oargs[@]}" --reps "$reps"
    note "--- Generator rows joined (ratio = diffusers s / ours s: > 1 means ours is faster)"
    python3 bench/cosmos3_bench_join.py "$rows" | tee -a "$sum"
    note "--- every Generator row"
    tee -a "$sum" < "$rows"
  fi
  note "total: $SECONDS s"
}

case "${1:-}" in
prepare) shift; prepare "$@" ;;
decode | gemv | chain | prefill | generator | vae | e2e | e2e720 | actions) device "$@" ;;
*)
  echo "usage: bench/run.sh prepare [COMMIT] | bench/run.sh SECTION... (decode gemv chain prefill generator vae e2e e2e720 actions)" >&2
  exit 2
  ;;
esac
