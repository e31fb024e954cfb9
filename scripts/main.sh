#!/usr/bin/env bash
# The main job (README): set-up, then execute one cookbook end to end with Jupyter headless
# on the embedded native engine, writing the executed notebook and its HTML to an output folder.
# The default is the quickstart: the mini Reasoner's boxes on a world image, and a text-to-video.
#   bash scripts/main.sh [cookbook.ipynb] [out-dir]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
notebook=${1:-cookbooks/quickstart.ipynb}
out=${2:-out}
bash scripts/setup.sh
bash scripts/run-cookbook.sh "$notebook" "$out"
