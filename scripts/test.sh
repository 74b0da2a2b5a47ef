#!/usr/bin/env bash
# Runs podprof's whole test suite: installs what is missing (scripts/deps.sh), builds
# and tests a plain build, then builds and tests again under AddressSanitizer +
# UndefinedBehaviorSanitizer. Go test programs are built once per toolchain into
# build/go-programs and shared by both runs. Benchmarks run in the plain build.
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
  cmake -S "$top" -B "$dir" -DPODPROF_GO_CACHE="$gocache" "$@" >/dev/null || return 1
  cmake --build "$dir" -j"$jobs" >/dev/null || cmake --build "$dir" -j1 || return 1
}

run_tests() { # name, ctest args...
  local name=$1; shift
  local dir=$top/build/$name log
  log=$(mktemp)
  echo "=== $name tests"
  ctest --test-dir "$dir" --output-on-failure -j"$jobs" "$@" 2>&1 | tee "$log"
  local pass fail
  pass=$(grep -Eo '^[0-9]+% tests passed, [0-9]+ tests failed out of [0-9]+' "$log" |
         awk '{print $NF - $4}')
  fail=$(grep -Eo '^[0-9]+% tests passed, [0-9]+ tests failed out of [0-9]+' "$log" |
         awk '{print $4}')
  if [ -z "$pass" ]; then pass=0; fail=1; fi
  total_pass=$((total_pass + pass)); total_fail=$((total_fail + fail))
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
else
  echo "sanitizer build failed"; total_fail=$((total_fail + 1))
fi
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
