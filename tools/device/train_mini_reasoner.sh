#!/usr/bin/env bash
# The mini Reasoner's training session on the GPU machine in one device call (issue 16): the training data
# written THERE by a bundled tools/train/world_data.ts (a carried node binary, one process per core, fresh
# seeds each session), then tools/train/train_reasoner.py on it, resumed from the committed weights, bounded
# in wall time; the new weights, the training state and the log returned under $OUT.
#
#   here:   bash tools/device/node_xz.sh
#           bash tools/device/train_mini_reasoner.sh describe-pack   # once per checkout: .dev/describe_src/df*
#           bash tools/device/train_mini_reasoner.sh prepare [DESCRIBE_DIR...]   # e.g. .dev/describe_src/*
#           # .dev/minireason/: world_data.mjs.xz (esbuild bundle, sharp aliased to tools/device/sharp_absent.mjs:
#           # the device has no sharp, the data is written with --png-encoder js) and describe.tar.xz (the
#           # describe_anything records and marked images of DESCRIBE_DIRs, folders written here by
#           # `world_data.ts --sampled-frames`: its marks are drawn by sharp, so that task cannot be written
#           # there); refused when it, .dev/node.xz and the working tree together pass the device's 64 MiB
#   `run`, kind nvidia-h200, timeout_s 590, carry [".dev/node.xz", ".dev/minireason"]:
#           bash tools/device/train_mini_reasoner.sh device
#   here:   bash tools/device/train_mini_reasoner.sh unpack FILES_AT DEST
#           # DEST/ckpt: the checkpoint (for bench/mini_reasoner_eval.ts), DEST/st: the training
#           # state (for a later session's --state), DEST/train.log, DEST/summary.txt
#
# Settings (environment): GEN_SEEDS (default 16000 train seeds, from GEN_OFFSET, default 100000: never a seed
# of the earlier sessions' carried data), GEN_CHUNK (200 seeds a process), GEN_SECONDS (150: no chunk starts
# later than this after the start; a chunk cut short is left out whole), GEN_TASKS, GEN_ARGS (more
# world_data.ts options; default --grounding-prompts 3); TRAIN_END (default 470: training stops this many
# seconds after the script started; checkpoint, state, per-task losses and a few greedy answers follow,
# ~30 s), TRAIN_INIT (default checkpoints/mini-reasoner; "none" starts from scratch), TRAIN_STATE_IN
# (a state folder to resume instead), TRAIN_ARGS (trainer options; default below).
#
# Results under $OUT: train.log, gen.log, summary.txt, and bundle.tar.part-aa, -ab, … (ckpt/ and state/ in
# one tar, split in 15 MiB parts: every returned file stays under the device's 16 MiB limit). The
# trainer writes its checkpoint every 120 s of training, so a run cut short still returns weights.
set -uo pipefail
self="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
GEN_TASKS_DEFAULT=caption,grounding_2d,temporal_localization,action_cot,physical_plausibility
case "${1:-}" in
prepare)
  shift
  mkdir -p .dev/minireason && rm -rf .dev/minireason/*
  node_modules/.bin/esbuild tools/train/world_data.ts --bundle --platform=node --format=esm --target=node20 \
    --alias:sharp=./tools/device/sharp_absent.mjs --outfile=.dev/minireason/world_data.mjs --log-level=warning ||
    exit 1
  xz -9 .dev/minireason/world_data.mjs
  if [ $# -gt 0 ]; then
    rm -rf .dev/describe_pack && mkdir -p .dev/describe_pack
    for d in "$@"; do
      [ -f "$d/describe_anything.jsonl" ] || { echo "$d: no describe_anything.jsonl" >&2; exit 2; }
      grep -q '"split": "train"' "$d/manifest.json" || { echo "$d: not the train split" >&2; exit 2; }
      dst=.dev/describe_pack/$(basename "$d")
      mkdir -p "$dst"
      cp "$d/describe_anything.jsonl" "$d/manifest.json" "$dst/"
      (cd "$d" && find media -name marked.png) | while read -r f; do
        mkdir -p "$dst/$(dirname "$f")" && cp "$d/$f" "$dst/$f"
      done
    done
    tar -cf - -C .dev/describe_pack . | xz -6 -T2 > .dev/minireason/describe.tar.xz
  fi
  # The device call carries the working tree (tracked files and untracked, not ignored ones) and the
  # carry together, 64 MiB in all.
  [ -f .dev/node.xz ] || { echo ".dev/node.xz missing: bash tools/device/node_xz.sh" >&2; exit 2; }
  ls -la .dev/minireason
  bash tools/device/carry_fits.sh .dev/node.xz .dev/minireason || exit 1 ;;
describe-pack)
  # .dev/describe_src/df00000 … df00750: the describe-anything records and marked images of train seeds 0-999
  # (the seeds of the pack sessions 2-12 carried), written here, where sharp draws the marks; then
  # `prepare .dev/describe_src/*` packs them. A fresh checkout has no .dev/: this writes it again (under a minute
  # here); a folder already written is kept.
  count=${DESCRIBE_SEEDS:-250}
  for off in 0 250 500 750; do
    d=.dev/describe_src/df$(printf %05d "$off")
    [ -f "$d/describe_anything.jsonl" ] && continue
    node --import tsx tools/train/world_data.ts --out "$d" --split train --count "$count" --offset "$off" \
      --tasks describe_anything --sampled-frames > /dev/null || exit 1
  done
  ls -d .dev/describe_src/df* && du -sh .dev/describe_src ;;
gen-chunk)
  # one chunk of seeds (bash train_mini_reasoner.sh gen-chunk INDEX DEADLINE_EPOCH_SECONDS), run by `device`
  i=$2
  [ "$(date +%s)" -lt "$3" ] || exit 0
  off=$((${GEN_OFFSET:-100000} + i * ${GEN_CHUNK:-200}))
  # shellcheck disable=SC2086
  /tmp/node /tmp/world_data.mjs --out "/tmp/d/g$(printf %07d "$off")" --split train --count "${GEN_CHUNK:-200}" \
    --offset "$off" --tasks "${GEN_TASKS:-$GEN_TASKS_DEFAULT}" --sampled-frames --png-encoder js \
    ${GEN_ARGS:---grounding-prompts 3} 2>/dev/null ;;
device)
  out=${OUT:-/tmp/train_mini_reasoner}
  mkdir -p "$out"
  sum="$out/summary.txt"
  : > "$sum"
  note() { echo "$*" | tee -a "$sum"; }
  t0=$SECONDS
  start=$(date +%s)
  note "device: $(nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null) ; $(nproc) cores"
  note "commit: $(git rev-parse HEAD 2>/dev/null || echo unknown) (+ uncommitted changes of the working tree)"
  rm -rf /tmp/d /tmp/ckpt /tmp/st && mkdir -p /tmp/d
  # NODE_UNPACKED=1: tools/device/train_both.sh unpacked it already (see train_mini_generator.sh)
  { [ "${NODE_UNPACKED:-}" = 1 ] || { xz -dc .dev/node.xz > /tmp/node && chmod +x /tmp/node; }; } &&
    xz -dc .dev/minireason/world_data.mjs.xz > /tmp/world_data.mjs ||
    { note "FAIL: node or the world_data bundle did not unpack"; exit 1; }
  [ -f .dev/minireason/describe.tar.xz ] && tar -xJf .dev/minireason/describe.tar.xz -C /tmp/d
  note "node $(/tmp/node --version); describe folders: $(ls /tmp/d | tr '\n' ' ')"
  # The data: GEN_SEEDS seeds in chunks, one node process per core; no chunk starts after GEN_SECONDS.
  seeds=${GEN_SEEDS:-16000}
  chunks=$(((seeds + ${GEN_CHUNK:-200} - 1) / ${GEN_CHUNK:-200}))
  seq 0 $((chunks - 1)) | xargs -P "$(nproc)" -I{} bash "$self" gen-chunk {} $((start + ${GEN_SECONDS:-150})) \
    > "$out/gen.log" 2>&1
  written=$(ls -d /tmp/d/g*/manifest.json 2>/dev/null | wc -l)
  note "data: $written of $chunks chunks of ${GEN_CHUNK:-200} seeds written in $((SECONDS - t0)) s, $(du -sh /tmp/d | cut -f1);" \
    "$(cat /tmp/d/g*/*.jsonl 2>/dev/null | wc -l) records"
  [ "$written" -gt 0 ] || { note "FAIL: no data written (gen.log)"; tail -n 20 "$out/gen.log"; exit 1; }
  init=${TRAIN_INIT:-checkpoints/mini-reasoner}
  until=$((${TRAIN_END:-470} - (SECONDS - t0)))
  args=(--data /tmp/d/* --out /tmp/ckpt --state /tmp/st --seconds 100000 --until "$until"
    --preprocess-seconds 90 --look 1)
  if [ -n "${TRAIN_STATE_IN:-}" ]; then
    cp -r "$TRAIN_STATE_IN" /tmp/st
  elif [ "$init" != none ]; then
    args+=(--init "$init")
  fi
  # shellcheck disable=SC2206
  args+=(${TRAIN_ARGS:---batch 128 --repeat caption=2,physical_plausibility=3,describe_anything=3})
  t1=$SECONDS
  PYTHONUNBUFFERED=1 timeout $((until + 60)) python3 tools/train/train_reasoner.py "${args[@]}" > "$out/train.log" 2>&1
  rc=$?
  note "trainer: rc=$rc ($((SECONDS - t1)) s)"
  grep -E "records in|text-only|prepared|media:|self-check|fast paths|training for|trained|loss [a-z_]+:|stopped|failed|bound" \
    "$out/train.log" | cut -c1-300 >> "$sum"
  grep -E "^\[.*step [0-9]+ " "$out/train.log" | tail -n 4 >> "$sum"
  (cd /tmp && tar -cf - $([ -d ckpt ] && echo ckpt) $([ -d st ] && echo st)) | split -b 15m - "$out/bundle.tar.part-"
  note "bundle: $(ls "$out" | tr '\n' ' ') (total $((SECONDS - t0)) s)"
  if [ -f /tmp/ckpt/model.safetensors ] || ls /tmp/ckpt/model-*.safetensors > /dev/null 2>&1; then
    note "RESULT: PASS (checkpoint written; figures: held-out evaluation here with bench/mini_reasoner_eval.ts)"
  else
    note "RESULT: FAIL (no checkpoint)"
  fi ;;
unpack)
  from=${2:?files_at}
  dest=${3:?destination folder}
  mkdir -p "$dest"
  cat "$from"/bundle.tar.part-* | tar -xf - -C "$dest"
  cp "$from"/train.log "$from"/summary.txt "$from"/gen.log "$dest"/ 2>/dev/null
  ls -la "$dest" "$dest"/ckpt ;;
*)
  sed -n '2,30p' "$0"
  exit 2 ;;
esac
