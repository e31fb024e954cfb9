#!/usr/bin/env bash
# Installs the two Jupyter kernels for cosmos-ts notebooks, for the Jupyter at /usr/bin/jupyter
# (or the first `jupyter` on PATH), in the user's Jupyter data dir (JUPYTER_DATA_DIR honoured):
#   deno   "Deno"                — Deno's built-in kernel (`deno jupyter --kernel`), absolute path
#                                  of this repo's Deno. The Deno kernel always runs with every
#                                  permission (what -A gives: read, write, ffi, env, net, run, sys);
#                                  `deno jupyter` takes no permission or --config flags: deno.json
#                                  is found from the notebook's folder upwards.
#   tslab  "TypeScript (tslab)"  — tslab on this Node (absolute paths), cells compiled to
#                                  CommonJS: notebooks `require("<repo>/dist/cosmos.cjs")`.
# Idempotent: a kernel.json is rewritten only when it differs. Usage: bash kernel/install.sh
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
deno="$repo/node_modules/deno/deno"
[ -x "$deno" ] || deno=$(readlink -f node_modules/.bin/deno 2>/dev/null || true)
tslab="$repo/node_modules/tslab/bin/tslab"
node=$(command -v node)
[ -x "$deno" ] || { echo "[kernel] Deno missing (node_modules/deno): run npm ci first" >&2; exit 1; }
[ -f "$tslab" ] || { echo "[kernel] tslab missing (node_modules/tslab): run npm ci first" >&2; exit 1; }
jupyter=/usr/bin/jupyter
[ -x "$jupyter" ] || jupyter=$(command -v jupyter || true)
if [ -n "$jupyter" ]; then data=$("$jupyter" --data-dir); else data=${JUPYTER_DATA_DIR:-$HOME/.local/share/jupyter}; fi
kernels="$data/kernels"

# write_spec <name> <json>: writes kernels/<name>/kernel.json when it differs.
write_spec() {
  local dir="$kernels/$1"
  mkdir -p "$dir"
  if [ -f "$dir/kernel.json" ] && [ "$(cat "$dir/kernel.json")" = "$2" ]; then return 0; fi
  printf '%s' "$2" >"$dir/kernel.json"
  echo "[kernel] installed $1 → $dir"
}

json() { # json <display name> <language> <argv...>: a kernelspec as JSON (Node does the quoting)
  "$node" -e '
    const [display_name, language, ...argv] = process.argv.slice(1);
    const spec = { argv, display_name, language, env: { DENO_NO_UPDATE_CHECK: "1", DENO_NO_PROMPT: "1" },
      metadata: { "cosmos-ts": { repo: process.env.REPO } } };
    process.stdout.write(JSON.stringify(spec, null, 2) + "\n");' "$@"
}
export REPO="$repo"

# Deno: its own installer once for the logos, then our kernel.json.
if [ ! -f "$kernels/deno/logo-64x64.png" ]; then
  "$deno" jupyter --install --force --name deno --display Deno >/dev/null 2>&1 || true
fi
write_spec deno "$(json Deno typescript "$deno" jupyter --kernel --conn '{connection_file}')"
write_spec tslab "$(json 'TypeScript (tslab)' typescript "$node" "$tslab" kernel --config-path '{connection_file}')"

# Check that Jupyter sees both (jupyter_client; Debian's jupyter has no `kernelspec` command).
if [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import jupyter_client' 2>/dev/null; then
  /usr/bin/python3 - <<'PY'
from jupyter_client.kernelspec import KernelSpecManager
specs = KernelSpecManager().find_kernel_specs()
missing = [k for k in ("deno", "tslab") if k not in specs]
if missing:
    raise SystemExit(f"[kernel] Jupyter does not see: {missing} (found {sorted(specs)})")
PY
fi
