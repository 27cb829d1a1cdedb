#!/usr/bin/env bash
# Installs Debian's chromium for the test that renders the report site in a
# headless browser (cmd/prunebench/report_test.go, TestReportInChromium).
# scripts/test.sh runs it.
#
# It does nothing when chromium is on PATH. Otherwise it runs apt-get update
# and apt-get install -y chromium, as root. The test starts chromium itself,
# one headless process per page, and kills it by PID if it hangs; nothing is
# left running.
set -euo pipefail

say() { echo "chromium/install.sh: $*" >&2; }

if command -v chromium >/dev/null 2>&1; then
  say "chromium is installed ($(command -v chromium)): nothing to do"
  exit 0
fi
if [[ $(id -u) != 0 ]]; then
  say "error: chromium is not on PATH, and installing it (apt-get install chromium) needs root; run this as root, or install Debian's chromium yourself"
  exit 1
fi
say "chromium is not on PATH; installing it with apt-get (apt-get update first)"
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y chromium
command -v chromium >/dev/null 2>&1 || { say "error: chromium is still not on PATH after the install"; exit 1; }
say "installed: $(chromium --version 2>/dev/null || dpkg-query -W -f='chromium ${Version}' chromium)"
