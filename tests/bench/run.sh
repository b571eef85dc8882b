#!/usr/bin/env bash
# tests/bench/run.sh: WebSocket proxy benchmark. h2bridge against nghttpx and
# HAProxy (the anchors) and a bare byte relay (the floor), on the same
# workloads, with the same C load generator and C echo backend.
# Not part of make check. Prints a table and writes tests/bench/results.txt.
#
# Environment knobs (defaults in brackets):
#   DUR [5]        seconds per closed-loop throughput cell
#   LAT_DUR [3]    seconds per open-loop latency cell
#   RATE [5000]    messages/s of the open-loop latency cells
#   TUNNELS [64]   tunnels per cell (h2c: 1 connection x TUNNELS streams;
#                  h1: TUNNELS connections)
#   IDLE [10000]   idle tunnels for the RSS-per-tunnel runs (h2c->h1)
#   IDLE_H1 [9000] idle tunnels for h1->h1 (each costs a proxy 2 fds; the
#                  hard fd limit here is 20000)
#   PORT_BASE [27400]  (moved up by 100 until 100 ports from it are free)
#   ONLY           space-separated subset of: h2bridge nghttpx haproxy relay direct
#   H2BRIDGE [../../h2bridge]
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
DUR=${DUR:-5}
LAT_DUR=${LAT_DUR:-3}
RATE=${RATE:-5000}
TUNNELS=${TUNNELS:-64}
IDLE=${IDLE:-10000}
IDLE_H1=${IDLE_H1:-9000}
PORT_BASE=${PORT_BASE:-27400}
ONLY=${ONLY:-"direct h2bridge nghttpx haproxy relay"}
H2BRIDGE=${H2BRIDGE:-$ROOT/h2bridge}
OUT=${OUT:-$HERE/results.txt}
WORK=$(mktemp -d /tmp/h2bridge-bench.XXXXXX)
JSONL=$WORK/results.jsonl

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
ulimit -c 0

make -s -C "$HERE" all || exit 1
[ -x "$H2BRIDGE" ] || make -s -C "$ROOT" -j2 h2bridge || exit 1
# Run a snapshot: a rebuild of the tree's binary during the run must not break it.
cp "$H2BRIDGE" "$WORK/h2bridge" || exit 1
H2BRIDGE=$WORK/h2bridge
mkdir -p "$WORK/bin" && cp "$HERE/wsload" "$HERE/wsecho" "$HERE/relay" "$WORK/bin/" || exit 1
BIN=$WORK/bin
for t in nghttpx haproxy; do
    command -v $t >/dev/null || { echo "run.sh: $t not found; skipping it" >&2; ONLY=${ONLY//$t/}; }
done
want() { [[ " $ONLY " == *" $1 "* ]]; }

# Other programs on this machine may listen nearby: find 100 free ports.
while ss -Hltn | awk '{print $4}' | sed 's/.*://' |
      awk -v b="$PORT_BASE" '$1 >= b && $1 < b + 100 {f = 1} END {exit !f}'; do
    PORT_BASE=$((PORT_BASE + 100))
done
BE_H1=$((PORT_BASE + 1))
BE_H2=$((PORT_BASE + 2))
next_port=$((PORT_BASE + 10))
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; }
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_listen() { # port
    for _ in $(seq 1 100); do
        ss -Hltn "sport = :$1" 2>/dev/null | grep -q . && return 0
        sleep 0.05
    done
    echo "run.sh: nothing listens on $1" >&2
    return 1
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
status_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
TCK=$(getconf CLK_TCK)

# ---- the echo backend (shared by every cell) ----
"$BIN/wsecho" --h1 127.0.0.1:$BE_H1 --h2 127.0.0.1:$BE_H2 >"$WORK/wsecho.log" 2>&1 &
PIDS+=($!)
wait_listen $BE_H1 && wait_listen $BE_H2 || exit 1

# ---- proxies: start_<name> PORT -> sets PPID_ ----
start_h2bridge() {
    cat >"$WORK/h2bridge.yaml" <<EOF
log: { level: error, access: off }
listeners:
  - { name: plain, listen: 127.0.0.1:$1, max_connections: 20000 }
upstreams:
  - { name: wsh1, address: 127.0.0.1:$BE_H1, protocol: http/1.1, max_connections: 20000 }
  - { name: wsh2, address: 127.0.0.1:$BE_H2, protocol: h2c, max_connections: 20000 }
routes:
  - { match: { path: /h2/, protocol: websocket }, to: { upstream: wsh2 } }
  - { match: { path: /, protocol: websocket }, to: { upstream: wsh1 } }
EOF
    "$H2BRIDGE" -c "$WORK/h2bridge.yaml" >>"$WORK/h2bridge.log" 2>&1 &
    PPID_=$!
}
start_nghttpx() {
    sed -e "s/@PORT@/$1/; s/@BE_H1@/$BE_H1/; s/@BE_H2@/$BE_H2/; s|@LOG@|$WORK/nghttpx.log|" \
        "$HERE/nghttpx.conf.in" >"$WORK/nghttpx.conf"
    nghttpx --conf="$WORK/nghttpx.conf" >>"$WORK/nghttpx.log" 2>&1 &
    PPID_=$!
}
start_haproxy() {
    sed -e "s/@PORT@/$1/; s/@BE_H1@/$BE_H1/; s/@BE_H2@/$BE_H2/" \
        "$HERE/haproxy.cfg.in" >"$WORK/haproxy.cfg"
    haproxy -db -f "$WORK/haproxy.cfg" >>"$WORK/haproxy.log" 2>&1 &
    PPID_=$!
}
start_relay() {
    "$BIN/relay" 127.0.0.1:$1 127.0.0.1:$BE_H1 >>"$WORK/relay.log" 2>&1 &
    PPID_=$!
}

# Client shapes: h2c = 1 connection x TUNNELS streams; h1 = TUNNELS connections.
client_args() { # h2c|h1
    if [ "$1" = h2c ]; then echo "--h2 1 --streams $TUNNELS"; else echo "--h1 $TUNNELS"; fi
}
# Route path per backend protocol.
path_for() { if [ "$1" = h2c ]; then echo /h2/; else echo /; fi; }

# cell KIND PROXY PATH SIZE [RATE]
#   KIND: tput|lat. PATH: client->backend, e.g. h2c->h1. PROXY "direct" goes
#   straight to the backend of the client's protocol.
cell() {
    local kind=$1 proxy=$2 path=$3 size=$4 rate=${5:-0}
    local cli=${path%%->*} be=${path##*->} port pid="" dur=$DUR
    [ "$kind" = lat ] && dur=$LAT_DUR
    if [ "$proxy" = direct ]; then
        if [ "$cli" = h2c ]; then port=$BE_H2; else port=$BE_H1; fi
        be=$cli
    else
        port=$next_port
        next_port=$((next_port + 1))
        "start_$proxy" "$port"
        pid=$PPID_
        if ! wait_listen "$port"; then
            kill "$pid" 2>/dev/null
            echo "{\"kind\":\"$kind\",\"proxy\":\"$proxy\",\"path\":\"$path\",\"size\":$size,\"cpu_ticks\":0,\"clk_tck\":$TCK,\"vmhwm_kb\":0,\"alive\":0,\"load\":{\"messages\":0,\"errors\":-1}}" >>"$JSONL"
            return
        fi
    fi
    local c0=0 r
    [ -n "$pid" ] && c0=$(cpu_ticks "$pid")
    local extra=""
    [ "$rate" != 0 ] && extra="--rate $rate"
    # shellcheck disable=SC2046
    r=$("$BIN/wsload" --connect 127.0.0.1:$port $(client_args "$cli") --path "$(path_for "$be")" \
        --size "$size" --duration "$dur" $extra 2>>"$WORK/wsload.err")
    local alive=1 c1=0 hwm=0
    if [ -n "$pid" ]; then
        if kill -0 "$pid" 2>/dev/null; then
            c1=$(cpu_ticks "$pid")
            hwm=$(status_kb "$pid" VmHWM)
            kill "$pid"
        else
            alive=0
            echo "run.sh: $proxy died during $kind $path $size" >&2
        fi
        wait "$pid" 2>/dev/null
    fi
    [ -z "$r" ] && r='{"messages":0,"errors":-1}'
    echo "{\"kind\":\"$kind\",\"proxy\":\"$proxy\",\"path\":\"$path\",\"size\":$size,\"cpu_ticks\":$((c1 - c0)),\"clk_tck\":$TCK,\"vmhwm_kb\":$hwm,\"alive\":$alive,\"load\":$r}" >>"$JSONL"
    printf '%4ss %-5s %-9s %-8s %6s B  %s\n' "$SECONDS" "$kind" "$proxy" "$path" "$size" "$r" >&2
}

# idle PROXY PATH K: RSS per idle tunnel.
idle() {
    local proxy=$1 path=$2 k=$3
    local cli=${path%%->*} be=${path##*->} port=$next_port
    next_port=$((next_port + 1))
    "start_$proxy" "$port"
    local pid=$PPID_
    wait_listen "$port" || { kill "$pid" 2>/dev/null; return; }
    sleep 0.3
    local before after ready args
    before=$(status_kb "$pid" VmRSS)
    if [ "$cli" = h2c ]; then args="--h2 $(((k + 99) / 100))"; else args="--h1 1"; fi
    local f=$WORK/idle.$port
    # shellcheck disable=SC2086
    "$BIN/wsload" --connect 127.0.0.1:$port $args --idle "$k" --path "$(path_for "$be")" \
        --duration 3 >"$f" 2>>"$WORK/wsload.err" &
    local lp=$!
    for _ in $(seq 1 400); do grep -q idle_ready "$f" && break; sleep 0.1; done
    sleep 0.5
    after=$(status_kb "$pid" VmRSS)
    ready=$(grep -o '"idle_ready":[0-9]*' "$f" | cut -d: -f2)
    wait "$lp"
    local alive=1
    kill -0 "$pid" 2>/dev/null || alive=0
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    echo "{\"kind\":\"idle\",\"proxy\":\"$proxy\",\"path\":\"$path\",\"tunnels\":${ready:-0},\"want\":$k,\"rss_before_kb\":${before:-0},\"rss_after_kb\":${after:-0},\"alive\":$alive,\"held\":$(tail -1 "$f" | grep -q idle_held && tail -1 "$f" || echo null)}" >>"$JSONL"
    printf '%4ss idle  %-9s %-8s %5s tunnels  RSS %s -> %s KiB\n' "$SECONDS" "$proxy" "$path" "${ready:-0}" "$before" "$after" >&2
    sleep 1 # let TIME_WAIT/close storms settle
}

T0=$(date +%s)
LOAD0=$(cut -d' ' -f1 /proc/loadavg)
echo "h2bridge bench: $TUNNELS tunnels/cell, ${DUR}s closed loop, ${LAT_DUR}s at $RATE msg/s; work dir $WORK" >&2
PROXIES=""
for p in h2bridge nghttpx haproxy; do want $p && PROXIES="$PROXIES $p"; done

for size in 64 16384; do
    if want direct; then
        cell tput direct "h2c->h2c" $size
        cell tput direct "h1->h1" $size
    fi
    for path in "h2c->h1" "h1->h2c" "h1->h1"; do
        for p in $PROXIES; do cell tput "$p" "$path" $size; done
        [ "$path" = "h1->h1" ] && want relay && cell tput relay "$path" $size
    done
done
for size in 64 16384; do
    if want direct; then
        cell lat direct "h2c->h2c" $size "$RATE"
        cell lat direct "h1->h1" $size "$RATE"
    fi
    for path in "h2c->h1" "h1->h2c" "h1->h1"; do
        for p in $PROXIES; do cell lat "$p" "$path" $size "$RATE"; done
        [ "$path" = "h1->h1" ] && want relay && cell lat relay "$path" $size "$RATE"
    done
done
for p in $PROXIES; do idle "$p" "h2c->h1" "$IDLE"; done
for p in $PROXIES; do idle "$p" "h1->h1" "$IDLE_H1"; done
want relay && idle relay "h1->h1" "$IDLE_H1"
T1=$(date +%s)
LOAD1=$(cut -d' ' -f1 /proc/loadavg)

/usr/bin/python3 "$HERE/report.py" "$JSONL" "$TUNNELS" "$DUR" "$LAT_DUR" "$RATE" "$((T1 - T0))" "$LOAD0" "$LOAD1" "$(nproc)" | tee "$OUT"
cp "$JSONL" "$HERE/results.jsonl"
if [ -s "$WORK/wsload.err" ]; then
    echo "(wsload stderr: $WORK/wsload.err)" >&2
fi
