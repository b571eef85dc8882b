#!/bin/sh
# run-all.sh: the README's second command, and what CI runs.  Installs what is
# missing, then builds and runs every test three ways: a plain build
# (make check: unit + integration), an ASan+UBSan build (the same suite), and
# the libFuzzer targets replaying their seed corpora (clang-14).
# Prints a closing "tests: N passed, N failed" line; exits non-zero on failure.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
contrib/install-deps.sh --test || exit 1
[ -x configure ] || ./autogen.sh >/dev/null 2>&1 || { echo "autogen failed"; exit 1; }
jobs=$(nproc 2>/dev/null || echo 2)
passed=0 failed=0 status=0

count() { # $1: build dir
  for log in "$1/tests/unit/unit_tests.log" "$1/tests/integration/run.sh.log" "$1/tests/conformance/run.sh.log"; do
    [ -f "$log" ] || continue
    p=$(grep -Eo '([0-9]+) passed' "$log" | tail -1 | grep -Eo '[0-9]+' || true)
    f=$(grep -Eo '([0-9]+) failed' "$log" | tail -1 | grep -Eo '[0-9]+' || true)
    passed=$((passed + ${p:-0}))
    failed=$((failed + ${f:-0}))
  done
}

build_and_check() { # $1: dir, rest: configure flags
  dir=$1; shift
  echo "=== $dir: configure $*"
  mkdir -p "$dir"
  if ! (cd "$dir" && "$top/configure" "$@" >configure.out 2>&1 && make -j"$jobs" >make.out 2>&1); then
    echo "build failed in $dir:"; tail -40 "$dir/make.out" "$dir/configure.out" 2>/dev/null
    status=1; failed=$((failed + 1)); return
  fi
  if (cd "$dir" && make check); then
    echo "=== $dir: make check passed"
  else
    echo "=== $dir: make check FAILED"; cat "$dir/test-suite.log" 2>/dev/null | tail -200
    status=1
  fi
  count "$dir"
}

build_and_check build --enable-werror
# ASan's shadow memory and quarantine raise RSS; the slow-reader bounds are
# about h2bridge's buffering, so give the sanitizer its overhead.
H2BRIDGE_RSS_LIMIT_MIB=256 build_and_check build-asan --enable-asan CC=clang-14

echo "=== build-fuzz: corpus replay"
mkdir -p build-fuzz
if (cd build-fuzz && "$top/configure" --enable-fuzz CC=clang-14 >configure.out 2>&1 &&
    make -j"$jobs" tests/fuzz/fuzz_h1 tests/fuzz/fuzz_config tests/fuzz/fuzz_h2x_frame tests/fuzz/fuzz_h2x_conn >make.out 2>&1 && make check-fuzz >fuzz.out 2>&1); then
  echo "=== fuzz corpus replay passed"; passed=$((passed + 2))
else
  echo "=== fuzz corpus replay FAILED"; tail -40 build-fuzz/make.out build-fuzz/fuzz.out 2>/dev/null
  status=1; failed=$((failed + 1))
fi

[ $failed -gt 0 ] && status=1
echo "tests: $passed passed, $failed failed"
exit $status
