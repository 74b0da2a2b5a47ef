#!/usr/bin/env bash
# Builds helm_render (the chart renderer of podprof's chart tests) into OUT_DIR, once:
# it is rebuilt only when a source is newer than the binary. GOPATH mode against
# Debian's Go packages (golang-github-masterminds-sprig-dev, golang-gopkg-yaml.v3-dev),
# with the newest installed Go toolchain; no network.
#
#   tests/tools/helm_render/build.sh OUT_DIR      prints the binary's path
set -euo pipefail
out=${1:?usage: build.sh OUT_DIR}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)
bin=$out/helm_render

exec 9>"$out/.lock"
flock 9
stale=0
[ -x "$bin" ] || stale=1
for f in "$here"/*.go; do
  [ "$f" -nt "$bin" ] && stale=1
done
if [ $stale -eq 1 ]; then
  go=$(ls -d /usr/lib/go-1.*/bin/go 2>/dev/null | sort -V | tail -n 1)
  [ -n "$go" ] || { echo "build.sh: no Go toolchain under /usr/lib/go-1.*" >&2; exit 1; }
  for d in github.com/Masterminds/sprig gopkg.in/yaml.v3; do
    [ -d "/usr/share/gocode/src/$d" ] || {
      echo "build.sh: /usr/share/gocode/src/$d missing (scripts/deps.sh installs it)" >&2; exit 1; }
  done
  # a throwaway build cache: the binary is what is kept (rebuilt when a source changes)
  (cd "$here" && GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$out/gocache" \
     GOTOOLCHAIN=local GOFLAGS= CGO_ENABLED=0 HOME="${HOME:-/tmp}" \
     "$go" build -trimpath -o "$bin.tmp" . && mv "$bin.tmp" "$bin")
  rm -rf "$out/gocache"
fi
echo "$bin"
