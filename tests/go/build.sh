#!/usr/bin/env bash
# Builds the Go test programs (tests/go/<program>/*.go) with every installed Go
# toolchain (/usr/lib/go-1.NN) into a cache directory, once: a binary is rebuilt only
# when a source is newer. The plain and the sanitizer builds of podprof share the cache.
#
#   tests/go/build.sh CACHE_DIR [PROGRAM...]
#
# Output: CACHE_DIR/go1.NN/<program>-<mode>, where the modes of a program are listed in
# tests/go/<program>/modes (default: "exe"):
#   exe      go build (non-PIE on linux/amd64)
#   pie      go build -buildmode=pie
#   sw       go build -ldflags='-s -w' (no .symtab, no DWARF)
#   strip    exe, then binutils strip (no .symtab)
set -euo pipefail

cache=${1:?usage: build.sh CACHE_DIR [PROGRAM...]}
shift
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)

if [ $# -gt 0 ]; then
  programs=("$@")
else
  programs=()
  for d in "$here"/*/; do
    [ -f "$d/main.go" ] && programs+=("$(basename "$d")")
  done
fi

export GOCACHE="$cache/gocache" GOTOOLCHAIN=local GOFLAGS= GO111MODULE=on GOPROXY=off \
       CGO_ENABLED=0 HOME="${HOME:-/tmp}"
lock="$cache/.lock"
exec 9>"$lock"
flock 9

built=0
for gobin in /usr/lib/go-1.*/bin/go; do
  [ -x "$gobin" ] || continue
  ver=$("$gobin" env GOVERSION | sed -E 's/^(go1\.[0-9]+).*/\1/')
  out="$cache/$ver"
  mkdir -p "$out"
  for prog in "${programs[@]}"; do
    src="$here/$prog"
    modes=exe
    [ -f "$src/modes" ] && modes=$(cat "$src/modes")
    for mode in $modes; do
      bin="$out/$prog-$mode"
      if [ -x "$bin" ] && [ -z "$(find "$src" -newer "$bin" -print -quit)" ]; then
        continue
      fi
      case $mode in
        exe)   flags=() ;;
        pie)   flags=(-buildmode=pie) ;;
        sw)    flags=(-ldflags=-s\ -w) ;;
        strip) flags=() ;;
        *) echo "build.sh: unknown mode '$mode' for $prog" >&2; exit 2 ;;
      esac
      (cd "$src" && "$gobin" build "${flags[@]}" -o "$bin.tmp" ./*.go)
      [ "$mode" = strip ] && strip "$bin.tmp"
      mv "$bin.tmp" "$bin"
      built=$((built + 1))
    done
  done
done
echo "go programs: $built built, cache $cache"
