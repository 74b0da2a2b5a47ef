#!/usr/bin/env bash
# podprof under valgrind's memcheck (--leak-check=full --errors-for-leak-kinds=definite
# --error-exitcode), on a plain (unsanitized) build:
#
#   scripts/valgrind.sh            everything: the unit tests' executables under
#                                  `ctest -T memcheck` (options in the top CMakeLists.txt),
#                                  then the integration tests with every podprof
#                                  process they start under memcheck (PODPROF_BIN is a
#                                  wrapper); about 20 minutes on 2 cores, not for
#                                  CI: the integration checks that bound time or
#                                  memory (valgrind's own) fail under its slowdown,
#                                  and what this run is for is podprof's reports
#   scripts/valgrind.sh --quick    the CI subset (about two minutes): the unit tests
#                                  under memcheck, and podprof's own short runs (every
#                                  command once: options, node --once over Go programs,
#                                  cluster --once over a pprof server, upload through
#                                  the spool to the fake Coroot receiver, heap, ps)
#   extra arguments go to ctest (e.g. -R REGEX)
#
# A podprof run reporting an error or a definite leak fails (exit status 99, and its
# report is printed); the last line is "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
top=$PWD
quick=0
if [ "${1:-}" = --quick ]; then quick=1; shift; fi
build=${PODPROF_VALGRIND_BUILD:-$top/build/plain}
gocache=$top/build/go-programs
jobs=$(nproc 2>/dev/null || echo 2)
pass=0 fail=0

command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)"; echo "0 passed, 1 failed"; exit 1; }
if [ ! -f "$build/CMakeCache.txt" ] || grep -q 'PODPROF_SANITIZE:BOOL=ON\|PODPROF_TSAN:BOOL=ON' "$build/CMakeCache.txt"; then
  cmake -S "$top" -B "$build" -DPODPROF_GO_CACHE="$gocache" -DPODPROF_SANITIZE=OFF -DPODPROF_TSAN=OFF \
    -DPODPROF_WERROR=ON >/dev/null || exit 1
fi
cmake --build "$build" -j"$jobs" >/dev/null || cmake --build "$build" -j1 || exit 1

logs=$(mktemp -d /tmp/podprof-valgrind-XXXXXX)
# tests that run podprof as an unprivileged user need the wrapper and a place for logs
chmod 1777 "$logs"
wrapper=$logs/podprof
cat >"$wrapper" <<EOF
#!/bin/sh
exec valgrind --quiet --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99 \\
  --num-callers=30 --log-file=$logs/podprof.%p.log $build/agent/podprof "\$@"
EOF
chmod +x "$wrapper"

count() { # ctest log -> pass/fail totals
  local p f
  p=$(grep -Eo '^[0-9]+% tests passed, [0-9]+ tests failed out of [0-9]+' "$1" | awk '{print $NF - $4}')
  f=$(grep -Eo '^[0-9]+% tests passed, [0-9]+ tests failed out of [0-9]+' "$1" | awk '{print $4}')
  # nothing ran: a failure, unless the filter selected no test of this label
  if [ -z "$p" ]; then p=0; f=1; grep -q '^No tests were found' "$1" && f=0; fi
  pass=$((pass + p)); fail=$((fail + f))
}

# podprof's reports: a run with errors or definite leaks counts as a failure
check_reports() {
  local bad=0 f
  for f in "$logs"/podprof.*.log; do
    [ -s "$f" ] || continue
    if grep -qE 'ERROR SUMMARY: [1-9]|definitely lost: [1-9]|Invalid (read|write)|uninitialised' "$f"; then
      echo "--- memcheck report $f"; cat "$f"; bad=$((bad + 1))
    fi
  done
  echo "podprof under memcheck: $(ls "$logs"/podprof.*.log 2>/dev/null | wc -l) runs, $bad with errors"
  if [ $bad -eq 0 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); fi
}

echo "=== unit tests under memcheck"
out=$logs/unit.log
rm -f "$build"/Testing/Temporary/MemoryChecker.*.log
# --quick leaves out the unit tests whose checks are timed against live servers (a
# slow receiver, idle clients, concurrent scrapes): under memcheck's slowdown they fail
# on time, not on memory; podprof's own runs below cover the same code
exclude=()
[ $quick -eq 1 ] && exclude=(-E '^(test_uploader|test_uploader_spool|test_scraper_fetch|test_httpserver)$')
# the tests whose checks are timed stretch their times (PODPROF_TEST_TIME_SCALE)
PODPROF_TEST_TIME_SCALE=10 \
ctest --test-dir "$build" -T memcheck -L unit -j"$jobs" --output-on-failure "${exclude[@]}" "$@" \
  2>&1 | tee "$out" | grep -E 'tests passed|Defects|Failed|\*\*\*'
count "$out"
if grep -q 'Defects: [1-9]' "$out"; then
  fail=$((fail + 1))
  for f in $(grep -lE 'lost in loss record|Invalid|uninitialised|Mismatched|overlap' \
             "$build"/Testing/Temporary/MemoryChecker.*.log 2>/dev/null); do
    echo "--- $f"; grep -vE '^==[0-9]+== *$' "$f" | head -100
  done
fi

if [ $quick -eq 0 ]; then
  echo "=== integration tests, podprof under memcheck (PODPROF_BIN=$wrapper)"
  out=$logs/integration.log
  PODPROF_BIN=$wrapper PODPROF_WRAPPER=valgrind PODPROF_TEST_TIME_SCALE=4 \
    ctest --test-dir "$build" -L integration -j"$jobs" --output-on-failure "$@" 2>&1 | tee "$out" | tail -40
  count "$out"
  check_reports
  echo "$pass passed, $fail failed"
  [ $fail -eq 0 ]
  exit
fi

echo "=== podprof's own short runs under memcheck"
tests/go/build.sh "$gocache" heapgen noprof pprofsrv >/dev/null || { fail=$((fail + 1)); }
go=$(ls -d "$gocache"/go1.* | sort -V | tail -1)
work=$logs/work
mkdir -p "$work"
run() { # expected status, arguments...
  local want=$1; shift
  "$wrapper" "$@" >"$work/out.txt" 2>&1
  local st=$?
  if [ "$st" -ne "$want" ]; then
    echo "FAIL podprof $* (status $st, expected $want)"; tail -5 "$work/out.txt"; fail=$((fail + 1))
  else
    echo "ok   podprof $*"; pass=$((pass + 1))
  fi
}
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

run 0 version
run 0 --help
run 0 node --help
run 2 node --interval=bogus
run 2 cluster --target ftp://x
"$go/heapgen-exe" -profile "$work/own.pb.gz" >/dev/null 2>&1 &
hg=$!
"$go/noprof-exe" "$work/noprof.pid" >/dev/null 2>&1 &
np=$!
for _ in $(seq 100); do [ -f "$work/own.pb.gz" ] && [ -s "$work/noprof.pid" ] && break; sleep 0.1; done
mkdir -p "$work/proc"
ln -sf "/proc/$hg" "$work/proc/$hg"
ln -sf "/proc/$np" "$work/proc/$np"
run 0 ps --proc-root "$work/proc"
run 0 heap "$hg" -o "$work/heap.pb.gz"
run 0 node --once --proc-root "$work/proc" --output-dir "$work/node-out" --listen= \
  --go-heap-profiler=force
"$go/pprofsrv-exe" -port-file "$work/srv.port" -memprofilerate 4096 >/dev/null 2>&1 &
srv=$!
for _ in $(seq 100); do [ -s "$work/srv.port" ] && break; sleep 0.1; done
run 0 cluster --once --target "http://127.0.0.1:$(cat "$work/srv.port")" --listen= \
  --scrape-types=heap,goroutine,block,mutex --output-dir "$work/cluster-out"
# upload: first with Coroot down (into the spool), then up (out of it)
cport=$(free_port)
cp "$work/heap.pb.gz" "$work/a.pb.gz"
run 0 upload --service-name vg --profiles-endpoint "http://127.0.0.1:$cport/v1/profiles" \
  --spool-dir "$work/spool" --flush-timeout 1s --retry-backoff-min 100ms "$work/a.pb.gz"
/usr/bin/python3 tests/tools/fake_coroot.py --port "$cport" --record-dir "$work/rec" 2>/dev/null &
fc=$!
for _ in $(seq 100); do (echo >/dev/tcp/127.0.0.1/$cport) 2>/dev/null && break; sleep 0.1; done
run 0 upload --service-name vg --profiles-endpoint "http://127.0.0.1:$cport/v1/profiles" \
  --spool-dir "$work/spool" --flush-timeout 20s --listen=127.0.0.1:0 "$work/heap.pb.gz"
# the long-running roles with their threads (uploader, scraper, HTTP server), stopped
# by SIGTERM after their pages were read
serve() { # seconds, pages (space-separated), arguments...
  local secs=$1 pages=$2 port pid st ok=1; shift 2
  port=$(free_port)
  "$wrapper" "$@" --listen "127.0.0.1:$port" >"$work/out.txt" 2>&1 &
  pid=$!
  sleep "$secs"
  for p in $pages; do
    curl -sf -o /dev/null "http://127.0.0.1:$port$p" || { ok=0; echo "  GET $p failed"; }
  done
  kill -TERM "$pid"; wait "$pid"; st=$?
  if [ $ok -eq 1 ] && [ $st -eq 0 ]; then
    echo "ok   podprof $* (served $pages)"; pass=$((pass + 1))
  else
    echo "FAIL podprof $* (status $st)"; tail -5 "$work/out.txt"; fail=$((fail + 1))
  fi
}
serve 8 "/metrics /processes /healthz" node --interval 2s --proc-root "$work/proc" \
  --profiles-endpoint "http://127.0.0.1:$cport/v1/profiles" --spool-dir "$work/spool-node"
serve 8 "/metrics /targets /targets?format=json" cluster --scrape-interval 3s \
  --scrape-cpu-duration 1s --target "http://127.0.0.1:$(cat "$work/srv.port")" \
  --profiles-endpoint "http://127.0.0.1:$cport/v1/profiles" --spool-dir "$work/spool-cluster"
kill "$hg" "$np" "$srv" "$fc" 2>/dev/null
wait 2>/dev/null
check_reports
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
