#!/usr/bin/env bash
# Executes one cookbook notebook headless with Jupyter (Debian's nbconvert) and writes the
# executed notebook and an HTML version to an output folder, printing where they are.
#   bash scripts/run-cookbook.sh <cookbook.ipynb> [out-dir] [kernel]
# The kernel defaults to the notebook's own kernelspec (deno or tslab, see kernel/install.sh).
# It runs in the notebook's folder, so relative imports and asset paths work as in JupyterLab.
# Expects set-up done (scripts/setup.sh); fails with the cell's error when a cell fails.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
notebook=${1:?usage: run-cookbook.sh <cookbook.ipynb> [out-dir] [kernel]}
out=${2:-out}
[ -f "$notebook" ] || { echo "[cookbook] no such notebook: $notebook (list: find cookbooks -name '*.ipynb')" >&2; exit 1; }
jupyter=/usr/bin/jupyter
[ -x "$jupyter" ] || jupyter=$(command -v jupyter || true)
[ -n "$jupyter" ] || { echo "[cookbook] jupyter not found: apt-get install jupyter-nbconvert python3-nbclient (scripts/setup.sh does it as root)" >&2; exit 1; }
kernel=${3:-$(node -e 'const nb=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"));process.stdout.write(nb.metadata?.kernelspec?.name??"deno")' "$notebook")}
mkdir -p "$out"
name=$(basename "$notebook" .ipynb)
echo "[cookbook] executing $notebook with the $kernel kernel"
# iopub_timeout: nbconvert stops reading a cell's outputs 4 s after the kernel's reply by
# default; large displays (inline video, plotly.js) on a busy machine arrive later than that.
"$jupyter" nbconvert --to notebook --execute \
  --ExecutePreprocessor.kernel_name="$kernel" \
  --ExecutePreprocessor.timeout="${COSMOS_CELL_TIMEOUT:-1800}" \
  --ExecutePreprocessor.iopub_timeout=60 \
  --output-dir "$out" --output "$name.ipynb" "$notebook"
"$jupyter" nbconvert --to html --output-dir "$out" --output "$name.html" "$out/$name.ipynb" >/dev/null 2>&1 \
  || "$jupyter" nbconvert --to html --output-dir "$out" --output "$name.html" "$out/$name.ipynb"
echo "[cookbook] executed notebook: $(cd "$out" && pwd)/$name.ipynb"
echo "[cookbook] HTML:              $(cd "$out" && pwd)/$name.html"
