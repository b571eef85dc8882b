#!/usr/bin/python3
"""Formats tests/bench/run.sh's JSON lines into the results table."""
import json
import sys

path, tunnels, dur, lat_dur, rate, elapsed, load0, load1, ncpu = sys.argv[1:10]
rows = [json.loads(l) for l in open(path) if l.strip()]
ANCHORS = ("nghttpx", "haproxy")
PATHS = ("h2c->h2c", "h1->h1", "h2c->h1", "h1->h2c")
out = []
p = out.append


def cpu_us(r):
    m = r["load"].get("messages", 0)
    if r["proxy"] == "direct" or not m:
        return None
    return r["cpu_ticks"] * 1e6 / r["clk_tck"] / m


def fmt(v, spec="{:.0f}", none="-"):
    return none if v is None else spec.format(v)


def table(kind, title):
    p(title)
    p("{:<8} {:>6} {:<9} {:>9} {:>8} {:>8} {:>8} {:>9} {:>7} {:>6}".format(
        "path", "size", "proxy", "msgs/s", "p50_us", "p99_us", "cpu_us", "cpu_%", "hwm_MiB", "errors"))
    sel = [r for r in rows if r["kind"] == kind]
    order = {"direct": 0, "h2bridge": 1, "nghttpx": 2, "haproxy": 3, "relay": 4}
    keys = []
    for r in sel:
        k = (r["path"], r["size"])
        if k not in keys:
            keys.append(k)
    keys.sort(key=lambda k: (k[1], PATHS.index(k[0]) if k[0] in PATHS else 9))
    ratios = []
    for k in keys:
        group = sorted([r for r in sel if (r["path"], r["size"]) == k], key=lambda r: order.get(r["proxy"], 9))
        for r in group:
            L = r["load"]
            secs = L.get("duration_s") or 1
            cpu_pct = None if r["proxy"] == "direct" else r["cpu_ticks"] * 100.0 / r["clk_tck"] / secs
            dead = "" if r.get("alive", 1) else "  (PROXY DIED)"
            p("{:<8} {:>6} {:<9} {:>9} {:>8} {:>8} {:>8} {:>9} {:>7} {:>6}{}".format(
                r["path"], r["size"], r["proxy"], fmt(L.get("msgs_per_s")), fmt(L.get("p50_us")),
                fmt(L.get("p99_us")), fmt(cpu_us(r), "{:.2f}"), fmt(cpu_pct, "{:.0f}%"),
                fmt(r["vmhwm_kb"] / 1024 if r["proxy"] != "direct" else None, "{:.1f}"),
                L.get("errors"), dead))
        hb = [r for r in group if r["proxy"] == "h2bridge"]
        an = [r for r in group if r["proxy"] in ANCHORS and r["load"].get("messages")]
        if hb and an:
            h = hb[0]
            best_t = max(an, key=lambda r: r["load"]["msgs_per_s"])
            best_c = min(an, key=lambda r: cpu_us(r) or 1e18)
            best_9 = min(an, key=lambda r: r["load"]["p99_us"])
            best_m = min(an, key=lambda r: r["vmhwm_kb"])
            def ratio(a, b):
                return None if not a or not b else a / b
            ratios.append("{:<8} {:>6}  msgs/s x{:<5} (vs {:<7})  cpu/msg x{:<5} (vs {:<7})  p99 x{:<5} (vs {:<7})  peak RSS x{:<5} (vs {})".format(
                k[0], k[1],
                fmt(ratio(h["load"].get("msgs_per_s"), best_t["load"]["msgs_per_s"]), "{:.2f}"), best_t["proxy"],
                fmt(ratio(cpu_us(h), cpu_us(best_c)), "{:.2f}"), best_c["proxy"],
                fmt(ratio(h["load"].get("p99_us"), best_9["load"]["p99_us"]), "{:.2f}"), best_9["proxy"],
                fmt(ratio(h["vmhwm_kb"], best_m["vmhwm_kb"]), "{:.2f}"), best_m["proxy"]))
    p("")
    if ratios:
        p("  h2bridge / best anchor (nghttpx, haproxy) -- throughput: >1 is better; cpu, p99, RSS: <1 is better")
        for x in ratios:
            p("  " + x)
        p("")


p("h2bridge WebSocket bench  ({} tunnels per cell: h2c = 1 connection x {} streams, h1 = {} connections; run took {} s)".format(
    tunnels, tunnels, tunnels, elapsed))
p("load average before/after the run: {} / {} on {} CPUs{}".format(load0, load1, ncpu,
  "  -- WARNING: other work was running; numbers are noisy" if float(load0) > 0.5 * int(ncpu) else ""))
p("paths are client->backend; 'direct' = load generator straight to the echo backend of its own protocol")
p("cpu_us = proxy utime+stime per echoed message (a message = one frame each way); cpu_% = proxy CPU over the cell;")
p("hwm_MiB = proxy VmHWM (fresh proxy process per cell). errors = failed tunnels + wrong/missing echoes.")
p("")
table("tput", "== Closed loop, one message in flight per tunnel, {} s per cell (p50/p99 are under saturation) ==".format(dur))
table("lat", "== Open loop at {} msg/s total, {} s per cell (latency from the scheduled send time) ==".format(rate, lat_dur))
idle = [r for r in rows if r["kind"] == "idle"]
if idle:
    p("== Idle tunnels: proxy RSS growth per open, idle tunnel ==")
    p("{:<8} {:<9} {:>8} {:>12} {:>12} {:>14}".format("path", "proxy", "tunnels", "rss_before", "rss_after", "KiB/tunnel"))
    for r in idle:
        t = r["tunnels"]
        per = (r["rss_after_kb"] - r["rss_before_kb"]) / t if t else None
        note = "" if t == r["want"] else "  (wanted {})".format(r["want"])
        if not r.get("alive", 1):
            note += "  (PROXY DIED)"
        held = r.get("held")
        if held and held.get("errors"):
            note += "  ({} tunnels lost while idle)".format(held["errors"])
        p("{:<8} {:<9} {:>8} {:>9} KiB {:>8} KiB {:>14}{}".format(
            r["path"], r["proxy"], t, r["rss_before_kb"], r["rss_after_kb"], fmt(per, "{:.2f}"), note))
    p("")
print("\n".join(out))
