#!/bin/sh
# install-deps.sh: installs the Debian 12 packages h2bridge needs to build
# (and, with --test, to run its test suite).  Only what is missing is fetched.
set -eu
build="build-essential autoconf automake libtool pkg-config libev-dev libssl-dev
 libnghttp2-dev libyaml-dev libwebsockets-dev libcunit1-dev openssl"
test="curl nghttp2-client nghttp2-server nghttp2-proxy python3 python3-pytest python3-h2
 python3-hyperframe python3-hpack haproxy clang-14 libclang-rt-14-dev procps chromium slowhttptest"
want=$build
[ "${1:-}" = "--test" ] && want="$build $test"
missing=""
for p in $want; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "install-deps: installing:$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $missing
fi
if [ "${1:-}" = "--test" ]; then
  # Node peers (ws, http2) for the WebSocket tests; node itself from Debian if absent.
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    apt-get install -y -qq --no-install-recommends nodejs npm
  fi
  here=$(cd "$(dirname "$0")/.." && pwd)
  if [ ! -d "$here/tests/node/node_modules/ws" ]; then
    echo "install-deps: npm install in tests/node"
    (cd "$here/tests/node" && npm install --no-audit --no-fund --silent)
  fi
fi
