#!/bin/sh
# Make sure a headless Chromium is available for tests/test_report_browser.py.
# Installs Debian's chromium package when no browser is found (as root, or through sudo when
# it works without a password). Never fails: where nothing can be installed, the browser test
# is skipped and says why.
for name in chromium chromium-browser google-chrome google-chrome-stable; do
  if command -v "$name" >/dev/null 2>&1; then
    exit 0
  fi
done
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure_chromium: no Chromium and no apt-get; the browser test will be skipped" >&2
  exit 0
fi
if [ "$(id -u)" = "0" ]; then
  SUDO=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  SUDO="sudo -n"
else
  echo "ensure_chromium: no Chromium, and not root (no password-less sudo) to install it;" \
       "the browser test will be skipped" >&2
  exit 0
fi
echo "ensure_chromium: installing chromium from the system packages" >&2
export DEBIAN_FRONTEND=noninteractive
if $SUDO apt-get update -qq >/dev/null 2>&1 \
   && $SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1; then
  echo "ensure_chromium: $(chromium --version 2>/dev/null)" >&2
else
  echo "ensure_chromium: apt-get install chromium failed; the browser test will be skipped" >&2
fi
exit 0
