#!/usr/bin/env bash
# The README's test command: installs what is missing, builds (child processes in tests run dist/), runs vitest.
set -euo pipefail
cd "$(dirname "$0")/.."
# The inspector's e2e tests run in real headless Chromium: ensure-deps installs it when missing.
export TROUPE_NEEDS_CHROMIUM=1
bash scripts/ensure-deps.sh
npm run build --silent
exec npx vitest run "$@"
