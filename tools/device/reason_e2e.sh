#!/usr/bin/env bash
# reason() end to end (the whole TypeScript path: checkpoint, template, tokenizer, media, tower,
# decoder) on the device machine, COSMOS_DEVICE=cpu then cuda, on the tiny fixture; prints whether the
# texts and token counts agree. The device has no node and no npm: this bundles the driver with esbuild
# (sharp stays external and is carried) and runs it with a carried node binary.
#
#   here:        bash tools/device/reason_e2e.sh bundle      # writes .dev/e2e/driver.mjs (git-ignored)
#                bash tools/device/node_xz.sh
#   the `run` tool, carry [.dev/node.xz, .dev/e2e, node_modules/sharp, node_modules/@img,
#                node_modules/detect-libc, node_modules/semver, native/build/Release]:
#                bash tools/device/reason_e2e.sh device
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
case "${1:-}" in
bundle)
  mkdir -p .dev/e2e
  node_modules/.bin/esbuild tools/device/reason_e2e.ts --bundle --platform=node --format=esm --target=node20 \
    --external:sharp --outfile=.dev/e2e/driver.mjs --log-level=warning
  echo ".dev/e2e/driver.mjs" ;;
device)
  bash tools/fixtures/references.sh unpack || exit 1  # tracked xz-compressed: test/fixtures/README.md
  xz -dc .dev/node.xz > /tmp/node && chmod +x /tmp/node
  out=${OUT:-/tmp/reason_e2e}; mkdir -p "$out"
  for d in cpu cuda; do
    COSMOS_DEVICE=$d /tmp/node .dev/e2e/driver.mjs "$PWD/test/fixtures/qwen3vl-tiny" > "$out/$d.jsonl"
  done
  OUTDIR="$out" /tmp/node -e '
    const fs = require("fs");
    const rd = (d) => fs.readFileSync(`${process.env.OUTDIR}/${d}.jsonl`, "utf8").trim().split("\n").map(JSON.parse);
    const a = rd("cpu"), b = rd("cuda");
    a.forEach((x, i) => console.log(x.kind, "same text:", x.text === b[i].text, "same usage:",
      JSON.stringify(x.usage) === JSON.stringify(b[i].usage), "|", x.backend, "vs", b[i].backend));' ;;
*) echo "usage: reason_e2e.sh bundle|device" >&2; exit 2 ;;
esac
