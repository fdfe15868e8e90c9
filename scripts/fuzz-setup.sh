#!/usr/bin/env bash
# Installs the OpenAPI fuzzer that test/e2e/openapi-fuzz.test.ts runs: schemathesis from PyPI, in a
# venv of its own beside the services' downloads:
#   ${SWITCHBOARD_SERVICES_HOME:-$HOME/.cache/switchboard-services}/venv/bin/schemathesis
# Idempotent and cached: a venv that already has the pinned version is left alone (well under a
# second); pip keeps its downloads. Needs Python 3.11+ (python3, or PYTHON=/path/to/python); on
# Debian as root a missing python3 / venv module is installed with apt-get.
# Overrides: SCHEMATHESIS_VERSION (default 4.32.5), PYTHON.
set -euo pipefail

SCHEMATHESIS_VERSION="${SCHEMATHESIS_VERSION:-4.32.5}"
SERVICES_HOME="${SWITCHBOARD_SERVICES_HOME:-$HOME/.cache/switchboard-services}"
VENV="$SERVICES_HOME/venv"
PYTHON="${PYTHON:-python3}"

say() { printf '[fuzz-setup] %s\n' "$*"; }
die() {
  printf '[fuzz-setup] ERROR: %s\n' "$*" >&2
  exit 1
}

installed() { [[ "$("$VENV/bin/schemathesis" --version 2>/dev/null)" == "schemathesis, version $SCHEMATHESIS_VERSION" ]]; }

apt_install() { # <package...>
  command -v apt-get >/dev/null 2>&1 && [[ "$(id -u)" == 0 ]] || return 1
  say "installing $* with apt-get..."
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null 2>&1 ||
    { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null; }
}

mkdir -p "$SERVICES_HOME"
# One install at a time: parallel runs may all call this.
exec 9>"$SERVICES_HOME/.fuzz-setup.lock"
flock 9

if installed; then
  say "schemathesis $SCHEMATHESIS_VERSION ready in $VENV"
  exit 0
fi

command -v "$PYTHON" >/dev/null 2>&1 || apt_install python3 python3-venv ||
  die "'$PYTHON' not found: install Python 3.11+ (or set PYTHON)"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
  die "schemathesis $SCHEMATHESIS_VERSION needs Python 3.11+, '$PYTHON' is $("$PYTHON" --version 2>&1)"
"$PYTHON" -c 'import ensurepip, venv' 2>/dev/null || apt_install python3-venv ||
  die "'$PYTHON -m venv' is unavailable: install the venv module (Debian: python3-venv)"

say "installing schemathesis $SCHEMATHESIS_VERSION into $VENV (first run only)..."
rm -rf "$VENV"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/pip" install -q --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION" ||
  {
    rm -rf "$VENV"
    die "pip install schemathesis==$SCHEMATHESIS_VERSION failed"
  }
installed || die "schemathesis in $VENV does not report version $SCHEMATHESIS_VERSION"
say "schemathesis $SCHEMATHESIS_VERSION ready in $VENV"
