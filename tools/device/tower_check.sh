#!/usr/bin/env bash
# The Qwen3-VL tower's forms in one device call (issue 14, bench/README "The tower's GEMM inputs in bf16 from their
# producers"): their correctness rows, then the tower + prefill timed in each form, alternated, and one ncu pass over
# the video tower's kernels.
#
#   here:   bash tools/device/tower_check.sh prepare [COMMIT]
#           bash bench/run.sh prepare [COMMIT] + bash tools/device/bench_tests.sh prepare ops_cuda_test
#           lifecycle_cuda_test qwen3_cuda_test, then .dev/tower_check.tar.xz with just the bench and those three drivers
#           and their MANIFESTs (the tracked tree is ~39 MB of a call's 64 MiB). To time an earlier build beside it,
#           keep that one's tarball as .dev/tower_check_base.tar.xz and carry both.
#   device: `run`, timeout_s 600, carry [".dev/tower_check.tar.xz"] (and ".dev/tower_check_base.tar.xz"):
#           bash tools/device/tower_check.sh device
#           1. ops_cuda_test, every op (its bf16_inputs part last: add_rmsnorm_bf16, add_layernorm_bf16 in both forms,
#              the bf16-input layers and the tower bit for bit against the f32 rows + casts, the bf16 q|k|v GEMM out,
#              the kept blocks), lifecycle_cuda_test (the pool's call counts, epochs, out-of-memory fallback) and
#              qwen3_cuda_test (the tiny fixture; the decoder's prefill on bf16 inputs bit for bit against
#              COSMOS_PREFILL_BF16_INPUTS=0, its residual adds in the GEMMs against COSMOS_RESIDUAL_IN_GEMM=0);
#           2. qwen3vl_prefill_bench, video then image, in its forms alternated twice: as is (add_layernorm's vector
#              form, bf16 GEMM inputs in the tower and the prefill, the tower's q|k|v in bf16 from its GEMM, kept
#              blocks, the residual adds in the o and down / fc2 GEMMs' epilogue, the tower's head, the persistent
#              flash kernel, the blocks' MLP width padded to 4352, the GELU on tanh.approx, the prefill's residual
#              stream in bf16), the GELU on tanhf (COSMOS_GELU_TANH_APPROX=0), the prefill's stream in f32
#              (COSMOS_PREFILL_BF16_RESIDUAL=0) and both (stop 67's paths) (FORMS=all: also the tower's q|k|v in f32 from its GEMM (COSMOS_QKV_BF16_OUT=0), the checkpoint's MLP width 4304
#              (COSMOS_TOWER_MLP_PAD=0), every GEMM on the ping-pong tiles
#              (COSMOS_WGMMA_PICK=pingpong: of the tower's, fc2 moves; the prefill's all do), the flash kernel one
#              item a block (COSMOS_FLASH_PERSISTENT=0), no tower head (COSMOS_TOWER_HEAD=0), the residual adds in
#              the norms (COSMOS_RESIDUAL_IN_GEMM=0), the prefill's f32 rows + casts (COSMOS_PREFILL_BF16_INPUTS=0),
#              COSMOS_TOWER_KEEP_BLOCKS=0, the tower's blocks as CUDA graphs (COSMOS_TOWER_GRAPH=1) and the tower's
#              first two defaults off; FORMS=graph: as is and the blocks as graphs only; PREFILL_REPS: timed runs a
#              form, default 3, after one warm-up), and the base build as is where
#              carried (each line: tower ms and its phases, cudaMalloc calls, prefill ms); where .dev/wgmmabin is carried too (tools/device/wgmma_check.sh
#              prepare), gemm_wgmma_cuda_test's variants v1-v4 timed on the tower's four GEMM shapes and the video
#              prefill's four, and its `gelu` checks and fc1 timings by epilogue;
#           3. ncu over one video run as is and one with COSMOS_TOWER_HEAD=0, and one image run as is: kernel
#              time summed by kernel
#              name; one launch each of the tower's flash kernel, its rotary and its fc1 + GELU GEMM under ncu's pipe
#              and stall sections, the flash kernel's stall reasons, and the decoder prefill's four largest kernels'
#              tensor pipe and stalls (NCU_DETAIL=0: not those).
#           ~8-9 min (ROUNDS=1 NCU=0: one round, no ncu, ~3 min). Under $OUT: tests.log, bench.log, ncu_detail_*.txt,
#           summary.txt (`bash bench/run.sh` writes bench.log and summary.txt under $OUT too: where both run in one call,
#           give each an OUT of its own, e.g. OUT=$OUT/tc and OUT=$OUT/rs).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
TAR=.dev/tower_check.tar.xz BASE=.dev/tower_check_base.tar.xz
case "${1:-}" in
prepare)
  bash bench/run.sh prepare "${2:-HEAD}" || exit 1
  bash tools/device/bench_tests.sh prepare ops_cuda_test lifecycle_cuda_test qwen3_cuda_test || exit 1
  tar -cJf "$TAR" .dev/benchbin/MANIFEST .dev/benchbin/qwen3vl_prefill_bench .dev/benchtests/MANIFEST \
    .dev/benchtests/ops_cuda_test .dev/benchtests/lifecycle_cuda_test .dev/benchtests/qwen3_cuda_test || exit 1
  ls -la "$TAR"
  bash tools/device/carry_fits.sh "$TAR" ;;
device)
  out=${OUT:-/tmp/tower_check}
  mkdir -p "$out"
  tar -xJf "$TAR" || { echo "no $TAR: run prepare here and carry it" >&2; exit 1; }
  head -1 .dev/benchbin/MANIFEST | tee "$out/summary.txt"
  t=.dev/benchtests
  {
    timeout 300 $t/ops_cuda_test; echo "ops_cuda_test (every op, bf16_inputs last) rc=$?"
    timeout 120 $t/lifecycle_cuda_test .; echo "lifecycle_cuda_test rc=$?"
    bash tools/fixtures/references.sh unpack > /dev/null && timeout 240 $t/qwen3_cuda_test .
    echo "qwen3_cuda_test (the tiny fixture vs CPU / transformers, the prefill's bf16 inputs, decode) rc=$?"
  } > "$out/tests.log" 2>&1
  grep -E "rc=|FAIL" "$out/tests.log" | tee -a "$out/summary.txt"
  echo "PASS rows: $(grep -c '| PASS' "$out/tests.log")" | tee -a "$out/summary.txt"
  b=.dev/benchbin/qwen3vl_prefill_bench
  forms=("as is||$b" "GELU on tanhf|COSMOS_GELU_TANH_APPROX=0|$b" "prefill stream in f32|COSMOS_PREFILL_BF16_RESIDUAL=0|$b"
    "both (stop 67's paths)|COSMOS_GELU_TANH_APPROX=0 COSMOS_PREFILL_BF16_RESIDUAL=0|$b")
  # FORMS=graph: as is against the tower's blocks as CUDA graphs (COSMOS_TOWER_GRAPH=1) only
  [ "${FORMS:-}" = graph ] && forms=("as is||$b" "tower blocks as graphs|COSMOS_TOWER_GRAPH=1|$b")
  # FORMS=all: also the defaults of 2026-12-06 off (settled then: bench/README)
  [ "${FORMS:-}" = all ] && forms+=("qkv f32 from the GEMM|COSMOS_QKV_BF16_OUT=0|$b"
    "MLP width unpadded|COSMOS_TOWER_MLP_PAD=0|$b" "every GEMM on ping-pong tiles|COSMOS_WGMMA_PICK=pingpong|$b"
    "flash one item a block|COSMOS_FLASH_PERSISTENT=0|$b"
    "no tower head|COSMOS_TOWER_HEAD=0|$b"
    "residual adds in the norms|COSMOS_RESIDUAL_IN_GEMM=0|$b"
    "decoder prefill f32 rows + casts|COSMOS_PREFILL_BF16_INPUTS=0|$b"
    "blocks given back|COSMOS_TOWER_KEEP_BLOCKS=0|$b" "tower blocks as graphs|COSMOS_TOWER_GRAPH=1|$b"
    "f32 inputs, scalar layernorm|COSMOS_LAYERNORM_VEC=0 COSMOS_TOWER_BF16_INPUTS=0|$b")
  if [ -f "$BASE" ]; then
    mkdir -p base && tar -xJf "$BASE" -C base && forms+=("base build as is||base/$b")
    head -1 base/.dev/benchbin/MANIFEST | sed 's/^/base /' | tee -a "$out/summary.txt"
  fi
  for round in $(seq 1 "${ROUNDS:-2}"); do
    for f in "${forms[@]}"; do
      name=${f%%|*} bin=${f##*|} vars=${f#*|}
      vars=${vars%|*}
      echo "== round $round: $name" >> "$out/bench.log"
      # shellcheck disable=SC2086 # vars: words of NAME=VALUE
      env NO_BREAKDOWN=1 PREFILL_REPS=${PREFILL_REPS:-3} $vars timeout 90 "$bin" >> "$out/bench.log" 2>&1 || echo "rc $? ($name)" >> "$out/bench.log"
    done
  done
  grep -E "^== |^  run [0-9] tower|^(image|video) " "$out/bench.log" | sed -E 's/\| process peak.*//' | tee -a "$out/summary.txt"
  # The wgmma GEMM's variants on the tower's four shapes (where carried: tools/device/wgmma_check.sh prepare's
  # .dev/wgmmabin), which the dispatch's pick (gemm_wgmma_pick) may not take.
  if [ -x .dev/wgmmabin/gemm_wgmma_cuda_test ]; then
    g=.dev/wgmmabin/gemm_wgmma_cuda_test variants=1,2,3,4
    GEMM_SHAPES="tower,8b video" timeout 200 $g time $variants > "$out/gemm_tower.log" 2>&1
    echo "gemm_wgmma_cuda_test time $variants (tower and video prefill shapes) rc=$?" | tee -a "$out/summary.txt"
    grep -E "^(tower|8b video)|^shape|^v[0-9] =|timing checks" "$out/gemm_tower.log" | tee -a "$out/summary.txt"
    timeout 120 $g gelu >> "$out/gemm_tower.log" 2>&1  # the fused GELU MLP's checks and fc1's epilogues timed
    echo "gemm_wgmma_cuda_test gelu rc=$?" | tee -a "$out/summary.txt"
    grep -E "^gelu time|FAIL" "$out/gemm_tower.log" | tee -a "$out/summary.txt"
  fi
  if [ "${NCU:-1}" = 1 ] && command -v ncu > /dev/null; then
    for f in "as_is|video|" "no_head|video|COSMOS_TOWER_HEAD=0" "image_as_is|image|"; do
      IFS='|' read -r name case vars <<< "$f"
      # shellcheck disable=SC2086 # vars: words of NAME=VALUE
      env NO_BREAKDOWN=1 PREFILL_CASES=$case PREFILL_REPS=1 $vars timeout 200 ncu --clock-control none \
        --metrics gpu__time_duration.sum --csv --print-units base --log-file "$out/ncu_$name.csv" $b > /dev/null 2>&1
      python3 - "$out/ncu_$name.csv" "$name" << 'EOF' | tee -a "$out/summary.txt"
import csv, re, sys
from collections import defaultdict
rows = list(csv.DictReader(l for l in open(sys.argv[1]) if l.startswith('"')))
by = defaultdict(lambda: [0, 0.0])
for r in rows:
    if r.get("Metric Name") != "gpu__time_duration.sum":
        continue
    name = re.sub(r"<unnamed>::|\(anonymous namespace\)::", "", r["Kernel Name"].removeprefix("void "))
    name = name.split("(")[0].split("<")[0]
    by[name][0] += 1
    by[name][1] += float(r["Metric Value"].replace(",", "")) / 1e6  # ns -> ms
total = sum(v[1] for v in by.values())
print(f"ncu {sys.argv[2]}: {total:.1f} ms of kernels (the whole process: random weights, the case's warm-up + 1 run, tower and prefill)")
for name, (n, ms) in sorted(by.items(), key=lambda kv: -kv[1][1])[:14]:
    print(f"  {ms:8.2f} ms  {n:5d}x  {name}")
EOF
      rm -f "$out/ncu_$name.csv"  # (summed above; a call returns a few files only)
    done
    # One launch each of the tower's flash kernel and its fc1 + GELU GEMM in detail (where their time goes: tensor,
    # MUFU (exp) and FMA pipes, warp stalls), for the next kernel work.
    # (ncu's demangled names: "<unnamed>::Bf16Tiles<(int)80>" ("<(int)80, ..." with more parameters),
    # "gemm_wgmma_kernel<(int)128, (int)128, ...>")
    details=()
    [ "${NCU_DETAIL:-1}" = 1 ] && details=('flash_wgmma_kernel<.*Bf16Tiles<\(int\)80[,>]' 'qkv_rope_flash_kernel<'
      'gemm_wgmma_kernel<\(int\)128, \(int\)128, \(int\)2, \(int\)6, \(bool\)1, \(int\)2>')
    for k in "${details[@]}"; do
      env NO_BREAKDOWN=1 PREFILL_CASES=video PREFILL_REPS=1 timeout 200 ncu --clock-control none --kernel-name-base demangled \
        --kernel-name "regex:$k" --launch-skip 5 --launch-count 1 --section SpeedOfLight \
        --section ComputeWorkloadAnalysis --section WarpStateStats --section Occupancy \
        --metrics sm__inst_executed_pipe_xu.avg.pct_of_peak_sustained_active,sm__pipe_fma_cycles_active.avg.pct_of_peak_sustained_active \
        "$b" > "$out/ncu_detail_${k%%<*}.txt" 2>&1
      grep -E "^  [a-z_]+.*\(|Duration|Throughput|Pipe|Stall|Warp Cycles|Issued|xu|fma|Achieved Occupancy|Registers" \
        "$out/ncu_detail_${k%%<*}.txt" | head -40 | sed "s/^/detail ${k%%<*}: /" >> "$out/summary.txt"
    done
    # The tower flash kernel's stall reasons (warps stalled per issued instruction, by reason, the largest first), in
    # a pass of their own: a metric name this ncu lacks then costs only these lines.
    if [ "${NCU_DETAIL:-1}" = 1 ]; then
      env NO_BREAKDOWN=1 PREFILL_CASES=video PREFILL_REPS=1 timeout 200 ncu --clock-control none \
        --kernel-name-base demangled --kernel-name 'regex:flash_wgmma_kernel<.*Bf16Tiles<\(int\)80[,>]' --launch-skip 5 \
        --launch-count 1 --metrics 'regex:smsp__average_warps_issue_stalled_.*_per_issue_active\.ratio' "$b" \
        > "$out/ncu_detail_stalls.txt" 2>&1
      grep -E "issue_stalled_.*ratio" "$out/ncu_detail_stalls.txt" | awk '{print $NF, $1}' | sort -gr | head -8 |
        sed "s/^/detail flash stalls: /" >> "$out/summary.txt"
      # The decoder prefill's largest kernels, a layer or two of the video case's warm-up pass each (regex|launch
      # skip|count): the gate|up + SwiGLU GEMM, the causal flash kernel (bf16 out, 128-dim tiles), the f32-out GEMMs
      # on 256x128 tiles (q|k|v, after the tower's fc2 launches) and on ping-pong tiles (o, down, after the tower's
      # q|k|v and o): duration, tensor pipe, MUFU and the main stalls, into summary.txt only (a call returns at most 8
      # files). Session 51 measured 89%, 64%, 84% and 76% / 89% there (bench/README).
      for spec in 'gemm_wgmma_kernel<\(int\)128, \(int\)256, \(int\)2, \(int\)4, \(bool\)0, \(int\)1>|3|1' \
        'flash_wgmma_kernel<.*Bf16Tiles<\(int\)128>, __nv_bfloat16|3|1' \
        'gemm_wgmma_kernel<\(int\)256, \(int\)128, \(int\)2, \(int\)4, \(bool\)0, \(int\)0>|40|1' \
        'gemm_wgmma_kernel<\(int\)128, \(int\)128, \(int\)2, \(int\)6, \(bool\)1, \(int\)0>|60|2'; do
        IFS='|' read -r k skip count <<< "$spec"
        env NO_BREAKDOWN=1 PREFILL_CASES=video PREFILL_REPS=1 timeout 200 ncu --clock-control none \
          --kernel-name-base demangled --kernel-name "regex:$k" --launch-skip "$skip" --launch-count "$count" \
          --section SpeedOfLight --metrics 'regex:smsp__average_warps_issue_stalled_(barrier|wait|long_scoreboard|mio_throttle|gmma)_per_issue_active\.ratio,sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active,sm__inst_executed_pipe_xu.avg.pct_of_peak_sustained_active' \
          "$b" > /tmp/tower_check_prefill.txt 2>&1
        grep -E "^  void|Duration|hmma|pipe_xu|issue_stalled" /tmp/tower_check_prefill.txt |
          sed -E 's/\(CUtensorMap_st.*\) \(/ (/; s/smsp__average_warps_issue_stalled_//; s/_per_issue_active.ratio//' |
          sed "s/^/prefill detail: /" >> "$out/summary.txt"
      done
    fi
  fi ;;
*) echo "usage: tower_check.sh prepare [COMMIT] | device" >&2; exit 2 ;;
esac
