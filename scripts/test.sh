#!/usr/bin/env bash
# Runs podprof's whole test suite: installs what is missing (scripts/deps.sh), builds
# and tests a plain build, then builds and tests again under AddressSanitizer +
# UndefinedBehaviorSanitizer. Go test programs are built once per toolchain into
# build/go-programs and shared by both runs. Benchmarks run in the plain build, a short
# run of every fuzzer after the sanitizer tests (scripts/fuzz.sh --ci). Then the tests of
# the threaded paths under ThreadSanitizer (build/tsan), and the unit tests and podprof's
# own short runs under valgrind's memcheck (scripts/valgrind.sh --quick).
#
#   scripts/test.sh            everything
#   scripts/test.sh -R REGEX   only the tests whose names match (both builds)
set -uo pipefail
cd "$(dirname "$0")/.."
top=$PWD

scripts/deps.sh || exit 1

jobs=$(nproc 2>/dev/null || echo 2)
gocache=$top/build/go-programs
total_pass=0 total_fail=0

run_build() { # name, extra cmake args...
  local name=$1; shift
  local dir=$top/build/$name
  echo "=== $name build"
  cmake -S "$top" -B "$dir" -DPODPROF_GO_CACHE="$gocache" -DPODPROF_WERROR=ON "$@" \
    >/dev/null || return 1
  cmake --build "$dir" -j"$jobs" >/dev/null || cmake --build "$dir" -j1 || return 1
}

# The output of a stage with a failed test is kept under build/failures, named by the
# time of the run and the stage: a rerun never overwrites it (ctest's own
# Testing/Temporary/LastTest.log is rewritten at every run; a failed test's temporary
# directory under /tmp is left in place, named in its output).
failures=$top/build/failures
run_stamp=$(date -u +%Y%m%dT%H%M%SZ)-$$

run_tests() { # name, ctest args...
  local name=$1; shift
  local dir=$top/build/$name log kept
  log=$(mktemp)
  echo "=== $name tests"
  ctest --test-dir "$dir" --output-on-failure -j"$jobs" "$@" 2>&1 | tee "$log"
  local pass fail
  pass=$(grep -Eo '^[0-9]+% tests passed, [0-9]+ tests failed out of [0-9]+' "$log" |
         awk '{print $NF - $4}')
  fail=$(grep -Eo '^[0-9]+% tests passed, [0-9]+ tests failed out of [0-9]+' "$log" |
         awk '{print $4}')
  # skipped tests (fuzz_short without clang) did not pass; no test selected is no failure
  pass=$((${pass:-0} - $(grep -cE '^[[:space:]]*[0-9]+ - .*\(Skipped\)$' "$log")))
  if [ -z "$fail" ]; then
    pass=0 fail=1
    grep -q '^No tests were found' "$log" && fail=0
  fi
  total_pass=$((total_pass + pass)); total_fail=$((total_fail + fail))
  if [ "$fail" -gt 0 ]; then
    mkdir -p "$failures"
    kept=$failures/$run_stamp-$name-$(echo "$*" | tr -c 'A-Za-z0-9_.-' '_' | cut -c1-60).log
    cp "$log" "$kept"
    cp "$dir/Testing/Temporary/LastTest.log" "${kept%.log}.LastTest.log" 2>/dev/null
    echo "=== $name: the output of this run is kept in $kept"
  fi
  rm -f "$log"
}

filter=("$@")
if run_build plain; then
  run_tests plain -L 'unit|integration' "${filter[@]}"
  # benchmarks measure ratios: one at a time, nothing else running
  run_tests plain -L bench -j1 -V "${filter[@]}"
else
  echo "plain build failed"; total_fail=$((total_fail + 1))
fi
if run_build asan -DPODPROF_SANITIZE=ON; then
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
    run_tests asan -L 'unit|integration' "${filter[@]}"
  # every fuzzer for a few seconds (clang + libFuzzer, ASan + UBSan, in build/fuzz)
  run_tests asan -L fuzz "${filter[@]}"
else
  echo "sanitizer build failed"; total_fail=$((total_fail + 1))
fi

# Release builds as packagers and image builders make them (gcc -O3 and clang -O3), with
# warnings as errors: the code compiles without a warning at every optimisation level.
# The unit tests run in the gcc one (optimisations change what undefined code does).
if run_build release -DCMAKE_BUILD_TYPE=Release; then
  run_tests release -L unit "${filter[@]}"
else
  echo "Release build (gcc) failed"; total_fail=$((total_fail + 1))
fi
if command -v clang >/dev/null 2>&1; then
  if ! CC=clang run_build release-clang -DCMAKE_BUILD_TYPE=Release; then
    echo "Release build (clang) failed"; total_fail=$((total_fail + 1))
  fi
fi

# ThreadSanitizer over the threaded paths (uploader, scraper, metrics, HTTP server,
# reflectors, both roles under faults): podprof and the tests built with
# -fsanitize=thread; every report of every process goes to a file, and any one fails.
tsan_tests=(test_metrics test_httpserver test_k8s_stream test_scraper test_scraper_fetch
            test_uploader test_uploader_spool test_k8s_converge test_upload_outage
            test_upload_bad_peer test_scrape_go test_scrape_targets test_fault_peers
            test_fault_kill)
tsan_regex="^($(IFS='|'; echo "${tsan_tests[*]}"))\$"
tsan_dir=$top/build/tsan
echo "=== tsan build"
if cmake -S "$top" -B "$tsan_dir" -DPODPROF_GO_CACHE="$gocache" -DPODPROF_TSAN=ON \
     -DPODPROF_WERROR=ON >/dev/null &&
   cmake --build "$tsan_dir" -j"$jobs" --target podprof "${tsan_tests[@]}" >/dev/null; then
  rm -rf "$tsan_dir/reports" && mkdir -p "$tsan_dir/reports"
  TSAN_OPTIONS="log_path=$tsan_dir/reports/tsan suppressions=$top/scripts/tsan.supp" \
    run_tests tsan -R "$tsan_regex" "${filter[@]}"
  if [ -n "$(ls -A "$tsan_dir/reports")" ]; then
    echo "ThreadSanitizer reports:"; cat "$tsan_dir/reports"/*
    total_fail=$((total_fail + 1))
  fi
else
  echo "ThreadSanitizer build failed"; total_fail=$((total_fail + 1))
fi

# memcheck: the unit tests and podprof's own short runs (the whole suite under valgrind
# is scripts/valgrind.sh, far too slow for this)
if [ ${#filter[@]} -eq 0 ]; then
  log=$(mktemp)
  echo "=== valgrind (memcheck)"
  PODPROF_VALGRIND_BUILD=$top/build/plain scripts/valgrind.sh --quick 2>&1 | tee "$log"
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -1)
  if [ -n "$line" ]; then
    total_pass=$((total_pass + $(echo "$line" | awk '{print $1}')))
    total_fail=$((total_fail + $(echo "$line" | awk '{print $3}')))
  else
    total_fail=$((total_fail + 1))
  fi
  rm -f "$log"
fi
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
