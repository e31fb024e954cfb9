#!/usr/bin/env bash
# Idempotent set-up on a fresh Debian 12 machine with Node 20 and npm:
#   1. system tools from Debian apt (ffmpeg, Jupyter nbconvert/nbclient, Chromium) when missing;
#   2. npm dependencies from the committed lock file (deno comes from the `deno` npm package);
#   3. the native Node-API module (CUDA kernels too when nvcc is present);
#   4. the CommonJS bundle tslab loads, and the Jupyter kernels (Deno's and tslab's).
# Each step is skipped when already done, so running it again is quick.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
log() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

# --- 1. system tools -------------------------------------------------------
missing=()
command -v ffmpeg >/dev/null 2>&1 || [ -n "${FFMPEG_BIN:-}" ] || missing+=(ffmpeg)
[ -x /usr/bin/jupyter-nbconvert ] || missing+=(jupyter-nbconvert)
/usr/bin/python3 -c 'import nbclient' >/dev/null 2>&1 || missing+=(python3-nbclient)
/usr/bin/python3 -c 'import ipykernel' >/dev/null 2>&1 || missing+=(python3-ipykernel)
[ -x /usr/bin/jupyter-notebook ] || missing+=(jupyter-notebook)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "Missing system packages: ${missing[*]}" >&2
    echo "Install them with: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

# --- 2. npm dependencies ------------------------------------------------------
stamp=node_modules/.cosmos-lock-stamp
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  log "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json "$stamp"
fi

# --- 3. native module ----------------------------------------------------------
if [ -f scripts/build-native.sh ]; then bash scripts/build-native.sh; fi

# --- 4. tslab bundle and Jupyter kernels --------------------------------------
if [ -f scripts/build-bundle.sh ]; then bash scripts/build-bundle.sh; fi
if [ -f kernel/install.sh ]; then bash kernel/install.sh; fi
if [ -f assets/make.ts ]; then node --import tsx assets/make.ts; fi  # the cookbooks' synthetic inputs
log "ready"
