#!/usr/bin/env bash
# Points node_modules/.bin/tsc and tsserver at our TypeScript (the `typescript` devDependency).
# Why: tslab depends on its own fork, @tslab/typescript-for-tslab (TypeScript 5.0), which npm
# hoists to node_modules/ and which declares the same `tsc` / `tsserver` bins. npm links the first
# package it reaches and never replaces another package's link, so `npx tsc` ran the fork, and a
# script importing src/mod.ts failed under it. tslab itself `require`s its fork by package name and
# does not use these links. Run by npm as the `postinstall` script (so `npm ci` on a fresh clone
# gets it), and safe to run again.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[ -f node_modules/typescript/bin/tsc ] || { echo "[link-typescript] node_modules/typescript missing: run npm ci" >&2; exit 1; }
mkdir -p node_modules/.bin
for bin in tsc tsserver; do
  ln -sfn "../typescript/bin/$bin" "node_modules/.bin/$bin"
done
