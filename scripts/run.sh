#!/usr/bin/env bash
# podprof's main job on its embedded default, with no cluster and no Coroot: builds
# podprof, starts a bundled sample Go service, runs the node role for a few cycles over
# every Go process of this machine (the sample included), writes their heap profiles
# as pprof files under ./profiles, and shows how to open them.
#
#   scripts/run.sh [SECONDS]     run the node role that long (default 12, cycles of 4 s)
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
seconds=${1:-12}

scripts/deps.sh
echo "=== building podprof"
cmake -S "$top" -B "$top/build/plain" -DPODPROF_GO_CACHE="$top/build/go-programs" >/dev/null
cmake --build "$top/build/plain" -j"$(nproc)" --target podprof >/dev/null
podprof=$top/build/plain/agent/podprof

go=$(ls -d /usr/lib/go-1.*/bin/go | sort -V | tail -n 1)
sample=$top/build/sample/sample-service
if [ ! -x "$sample" ] || [ examples/sample-service/main.go -nt "$sample" ]; then
  echo "=== building the sample service with $("$go" version | cut -d' ' -f3)"
  mkdir -p "$top/build/sample"
  (cd examples/sample-service && GOCACHE="$top/build/sample/gocache" GOTOOLCHAIN=local GOFLAGS= \
     GOPROXY=off HOME="${HOME:-/tmp}" "$go" build -o "$sample" ./main.go)
fi

out=$top/profiles
mkdir -p "$out"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
pidfile=$(mktemp)
rm -f "$pidfile"
"$sample" -listen "127.0.0.1:$port" -pidfile "$pidfile" >/dev/null 2>&1 &
sample_pid=$!
trap 'kill $sample_pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -s "$pidfile" ] && break; sleep 0.1; done
rm -f "$pidfile"
sleep 1

echo "=== the Go processes podprof sees (podprof ps)"
"$podprof" ps
echo
echo "=== podprof node: a heap profile of every Go process every 4 s, for ${seconds}s"
timeout -s TERM "$seconds" "$podprof" node --interval 4s --listen= --output-dir "$out" || true
echo
echo "=== podprof heap $sample_pid: the sample service's cumulative heap profile"
"$podprof" heap "$sample_pid" -o "$out/sample-service-heap.pb.gz"
kill "$sample_pid" 2>/dev/null || true

echo
echo "=== profiles written under $out"
find "$out" -name '*.pb.gz' -newer "$podprof" | sort | sed "s|^$top/||" | tail -n 12
echo
echo "The biggest allocators of the sample service (go tool pprof -top):"
"$go" tool pprof -top -sample_index=alloc_space "$out/sample-service-heap.pb.gz" 2>/dev/null | sed -n '1,12p'
cat <<TXT

Open any of them with:
  $go tool pprof -http=127.0.0.1:8080 $out/sample-service-heap.pb.gz
  $go tool pprof -top -sample_index=inuse_space <file>     # what is held now
  $go tool pprof -top -sample_index=go_runtime:heap_alloc_space:bytes <node profile>
TXT
