#!/usr/bin/env bash
# Fuzzing: builds podprof's libFuzzer targets (tests/fuzz/fuzz_*.c) with clang, the whole
# of podprof instrumented under AddressSanitizer + UndefinedBehaviorSanitizer, in
# build/fuzz, and runs every target (or the ones named) for a while, as many at a time
# as there are cores.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]   default 600 s each, every target
#   scripts/fuzz.sh --ci                               a few seconds each (the suite's
#                                                      fuzz_short test; 77 without clang)
#   scripts/fuzz.sh --list                             the targets
#
# Environment: PODPROF_FUZZ_DIR (build directory, default build/fuzz), PODPROF_FUZZ_JOBS
# (fuzzers at a time, default the number of cores).
#
# Each target starts from its seeds (tests/fuzz/corpus/<target>/) and the inputs that
# once crashed it (tests/fuzz/regressions/<target>/); what it discovers is kept in
# <build>/corpus/<target>/ for the next run. A crash, a failed check, a leak or a
# timeout leaves the input in <build>/crashes/<target>/ and makes the script exit 1:
# reproduce it with `<build>/tests/fuzz/fuzz_<target> FILE`, fix the code, and copy the
# input to tests/fuzz/regressions/<target>/ so that every test run replays it.
set -uo pipefail
cd "$(dirname "$0")/.."
top=$PWD

ci=0
seconds=600
case ${1:-} in
  --ci) ci=1; seconds=6; shift ;;
  --list) ls tests/fuzz/fuzz_*.c | sed -E 's|.*/fuzz_(.*)\.c|\1|' | grep -v '^support$'; exit 0 ;;
  -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  ''|*[!0-9]*) ;;
  *) seconds=$1; shift ;;
esac
mapfile -t all < <(ls tests/fuzz/fuzz_*.c | sed -E 's|.*/fuzz_(.*)\.c|\1|' | grep -v '^support$')
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${all[@]}")
for t in "${targets[@]}"; do
  if [ ! -f "tests/fuzz/fuzz_$t.c" ]; then
    echo "fuzz.sh: no target '$t' (see --list)" >&2
    exit 2
  fi
done

build=${PODPROF_FUZZ_DIR:-$top/build/fuzz}
jobs=${PODPROF_FUZZ_JOBS:-$(nproc 2>/dev/null || echo 2)}

# clang with libFuzzer (Debian: clang and libclang-rt-14-dev, in scripts/deps.sh)
probe=$(mktemp -d)
printf '#include <stddef.h>\n#include <stdint.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { return d && n ? 0 : 0; }\n' >"$probe/p.c"
if ! command -v clang >/dev/null 2>&1 ||
   ! clang -fsanitize=fuzzer,address,undefined "$probe/p.c" -o "$probe/p" 2>/dev/null; then
  rm -rf "$probe"
  echo "fuzz.sh: clang cannot link libFuzzer (install clang and libclang-rt-14-dev)" >&2
  [ $ci -eq 1 ] && exit 77
  exit 1
fi
rm -rf "$probe"

start=$(date +%s)
echo "=== fuzz build ($build)"
if ! cmake -S "$top" -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
       -DPODPROF_SANITIZE=ON -DPODPROF_FUZZ_BUILD=ON -DPODPROF_WERROR=ON \
       -DCMAKE_C_FLAGS="-fsanitize=fuzzer-no-link" >"$build.configure.log" 2>&1; then
  cat "$build.configure.log"; exit 1
fi
rm -f "$build.configure.log"
if ! cmake --build "$build" --target fuzz_all -j"$jobs" >/dev/null 2>&1; then
  cmake --build "$build" --target fuzz_all -j1 2>&1 | tail -40
  exit 1
fi
echo "built in $(( $(date +%s) - start )) s; ${#targets[@]} targets, $seconds s each, $jobs at a time"

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
mkdir -p "$build/logs"

run_one() { # target
  local t=$1 corpus=$build/corpus/$1 crashes=$build/crashes/$1 seeds
  mkdir -p "$corpus" "$crashes"
  seeds=("tests/fuzz/corpus/$t")
  [ -d "tests/fuzz/regressions/$t" ] && seeds+=("tests/fuzz/regressions/$t")
  # -close_fd_mask=2: the code's own stderr goes away, libFuzzer's and the
  # sanitizers' reports stay; -rss_limit_mb: a hostile input must not make us grow
  "$build/tests/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=30 -rss_limit_mb=2048 \
    -print_final_stats=1 -close_fd_mask=2 \
    -artifact_prefix="$crashes/" "$corpus" "${seeds[@]}" \
    >"$build/logs/$t.log" 2>&1
}

declare -A status
pids=()
names=()
for t in "${targets[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
    sleep 0.2
  done
  run_one "$t" &
  pids+=($!)
  names+=("$t")
done
failed=0
for i in "${!pids[@]}"; do
  wait "${pids[$i]}"
  status[${names[$i]}]=$?
done

for t in "${targets[@]}"; do
  log=$build/logs/$t.log
  runs=$(grep -Eo 'stat::number_of_executed_units: [0-9]+' "$log" | awk '{print $2}')
  cov=$(grep -Eo '(DONE|INITED) +cov: [0-9]+' "$log" | tail -1 | awk '{print $NF}')
  corp=$(find "$build/corpus/$t" -type f | wc -l)
  if [ "${status[$t]}" -eq 0 ]; then
    printf '%-14s ok     %9s runs  coverage %5s  corpus %5s\n' "$t" "${runs:-?}" "${cov:-?}" "$corp"
  else
    failed=$((failed + 1))
    printf '%-14s FAILED (exit %s); log %s, input in %s/crashes/%s/\n' "$t" "${status[$t]}" \
      "$log" "$build" "$t"
    grep -E 'ERROR: |SUMMARY: |check failed|runtime error' "$log" | head -5 | sed 's/^/    /'
  fi
done
echo "fuzzing took $(( $(date +%s) - start )) s; $failed of ${#targets[@]} targets failed"
[ $failed -eq 0 ]
