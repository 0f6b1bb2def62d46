#!/usr/bin/env bash
# Headless Chromium for the browser tests (tests/browser/): Debian's `chromium` package, never a
# browser download. Idempotent and instant when it is installed; installs it with apt-get (as
# root, or with password-less sudo) where it is missing.
# Exit codes: 0 installed, 3 cannot be installed here (the tests then skip, or fail with CI=true).
set -euo pipefail
missing() { echo "browser.sh: $*" >&2; exit 3; }

cjk_font() { fc-list :lang=zh 2>/dev/null | grep -q .; }
if command -v chromium >/dev/null 2>&1 && cjk_font; then exit 0; fi
command -v apt-get >/dev/null 2>&1 || missing "no apt-get here: install Chromium and put \`chromium\` on PATH"
if [ "$(id -u)" -eq 0 ]; then sudo=(); elif sudo -n true 2>/dev/null; then sudo=(sudo -n); else
  missing "Chromium is missing and installing it needs root: sudo apt-get install chromium"; fi
apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -q -y -o DPkg::Lock::Timeout=300)
echo "browser.sh: installing Debian's chromium for the browser tests"
# Fresh machines have no package lists yet: update only when the install cannot find the package.
# fonts-wqy-microhei: the console is in Chinese, and its screenshots should show it.
packages=(chromium fonts-liberation fonts-wqy-microhei)
if ! "${apt[@]}" install --no-install-recommends "${packages[@]}" >/dev/null 2>&1; then
  "${apt[@]}" update >/dev/null || missing "apt-get update failed"
  "${apt[@]}" install --no-install-recommends "${packages[@]}" >/dev/null || missing "apt-get install chromium failed"
fi
command -v chromium >/dev/null 2>&1 || missing "chromium installed but not on PATH"
chromium --version
