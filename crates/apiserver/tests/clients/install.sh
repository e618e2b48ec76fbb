#!/usr/bin/env bash
# Installs the official non-Rust Kubernetes clients that tests/official_clients.rs runs against
# the server: the Python client (a venv) and @kubernetes/client-node 1.4 and 2.0 (node_modules),
# at the versions pinned beside this script. Idempotent: an install that matches the pins is kept.
#
#   crates/apiserver/tests/clients/install.sh [DIR]   # default: <workspace>/target/official-clients
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=${1:-$here/../../../../target/official-clients}
mkdir -p "$dir/node"
dir=$(cd "$dir" && pwd)

# Python: a venv of its own, rebuilt when the pins change.
if ! cmp -s "$here/python/requirements.txt" "$dir/venv/requirements.txt" 2>/dev/null; then
  rm -rf "$dir/venv"
  python3 -m venv "$dir/venv"
  "$dir/venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/python/requirements.txt"
  cp "$here/python/requirements.txt" "$dir/venv/requirements.txt"
fi

# JavaScript: `npm ci` from the lockfile, redone when it changes.
if ! cmp -s "$here/node/package-lock.json" "$dir/node/package-lock.json" || [ ! -d "$dir/node/node_modules" ]; then
  cp "$here/node/package.json" "$here/node/package-lock.json" "$dir/node/"
  (cd "$dir/node" && npm ci --no-audit --no-fund --loglevel=error)
fi
echo "official clients installed in $dir" >&2
