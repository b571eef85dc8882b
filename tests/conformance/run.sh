#!/bin/sh
# Runs the RFC 9113 conformance suite from the repository root: server role
# against nghttpd, h2bridge-nghttp2 (and h2bridge-h2x with H2X=1, as make
# check does), client role against h2bridge's nghttp2 and h2x upstream sides. Extra
# arguments go to pytest (e.g. -k hpack, -v). The binary is $H2BRIDGE
# (default <repo>/h2bridge). Exit status is pytest's; 77 without pytest.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
if ! /usr/bin/python3 -c 'import pytest, hpack, hyperframe' 2>/dev/null; then
  echo "run.sh: /usr/bin/python3 lacks pytest/hpack/hyperframe (apt-get install python3-pytest python3-hpack python3-hyperframe); skipping" >&2
  exit 77
fi
cd "$root" || exit 1
exec /usr/bin/python3 -m pytest -p no:cacheprovider -q tests/conformance "$@"
