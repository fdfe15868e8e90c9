#!/usr/bin/env bash
# Builds Centrifugo v6.9.1 (a benchmark reference) from the Go module proxy into the services cache,
# outside the repository, unless it is already there; prints the binary's path. About 10 minutes of
# CPU on 2 cores. Needs Go (>= 1.24). The cache is the one scripts/services.sh uses.
set -euo pipefail

VERSION=v6.9.1
SERVICES_HOME="${SWITCHBOARD_SERVICES_HOME:-$HOME/.cache/switchboard-services}"
DIR="$SERVICES_HOME/centrifugo-$VERSION"
BIN="$DIR/centrifugo"

if [ ! -x "$BIN" ]; then
  command -v go >/dev/null || { echo "centrifugo.sh: Go is needed to build Centrifugo $VERSION (go install)" >&2; exit 1; }
  mkdir -p "$DIR"
  echo "centrifugo.sh: building Centrifugo $VERSION into $DIR (about 10 minutes of CPU)..." >&2
  # -mod=mod: resolve from the module proxy even inside a directory that has a go.mod
  GOFLAGS=-mod=mod GOBIN="$DIR" go install "github.com/centrifugal/centrifugo/v6@$VERSION" >&2
  [ -x "$BIN" ] || { echo "centrifugo.sh: go install finished but $BIN is missing" >&2; exit 1; }
fi
echo "$BIN"
