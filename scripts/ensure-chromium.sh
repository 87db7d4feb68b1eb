#!/usr/bin/env bash
# Makes sure Debian's Chromium is there for the browser tests (never a Playwright browser download).
set -euo pipefail
if [ -x /usr/bin/chromium ]; then exit 0; fi
if [ "$(id -u)" != "0" ]; then
  echo "error: the browser tests need Debian's chromium; run 'sudo apt-get install -y chromium' and retry" >&2
  exit 1
fi
echo "installing Debian's chromium for the browser tests..." >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
