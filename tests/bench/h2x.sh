#!/bin/bash
# h2x.sh: issue-5 benchmark (not a test).  The same h2load workload (small
# GETs, h2c) through h2bridge with `engine: nghttp2` and with `engine: h2x`
# on the client side, to an h2c upstream (nghttpd; the upstream leg on the
# same engine) and to an HTTP/1.1 upstream (nghttpx's HTTP/1.1 front in front
# of the same nghttpd; only h2bridge's CPU is counted); prints
# requests/s and h2bridge CPU µs per request, alternating the engines ROUNDS
# times so both see the same machine.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
H2B=${H2BRIDGE:-$top/h2bridge}
N=${N:-100000}; C=${C:-4}; M=${M:-32}; ROUNDS=${ROUNDS:-2}
w=$(mktemp -d /tmp/h2b-h2xbench.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$w"' EXIT
port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.05; done; return 1; }
cpu() { awk '{print $14+$15}' /proc/$1/stat; }
mkdir -p "$w/doc"; head -c 512 /dev/urandom > "$w/doc/small"
NG=$(port); nghttpd --no-tls -d "$w/doc" "$NG" >/dev/null 2>&1 & wait_port $NG
H1=$(port); nghttpx --backend="127.0.0.1,$NG;;proto=h2" --frontend="127.0.0.1,$H1;no-tls" --workers=1 --no-via \
  --errorlog-file=/dev/null --accesslog-file=/dev/null --conf=/dev/null >/dev/null 2>&1 & wait_port $H1
printf '%-8s %-10s %10s %12s\n' engine upstream req/s cpu_us/req
for r in $(seq "$ROUNDS"); do
  for eng in nghttp2 h2x; do
    for up in h2c http/1.1; do
      P=$(port)
      if [ "$up" = h2c ]; then ups="{ name: u, address: 127.0.0.1:$NG, protocol: h2c, engine: $eng }"
      else ups="{ name: u, address: 127.0.0.1:$H1, protocol: http/1.1 }"; fi
      cat > "$w/c.yaml" <<Y
log: { level: error, access: off }
listeners: [ { name: l, listen: 127.0.0.1:$P, engine: $eng } ]
upstreams: [ $ups ]
routes: [ { to: { upstream: u } } ]
Y
      "$H2B" -c "$w/c.yaml" & pid=$!; wait_port $P
      h2load -n 2000 -c "$C" -m "$M" "http://127.0.0.1:$P/small" >/dev/null 2>&1
      c0=$(cpu $pid)
      out=$(h2load -n "$N" -c "$C" -m "$M" "http://127.0.0.1:$P/small" 2>&1)
      c1=$(cpu $pid)
      rps=$(echo "$out" | awk '/^finished in/ {print $4}')
      us=$(awk -v d=$((c1-c0)) -v hz="$(getconf CLK_TCK)" -v n="$N" 'BEGIN {printf "%.2f", d*1e6/hz/n}')
      printf '%-8s %-10s %10s %12s\n' "$eng" "$up" "$rps" "$us"
      echo "$eng $up $us" >> "$w/res"
      kill $pid; wait $pid 2>/dev/null
    done
  done
done
awk '{k = $1 " " $2; s[k] += $3; n[k]++}
  END { for (u = 1; u <= 2; u++) { up = u == 1 ? "h2c" : "http/1.1"; a = s["nghttp2 " up] / n["nghttp2 " up]; b = s["h2x " up] / n["h2x " up]
          printf "to %-8s mean cpu_us/req: nghttp2 %.2f, h2x %.2f, ratio h2x/nghttp2 x%.2f\n", up, a, b, b / a } }' "$w/res"
