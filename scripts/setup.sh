#!/usr/bin/env bash
# Set-up shared by `make demo` and `make test`: Debian packages for the real
# servers, a virtualenv with the project installed. Idempotent and quiet when
# everything is already there. Each failure prints one line: what failed and
# the command to run.
set -uo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
say()  { printf '%s\n' "setup: $*"; }
fail() { printf '%s\n' "setup: $*" >&2; exit 1; }

# 1. Python >= 3.11 (a bare Debian has none: install Debian's, 3.11 on bookworm)
if ! command -v "$PYTHON" >/dev/null 2>&1 && [ "$PYTHON" = python3 ] \
    && [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  say "installing python3 python3-venv (apt-get)…"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -qq --no-install-recommends python3 python3-venv; } >/tmp/mimamori-apt.log 2>&1 \
    || fail "apt-get install python3 python3-venv failed; see /tmp/mimamori-apt.log"
fi
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
  || fail "Python 3.11 or newer is needed ($PYTHON is $("$PYTHON" -V 2>&1)); install it, or run: make PYTHON=python3.11 ..."

# 2. Debian packages for the servers (and, later, the test browser)
need_pkgs=()
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }
have mosquitto || need_pkgs+=(mosquitto mosquitto-clients)
have influxd   || need_pkgs+=(influxdb influxdb-client)
# For the tests (and `mimamori screenshots`) only: the real browser
# (Playwright drives Debian's chromium; `playwright install` is never run) and
# fonts that can show Japanese. `make demo` does not need them.
if [ "${1:-}" = "--test" ]; then
  [ -x /usr/bin/chromium ] || need_pkgs+=(chromium)
  # Playwright's own Node.js driver needs libatomic, which a bare Debian lacks
  case "$(/sbin/ldconfig -p 2>/dev/null || ldconfig -p 2>/dev/null)" in
    *libatomic.so.1*) ;;
    *) need_pkgs+=(libatomic1) ;;
  esac
  [ -d /usr/share/fonts/opentype/noto ] && ls /usr/share/fonts/opentype/noto/NotoSansCJK* >/dev/null 2>&1 \
    || need_pkgs+=(fonts-noto-cjk)
fi
if [ ${#need_pkgs[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
    fail "missing ${need_pkgs[*]}; run: sudo apt-get install -y ${need_pkgs[*]}"
  fi
  say "installing ${need_pkgs[*]} (apt-get)…"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/tmp/mimamori-apt.log 2>&1 \
    || fail "apt-get update failed (no network to the Debian mirror?); see /tmp/mimamori-apt.log, then run: apt-get update && apt-get install -y ${need_pkgs[*]}"
  apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >>/tmp/mimamori-apt.log 2>&1 \
    || fail "apt-get install ${need_pkgs[*]} failed; see /tmp/mimamori-apt.log, then run: apt-get install -y ${need_pkgs[*]}"
fi

# 3. The virtualenv and the project (re-installed when its requirements change)
stamp="$VENV/.mimamori-installed"
if [ ! -x "$VENV/bin/python" ]; then
  say "creating virtualenv $VENV…"
  if ! "$PYTHON" -m venv "$VENV" >/tmp/mimamori-venv.log 2>&1; then
    # Debian's own python3 needs the python3-venv package for this
    rm -rf "$VENV"
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
      say "installing python3-venv (apt-get)…"
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >>/tmp/mimamori-apt.log 2>&1 \
        || { apt-get update -qq >>/tmp/mimamori-apt.log 2>&1 \
             && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >>/tmp/mimamori-apt.log 2>&1; }
    fi
    "$PYTHON" -m venv "$VENV" >>/tmp/mimamori-venv.log 2>&1 \
      || fail "could not create $VENV (see /tmp/mimamori-venv.log); run: apt-get install -y python3-venv && $PYTHON -m venv $VENV"
  fi
fi
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ constraints.txt -nt "$stamp" ]; then
  say "installing Python packages into $VENV…"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -U pip >/tmp/mimamori-pip.log 2>&1
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[test]' \
      >>/tmp/mimamori-pip.log 2>&1 \
    || fail "pip could not install the project (no network to PyPI?); see /tmp/mimamori-pip.log, then run: $VENV/bin/pip install -c constraints.txt -e '.[test]'"
  touch "$stamp"
fi
exit 0
