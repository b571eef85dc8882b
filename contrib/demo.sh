#!/bin/sh
# demo.sh: the README's first command.  Installs what is missing, builds
# h2bridge, starts the demo backend and runs h2bridge on config/h2bridge.yaml
# in the foreground (Ctrl-C stops both).
set -eu
cd "$(dirname "$0")/.."
contrib/install-deps.sh
if [ ! -x ./h2bridge ] || [ ! -f Makefile ]; then
  ./autogen.sh
  ./configure
fi
make -j"$(nproc)"
/usr/bin/python3 contrib/demo-backend.py 9001 &
backend=$!
trap 'kill $backend 2>/dev/null' EXIT INT TERM
echo "demo: https://127.0.0.1:8443/ (h2, self-signed certificate in run/) and http://127.0.0.1:8080/"
./h2bridge -c config/h2bridge.yaml
