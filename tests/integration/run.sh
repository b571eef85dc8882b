#!/bin/sh
# Runs the integration tests from the repository root. Exit status is pytest's;
# 77 (skip) only when /usr/bin/python3 has no pytest. The binary is $H2BRIDGE
# (default <repo>/h2bridge). Extra arguments go to pytest (e.g. -k smuggling);
# when one of them names tests (tests/...), only those run.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
if ! /usr/bin/python3 -c 'import pytest' 2>/dev/null; then
  echo "run.sh: /usr/bin/python3 has no pytest (apt-get install python3-pytest); skipping" >&2
  exit 77
fi
cd "$root" || exit 1
target=tests/integration
for a in "$@"; do
  case $a in tests/*) target= ;; esac
done
exec /usr/bin/python3 -m pytest -p no:cacheprovider -q -ra "$@" $target
