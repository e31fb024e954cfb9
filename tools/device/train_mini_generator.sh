#!/usr/bin/env bash
# The mini Generator's training session on the GPU machine in one device call (issue 16):
# the world's clips written there (tools/train/generator_data.ts, bundled, under a carried node: the data
# is generated, not carried: ~6,000 clips, 19 GB raw, from a 0.6 MB script), then
# tools/train/train_generator.py: the VAE phase, then the transformer phase, bounded in wall time; the
# checkpoint (diffusers layout, bf16, 15 MB shards), a few decoded frames and the log come back under $OUT.
#
#   here:   bash tools/device/train_mini_generator.sh prepare
#           # .dev/minigen_carry/: generator_data.mjs (esbuild bundle) and diffusers_min.tar.xz (diffusers' src/
#           # without the pipelines the trainer never imports: 1.1 MB, against 4.7 MB for the whole src/ gzipped);
#           # .dev/node.xz; checks the bundle writes the same bytes as the TypeScript source, and that tree +
#           # carry fit the 64 MiB (when they do not, it names the files to set aside for the call:
#           # tools/device/set_aside.sh)
#   `run`, kind nvidia-h200, timeout_s 600, carry [".dev/node.xz", ".dev/minigen_carry"]:
#           bash tools/device/train_mini_generator.sh device
#   here:   bash tools/device/train_mini_generator.sh unpack FILES_AT DEST
#           # DEST/ckpt: the checkpoint (for bench/mini_generator_eval.ts), DEST/look/*.png, DEST/train.log, and
#           # DEST/mini-reasoner linked to checkpoints/mini-reasoner (the first-frame check's "../mini-reasoner")
#
# Settings (environment): SEEDS (default 6000: train seeds SEED_OFFSET … SEED_OFFSET+SEEDS-1, written in shards of
# 250 by nproc-2 processes), SEED_OFFSET (default 0; a session that resumes takes fresh seeds, e.g. 6000 × its
# number), VAE_SECONDS (default 150), TRAIN_UNTIL (default 460: the trainer's transformer phase stops this
# many seconds after it started, less --tail-seconds 40 for the final save and check), TRAIN_INIT (a checkpoint
# folder to start from, e.g. checkpoints/mini-generator with VAE_SECONDS=0 to keep its VAE), TRAIN_ARGS
# (more trainer options), DATA_ARGS (more generator_data.ts options, e.g. "--layout-share 0.8").
#
# Results under $OUT: summary.txt (a PASS/FAIL table at the end), train.log, look.tar (look/*.png: frames 0, 8, 16
# of a diffusers t2v and forward-dynamics run of the saved checkpoint next to the true clip, and the VAE's
# reconstruction under the truth), bundle.tar.part-aa, … (the
# checkpoint in one tar, 15 MiB parts: every returned file stays under the device's 16 MiB limit).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
case "${1:-}" in
prepare)
  carry=.dev/minigen_carry
  rm -rf "$carry" && mkdir -p "$carry"
  node_modules/.bin/esbuild tools/train/generator_data.ts --bundle --minify --platform=node --format=esm \
    --target=node20 --alias:sharp=./tools/device/sharp_absent.mjs --outfile="$carry/generator_data.mjs" \
    --log-level=warning || exit 1
  bash tools/device/node_xz.sh
  [ -f .dev/diffusers_src.tgz ] || bash tools/device/cosmos3_fixtures.sh prepare || exit 1
  # diffusers' pipelines/ is 16 of its 27 MB; the trainer imports only pipelines/cosmos (the package's
  # __init__ files import lazily, so the other pipeline folders are never looked at)
  rm -rf /tmp/minigen_dsrc && mkdir -p /tmp/minigen_dsrc && tar -xzf .dev/diffusers_src.tgz -C /tmp/minigen_dsrc &&
    find /tmp/minigen_dsrc/src/diffusers/pipelines -mindepth 1 -maxdepth 1 -type d ! -name cosmos -exec rm -rf {} + &&
    tar -cf - -C /tmp/minigen_dsrc src | xz -9 -T2 > "$carry/diffusers_min.tar.xz" || exit 1
  # the bundle writes what the TypeScript source writes (3 seeds)
  rm -rf /tmp/minigen_check && mkdir -p /tmp/minigen_check
  node --import tsx tools/train/generator_data.ts --out /tmp/minigen_check/a --count 3 --offset 11 2>/dev/null &&
    GENERATOR_DATA_MAIN=1 node "$carry/generator_data.mjs" --out /tmp/minigen_check/b --count 3 --offset 11 \
      2>/dev/null &&
    cmp -s /tmp/minigen_check/a/frames.u8 /tmp/minigen_check/b/frames.u8 &&
    cmp -s /tmp/minigen_check/a/samples.jsonl /tmp/minigen_check/b/samples.jsonl ||
    { echo "the bundle does not write what tools/train/generator_data.ts writes" >&2; exit 1; }
  echo "bundle ok"
  bash tools/device/carry_fits.sh .dev/node.xz "$carry" || {
    echo "set the mini Reasoner's weights aside for the call (the trainer does not read them), then restore them:" >&2
    echo "  bash tools/device/set_aside.sh hide checkpoints/mini-reasoner/model.safetensors" >&2
    echo "  bash tools/device/set_aside.sh restore" >&2
    exit 1; } ;;
device)
  out=${OUT:-/tmp/train_mini_generator}
  mkdir -p "$out"
  sum="$out/summary.txt"
  : > "$sum"
  note() { echo "$*" | tee -a "$sum"; }
  note "device: $(nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null) ; $(nproc) cores"
  note "commit: $(git rev-parse HEAD 2>/dev/null || echo unknown) (+ uncommitted changes of the working tree)"
  t0=$SECONDS
  # NODE_UNPACKED=1: tools/device/train_both.sh unpacked it already (rewriting it under the other session's
  # running writers would fail them with "text file busy")
  [ "${NODE_UNPACKED:-}" = 1 ] || { xz -dc .dev/node.xz > /tmp/node && chmod +x /tmp/node; } ||
    { note "no .dev/node.xz"; exit 1; }
  rm -rf /tmp/dsrc && mkdir -p /tmp/dsrc && xz -dc .dev/minigen_carry/diffusers_min.tar.xz | tar -xf - -C /tmp/dsrc ||
    { note "no .dev/minigen_carry/diffusers_min.tar.xz"; exit 1; }
  data=/dev/shm/minigen
  [ -d /dev/shm ] && [ "$(df --output=avail -B1G /dev/shm | tail -n 1)" -gt 40 ] || data=/tmp/minigen_data
  rm -rf "$data" && mkdir -p "$data"
  seeds=${SEEDS:-6000}
  base=${SEED_OFFSET:-0}
  shard=250
  jobs=$(( $(nproc) > 4 ? $(nproc) - 2 : 2 ))
  # The writers run while the trainer imports and checks itself; it waits for each shard's DONE.
  (
    for ((off = base; off < base + seeds; off += shard)); do echo "$off"; done |
      xargs -P "$jobs" -I{} sh -c 'd='"$data"'/s$(printf %06d {}); GENERATOR_DATA_MAIN=1 /tmp/node \
        .dev/minigen_carry/generator_data.mjs --out $d --split train --offset {} --count '"$shard"' '"${DATA_ARGS:-}"' \
        2>>'"$out"'/data.log &&
        touch $d/DONE'
    echo "all shards written at $((SECONDS - t0)) s" >> "$out/data.log"
  ) &
  writer=$!
  dirs=()
  for ((off = base; off < base + seeds; off += shard)); do dirs+=("$data/s$(printf %06d "$off")"); done
  args=(--data "${dirs[@]}" --wait-data 150 --delete-data --out /tmp/mg/ckpt --state /tmp/mg/state
    --vae-seconds "${VAE_SECONDS:-150}" --until "${TRAIN_UNTIL:-460}")
  [ -n "${TRAIN_INIT:-}" ] && args+=(--init "$TRAIN_INIT")
  # shellcheck disable=SC2206
  args+=(${TRAIN_ARGS:-})
  rm -rf /tmp/mg && mkdir -p /tmp/mg
  t1=$SECONDS
  PYTHONUNBUFFERED=1 PYTHONPATH=/tmp/dsrc/src timeout $(( ${TRAIN_UNTIL:-460} + 60 )) \
    python3 tools/train/train_generator.py "${args[@]}" > "$out/train.log" 2>&1
  rc=$?
  note "trainer: rc=$rc ($((SECONDS - t1)) s)"
  kill "$writer" 2>/dev/null
  tail -n 2 "$out/data.log" >> "$sum"
  grep -E "params|self-check|und tower|key/value heads|grown|data:|actions:|vae trained|latents |text:|training the|trained |loss [a-z0-9]+ sigma|checkpoint written|final check|FAILED|Error|error" \
    "$out/train.log" | cut -c1-400 >> "$sum"
  grep -E "^\[.*(vae )?step [0-9]+" "$out/train.log" | tail -n 6 >> "$sum"
  # one file for the pictures: the run tool returns a limited number of files
  [ -d /tmp/mg/look ] && tar -cf "$out/look.tar" -C /tmp/mg look
  [ -d /tmp/mg/ckpt ] && (cd /tmp/mg && tar -cf - ckpt) | split -b 15m - "$out/bundle.tar.part-"
  rm -rf "$data"
  # PASS/FAIL table
  row() { printf '%-44s %s\n' "$1" "$2" | tee -a "$sum"; }
  note "---"
  row "pipeline save/load/run before training" "$(grep -q 'self-check: checkpoint saved, loaded and run' "$out/train.log" && echo PASS || echo FAIL)"
  row "batched forward == Cosmos3OmniTransformer" "$(grep -q 'self-check FAILED for' "$out/train.log" && echo FAIL || (grep -q 'batched forward vs' "$out/train.log" && echo PASS || echo FAIL))"
  grep -q 'grown vs loaded' "$out/train.log" &&
    row "grown transformer == loaded (fp32)" "$(grep -q 'FAILED for the grown' "$out/train.log" && echo FAIL || echo PASS)"
  grep -q 'und tower vs transformers' "$out/train.log" &&
    row "und tower == Reasoner's LM (transformers)" "$(grep -q 'FAILED for the und' "$out/train.log" && echo FAIL || echo PASS)"
  if [ "${VAE_SECONDS:-150}" = 0 ]; then row "VAE trained" "kept as loaded (VAE_SECONDS=0)"
  else row "VAE trained" "$(grep -q 'vae trained' "$out/train.log" && echo PASS || echo FAIL)"; fi
  row "transformer trained" "$(grep -qE '\] trained [0-9]+ steps in' "$out/train.log" && echo PASS || echo FAIL)"
  row "checkpoint returned (bundle parts)" "$(ls "$out"/bundle.tar.part-* >/dev/null 2>&1 && echo PASS || echo FAIL)"
  row "saved checkpoint runs in diffusers" "$(grep -q 'final check: the saved checkpoint loads' "$out/train.log" && echo PASS || echo FAIL)"
  note "total $((SECONDS - t0)) s; files: $(ls "$out" | tr '\n' ' ')" ;;
unpack)
  from=${2:?files_at}
  dest=${3:?destination folder}
  mkdir -p "$dest"
  cat "$from"/bundle.tar.part-* | tar -xf - -C "$dest"
  cp "$from"/train.log "$from"/summary.txt "$dest"/ 2>/dev/null
  [ -d "$from/look" ] && cp -r "$from/look" "$dest/"
  [ -f "$from/look.tar" ] && tar -xf "$from/look.tar" -C "$dest"
  # the checkpoint's first-frame check (cosmos-ts.json, carried over from --init) names "../mini-reasoner"
  [ -e "$dest/mini-reasoner" ] || ln -s "$PWD/checkpoints/mini-reasoner" "$dest/mini-reasoner"
  ls -la "$dest" "$dest"/ckpt ;;
*)
  sed -n '2,26p' "$0"
  exit 2 ;;
esac
