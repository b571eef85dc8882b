#!/bin/bash
# reverse.sh: issue-4 benchmark (not a test).  h2load drives the same
# workload (small GETs, h2 over TLS at the front) through three chains:
#   rh2:     client -> h2bridge gateway -> rh2 -> h2bridge connector -> nghttpd
#   forward: client -> h2bridge -> h2 (TLS) -> h2bridge -> nghttpd
#   nghttpx: client -> nghttpx -> h2 (TLS) -> nghttpx -> nghttpd
# (every chain has TLS on both of its legs, like rh2 must)
# and prints requests/s, p50/p99 latency and proxy CPU µs per request (both
# proxies of a chain summed, from /proc utime+stime).
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
H2B=${H2BRIDGE:-$top/h2bridge}
N=${N:-60000}; C=${C:-4}; M=${M:-32}; ROUNDS=${ROUNDS:-5}
# ENGINE=h2x runs every h2bridge HTTP/2 leg (both ends of rh2, and of the
# forward chain's h2) on h2bridge's own engine instead of nghttp2.
ENGINE=${ENGINE:-nghttp2}
w=$(mktemp -d /tmp/h2b-rbench.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$w"' EXIT
sh "$top/tests/data/gen-certs.sh" "$w" >/dev/null 2>&1
mkdir -p "$w/doc"; head -c 512 /dev/urandom > "$w/doc/small"
printf 'benchtoken' > "$w/token"
th=$(printf 'benchtoken' | sha256sum | cut -d' ' -f1)
port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.05; done; return 1; }
# CPU ticks of a process and its children (nghttpx runs its workers in a
# child process).
cpu() { local t=0 p; for p in $1 $(pgrep -P "$1"); do t=$((t + $(awk '{print $14+$15}' /proc/$p/stat))); done; echo $t; }
BE=$(port); nghttpd --no-tls -d "$w/doc" "$BE" >/dev/null 2>&1 & wait_port $BE

run() { # name front_port pid1 pid2
  local name=$1 fport=$2 p1=$3 p2=$4
  h2load -n 2000 -c "$C" -m "$M" -H ':authority: app.example.com' "https://127.0.0.1:$fport/small" >/dev/null 2>&1
  local c0=$(( $(cpu $p1) + $(cpu $p2) ))
  local out; out=$(h2load -n "$N" -c "$C" -m "$M" --log-file="$w/$name.log" -H ':authority: app.example.com' "https://127.0.0.1:$fport/small" 2>&1)
  local c1=$(( $(cpu $p1) + $(cpu $p2) ))
  local hz; hz=$(getconf CLK_TCK)
  local rps; rps=$(echo "$out" | awk '/^finished in/ {print $4}')
  local ok; ok=$(echo "$out" | awk '/^requests:/ {print $8}')
  local lat; lat=$(sort -n -k3 "$w/$name.log" | awk '{a[NR]=$3} END {printf "%d %d", a[int(NR*0.5)], a[int(NR*0.99)]}')
  local cpu_us; cpu_us=$(awk -v d=$((c1-c0)) -v hz=$hz -v n=$N 'BEGIN {printf "%.2f", d*1e6/hz/n}')
  printf '%-8s %10s %8s %10s %10s %12s\n' "$name" "$rps" "$ok" ${lat% *} ${lat#* } "$cpu_us"
  echo "$name $cpu_us" >> "$w/cpu"
}

echo "# h2bridge HTTP/2 engine: $ENGINE"
printf '%-8s %10s %8s %10s %10s %12s\n' chain req/s ok p50_us p99_us cpu_us/req
# Each round runs the three chains one after another (fresh processes), so
# drift on a shared machine hits all three alike; the ratios use each
# chain's median over ROUNDS.  (The loop body is not indented: heredocs.)
for round in $(seq "$ROUNDS"); do
# The gateway route and the h2 upstreams need SNI/authority localhost certs: gen-certs.sh makes them.
# rh2 chain
G=$(port); cat > "$w/gw.yaml" <<Y
log: { level: error, access: off }
certificates: [ { name: s, cert: $w/server.pem, key: $w/server.key } ]
listeners: [ { name: gw, listen: 127.0.0.1:$G, engine: $ENGINE, tls: { certificates: [s], alpn: [h2, http/1.1, rh2] } } ]
origins:
  - { name: app, protocols: [rh2], authorities: [app.example.com], auth: { path: /auth, token_sha256: [$th] }, wait_for_origin: 5s }
routes: [ { match: { authority: app.example.com }, to: { origin: app } } ]
Y
cat > "$w/co.yaml" <<Y
log: { level: error, access: off }
connectors:
  - { name: k, gateways: [127.0.0.1:$G], protocol: rh2, tls: { sni: localhost, ca: $w/ca.pem }, token_file: $w/token, authorities: [app.example.com], connections: 2, engine: $ENGINE }
upstreams: [ { name: be, address: 127.0.0.1:$BE, protocol: h2c, engine: $ENGINE } ]
routes: [ { match: { connector: k }, to: { upstream: be } } ]
Y
"$H2B" -c "$w/gw.yaml" & g=$!; wait_port $G; "$H2B" -c "$w/co.yaml" & k=$!; sleep 1
run rh2 $G $g $k; kill $g $k; wait $g $k 2>/dev/null
# forward chain
F=$(port); S=$(port); cat > "$w/f1.yaml" <<Y
log: { level: error, access: off }
certificates: [ { name: s, cert: $w/server.pem, key: $w/server.key } ]
listeners: [ { name: f, listen: 127.0.0.1:$F, engine: $ENGINE, tls: { certificates: [s] } } ]
upstreams: [ { name: s2, address: 127.0.0.1:$S, protocol: h2, engine: $ENGINE, tls: { ca: $w/ca.pem, sni: localhost } } ]
routes: [ { to: { upstream: s2 } } ]
Y
cat > "$w/f2.yaml" <<Y
log: { level: error, access: off }
certificates: [ { name: s, cert: $w/server.pem, key: $w/server.key } ]
listeners: [ { name: s, listen: 127.0.0.1:$S, engine: $ENGINE, tls: { certificates: [s] } } ]
upstreams: [ { name: be, address: 127.0.0.1:$BE, protocol: h2c, engine: $ENGINE } ]
routes: [ { to: { upstream: be } } ]
Y
"$H2B" -c "$w/f2.yaml" & a=$!; wait_port $S; "$H2B" -c "$w/f1.yaml" & b=$!; wait_port $F
run forward $F $b $a; kill $a $b; wait $a $b 2>/dev/null
# nghttpx chain
X=$(port); Y=$(port)
nghttpx --backend="127.0.0.1,$BE;;proto=h2" --frontend="127.0.0.1,$Y" --workers=1 --no-via --errorlog-file=/dev/null --accesslog-file=/dev/null --conf=/dev/null "$w/server.key" "$w/server.pem" 2>/dev/null & n2=$!
nghttpx --backend="127.0.0.1,$Y;;proto=h2;tls;sni=localhost" --cacert="$w/ca.pem" --frontend="127.0.0.1,$X" --workers=1 --no-via --errorlog-file=/dev/null --accesslog-file=/dev/null --conf=/dev/null "$w/server.key" "$w/server.pem" 2>/dev/null & n1=$!
wait_port $X; wait_port $Y; sleep 0.5
run nghttpx $X $n1 $n2; kill $n1 $n2; wait $n1 $n2 2>/dev/null
done
awk -v r="$ROUNDS" '
  { v[$1, ++n[$1]] = $2 }
  function med(k,   i, j, t, a, c) { c = n[k]; for (i = 1; i <= c; i++) a[i] = v[k, i]
    for (i = 1; i <= c; i++) for (j = i + 1; j <= c; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
    return c % 2 ? a[(c + 1) / 2] : (a[c / 2] + a[c / 2 + 1]) / 2 }
  END { printf "median cpu_us/req over %d rounds: rh2 %.2f, forward %.2f, nghttpx %.2f\n", r, med("rh2"), med("forward"), med("nghttpx")
        printf "ratios: rh2/forward cpu x%.2f (target <= 1.10), rh2/nghttpx cpu x%.2f (target < 1)\n", med("rh2") / med("forward"), med("rh2") / med("nghttpx") }' "$w/cpu"
