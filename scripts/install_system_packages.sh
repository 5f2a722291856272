#!/usr/bin/env bash
# System packages the test suite needs: Debian's chromium (browser tests drive it through
# Playwright; Playwright's own browser download cannot run here). Idempotent.
set -euo pipefail
if ! command -v chromium >/dev/null 2>&1; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq chromium >/dev/null
fi
