#!/usr/bin/env bash
# The whole test suite: installs what is missing, then formatting, lints and every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
if [ -f players/package.json ]; then
  (cd players && npm ci --no-audit --no-fund --loglevel=error)
fi
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
cargo test --workspace
