#!/usr/bin/env bash
# Builds the CommonJS bundles that tslab notebooks `require` (tslab compiles cells to CommonJS
# and cannot load our ESM .ts sources): dist/kernel.cjs from kernel/mod.ts and, when src/mod.ts
# exists, dist/cosmos.cjs from kernel/notebook.ts (src/mod.ts + kernel/mod.ts + the notebook calls). npm packages stay external (resolved
# from node_modules at run time). Idempotent: skipped when the bundles are newer than every source.
# Usage: bash scripts/build-bundle.sh [--force]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
esbuild=node_modules/.bin/esbuild
[ -x "$esbuild" ] || { echo "esbuild missing: run npm ci first" >&2; exit 1; }
mkdir -p dist

# Is $1 missing or older than any .ts under kernel/ or src/ (or this script)?
stale() {
  [ "${FORCE:-}" = 1 ] && return 0
  [ -f "$1" ] || return 0
  [ -n "$(find kernel src scripts/build-bundle.sh -newer "$1" \( -name '*.ts' -o -name '*.sh' \) -print -quit 2>/dev/null)" ]
}
[ "${1:-}" = "--force" ] && FORCE=1

# import.meta.url (used by a few src files) becomes the bundle's own file URL in CommonJS.
common=(--bundle --platform=node --format=cjs --target=node20 --packages=external --log-level=warning
  "--define:import.meta.url=__cosmos_import_meta_url"
  "--banner:js=const __cosmos_import_meta_url = require('node:url').pathToFileURL(__filename).href;")

build() { # build <out> <entry source>
  local out=$1 entry=$2
  if stale "$out"; then
    printf '%s\n' "$entry" | "$esbuild" "${common[@]}" --sourcefile="$(basename "$out" .cjs)-entry.ts" \
      --loader=ts --outfile="$out.tmp" || { rm -f "$out.tmp"; return 1; }
    mv "$out.tmp" "$out"
    echo "[bundle] $out ($(du -k "$out" | cut -f1) kB)"
  fi
}

build dist/kernel.cjs 'export * from "./kernel/mod.ts";'

# Type declarations for the bundles (tslab type-checks cells, so `import … from
# "<repo>/dist/kernel.cjs"` gets full types): tsc emits .d.ts under dist/types/ with relative
# ".ts" specifiers rewritten to ".js"; dist/<name>.d.cts re-exports them.
types() { # types <out.d.cts> <entry .ts files...>
  local out=$1; shift
  stale "$out" || return 0
  local name files=() exports=()
  name=$(basename "$out" .d.cts)
  for f in "$@"; do files+=("\"../$f\""); exports+=("export * from \"./types/${name}/${f%.ts}.js\";"); done
  rm -rf "dist/types/$name"
  cat >"dist/.types-$name.json" <<JSON
{
  "compilerOptions": {
    "target": "ES2022", "module": "NodeNext", "moduleResolution": "NodeNext",
    "allowImportingTsExtensions": true, "declaration": true, "emitDeclarationOnly": true,
    "strict": true, "skipLibCheck": true, "types": ["node"], "typeRoots": ["../node_modules/@types"],
    "lib": ["ES2022", "DOM"], "rootDir": "..", "outDir": "types/$name"
  },
  "files": [$(IFS=,; echo "${files[*]}")]
}
JSON
  node node_modules/typescript/bin/tsc -p "dist/.types-$name.json" || return 1
  find "dist/types/$name" -name '*.d.ts' -exec sed -i -E 's#(from "\.\.?/[^"]*)\.ts"#\1.js"#g' {} +
  printf '%s\n' "${exports[@]}" >"$out"
  echo "[bundle] $out (types in dist/types/$name/)"
}

types dist/kernel.d.cts kernel/mod.ts
if [ -f src/mod.ts ]; then
  # src/ is still growing: a failed library bundle is reported but does not stop the set-up
  # (the kernel bundle above is enough for the display layer).
  # kernel/notebook.ts = src/mod.ts + kernel/mod.ts + the notebook calls (reason/generate/rollout
  # with live output), with the names both have resolved explicitly.
  { build dist/cosmos.cjs 'export * from "./kernel/notebook.ts";' &&
    types dist/cosmos.d.cts kernel/notebook.ts; } ||
    echo "[bundle] WARNING: dist/cosmos.cjs not built (src/mod.ts does not bundle yet, see above)" >&2
fi
