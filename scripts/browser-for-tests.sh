# Sourced by ./build: the chat page's browser test needs Debian's chromium and chromium-driver. When they
# are missing and this is root on a Debian-like system, install them once (quietly); otherwise, or when
# that fails, the test skips with a loud "SKIPPED:" line. SLUICE_NO_BROWSER_INSTALL=1 turns this off.
if { [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; } && [ -z "${SLUICE_NO_BROWSER_INSTALL:-}" ] \
    && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  tried="${TMPDIR:-/tmp}/sluice-browser-install.tried"
  if [ ! -e "$tried" ]; then
    touch "$tried" # once per machine boot/tmp: a failed install is not retried on every build
    echo "build: installing chromium and chromium-driver (Debian packages) for the browser test..." >&2
    log="${TMPDIR:-/tmp}/sluice-browser-install.log"
    if ! { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver >"$log" 2>&1 \
        || { apt-get update -qq >>"$log" 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver >>"$log" 2>&1; }; }; then
      echo "build: could not install chromium (see $log); the browser test will be SKIPPED" >&2
    fi
  fi
fi
