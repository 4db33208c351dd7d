#!/usr/bin/env bash
# tests/interop/perf_tap.sh BUILD_DIR: quasi-perf --link tap, quasi on a tap against the
# Linux kernel's sockets, in the namespace quasi-perf creates itself (apps/perf_tap.hpp).
#
# 1. Every test type (UDP_STREAM 64 and 1472 B, TCP_STREAM and TCP_MAERTS 1448 B, UDP_RR,
#    TCP_RR, TCP_CRR 64 B), generic and specialized (--mode both), a counted run each
#    (--count 3000, no warm-up), --json. Checks per run: no error; TCP: the bytes the
#    sender counted equal the bytes the receiver got (non-zero); UDP: 0 < received <=
#    sent and msgs_lost their difference; RR: every transaction answered; the specialized
#    path sent through its handle. Afterwards no process refers to the namespace
#    quasi-perf reported.
# 2. Teardown on SIGINT: a long TCP_STREAM run; once it runs, its namespace is found
#    through the process's descriptors and holds the tap (so the check below can see
#    them); the test holds the namespace itself, sends SIGINT, and checks that quasi-perf
#    is gone, the tap is gone from the namespace it held, and once it lets go nothing
#    refers to the namespace any more.
# QUASI_PERF_LINK=af_packet (ctest's dpdk_perf_af_packet): part 1 with quasi on DPDK's
# net_af_packet over a veth in that namespace (--link af_packet), and every mbuf home at exit.
# Bounded: each quasi-perf by `timeout`, the waits by qwait_for, the script by ctest.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=interop_common.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/interop_common.sh"
qi_init perf_tap "$@"
PERF="$QI_BUILD/apps/quasi-perf"
LINK="${QUASI_PERF_LINK:-tap}"
[[ -x "$PERF" ]] || { printf '[perf_tap] error: %s is not built\n' "$PERF" >&2; exit 2; }
command -v nsenter >/dev/null || { printf '[perf_tap] error: nsenter (util-linux) is missing\n' >&2; exit 2; }

# ns_referenced ID: true while any process or thread is in, or holds a descriptor of,
# the namespace /proc names ID ("net:[INODE]").
ns_referenced() {
  python3 - "$1" <<'EOF'
import glob, os, sys
for link in glob.glob("/proc/[0-9]*/ns/net") + glob.glob("/proc/[0-9]*/task/*/ns/net") + glob.glob("/proc/[0-9]*/fd/*"):
    try:
        if os.readlink(link) == sys.argv[1]:
            sys.exit(0)
    except OSError:
        pass  # a process or descriptor that went away meanwhile
sys.exit(1)
EOF
}

# --- 1. every test over the tap, counted on both ends -----------------------------------
json="$QI_TMP/perf.json"
qi_step "quasi-perf --link $LINK: every test, generic and specialized, 3000 messages or transactions each"
qrun_bounded 150 "$PERF" --link "$LINK" --test UDP_STREAM,TCP_STREAM,TCP_MAERTS,UDP_RR,TCP_RR,TCP_CRR \
  --mode both --count 3000 --warmup 0 --json >"$json" 2>"$QI_TMP/perf.err"
rc=$?
qi_check "quasi-perf --link $LINK exits 0 (status $rc)" test "$rc" -eq 0
cat "$QI_TMP/perf.err"
python3 - "$json" "$LINK" <<'EOF'
import json, sys
doc = json.load(open(sys.argv[1]))
checks = fails = 0
def check(what, ok):
    global checks, fails
    checks += 1
    fails += not ok
    print(f"[perf_tap] {'ok' if ok else 'FAIL'} - {what}")
check(f"the JSON names the link {sys.argv[2]} and its namespace", doc.get("link") == sys.argv[2] and doc.get("tap", {}).get("netns", "").startswith("net:["))
res = doc.get("results", {})
want = {"UDP_STREAM": ["64", "1472"], "TCP_STREAM": ["1448"], "TCP_MAERTS": ["1448"],
        "UDP_RR": ["64"], "TCP_RR": ["64"], "TCP_CRR": ["64"]}
for test, sizes in want.items():
    for size in sizes:
        paths = ["generic"] + ([] if test in ("TCP_MAERTS", "TCP_CRR") else ["specialized"])
        for path in paths:
            cell = res.get(test, {}).get(size, {}).get(path)
            name = f"{test} {size} B {path}"
            if cell is None or "errors" in cell:
                check(f"{name}: ran ({cell and cell.get('errors')})", False)
                continue
            t = cell["totals"][0]
            fig = "tps" if test.endswith("RR") else "gbps" if test.startswith("TCP") else "pps"
            check(f"{name}: {fig} {cell[fig]['median']:.4g} > 0", cell[fig]["median"] > 0)
            if test.startswith("TCP"):
                check(f"{name}: bytes sent {t['bytes_sent']} == bytes received {t['bytes_received']}",
                      t["bytes_sent"] == t["bytes_received"] > 0)
            else:
                check(f"{name}: 0 < datagrams received {t['msgs_received']} <= sent {t['msgs_sent']}, lost {t['msgs_lost']}",
                      0 < t["msgs_received"] <= t["msgs_sent"] and t["msgs_lost"] == t["msgs_sent"] - t["msgs_received"])
            if test.endswith("RR"):
                check(f"{name}: {t['transactions']} transactions, each a request and a response",
                      t["transactions"] >= 3000 and t["msgs_received"] == t["msgs_sent"] == 2 * t["transactions"])
            if path == "specialized":
                check(f"{name}: {t.get('specialized_sends', 0)} sends through the specialized handle",
                      t.get("specialized_sends", 0) > 0)
print(f"[perf_tap] {checks - fails} of {checks} JSON checks passed")
sys.exit(1 if fails else 0)
EOF
qi_check "every run counted the same on both ends (above)" test $? -eq 0
netns="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["tap"]["netns"])' "$json" 2>/dev/null)"
qi_check "after quasi-perf exited, nothing refers to its namespace ${netns:-?}" \
  eval '[[ -n "$netns" ]] && ! ns_referenced "$netns"'

if [[ "$LINK" == af_packet ]]; then
  qi_check "the DPDK port had every mbuf back in its mempool after stop" \
    grep -q 'mbufs not in their mempools after stop: 0 of' "$QI_TMP/perf.err"
  qi_finish
fi

# --- 2. SIGINT tears everything down ----------------------------------------------------
out="$QI_TMP/sigint.out"
qi_step "quasi-perf --link tap TCP_STREAM for up to 60 s, interrupted once it runs"
timeout --kill-after=5 90 "$PERF" --link tap --test TCP_STREAM --mode generic --duration 60 --warmup 0 \
  --no-progress >"$out" 2>&1 &
perf_pid=$!
qnetns_on_exit "kill -KILL $perf_pid 2>/dev/null"
# `timeout` is the parent; quasi-perf its child.
qwait_for "pgrep -P $perf_pid -x quasi-perf && grep -q '^quasi-perf: link tap' '$out'" 20
child="$(pgrep -P "$perf_pid" -x quasi-perf)"
ns_fd=""
self_ns="$(readlink /proc/self/ns/net)"
for fd in /proc/"${child:-0}"/fd/*; do
  link="$(readlink "$fd" 2>/dev/null)"
  [[ "$link" == net:\[* && "$link" != "$self_ns" ]] && { ns_fd="$fd"; live_ns="$link"; break; }
done
qi_check "while it runs, quasi-perf holds a namespace of its own (${live_ns:-none})" test -n "$ns_fd"
holder=""
if [[ -n "$ns_fd" ]]; then
  qi_check "that namespace holds the tap qperf0" nsenter --net="$ns_fd" ip -o link show qperf0
  nsenter --net="$ns_fd" sleep 60 &
  holder=$!
  qnetns_on_exit "kill $holder 2>/dev/null"
  qwait_for "[[ \"\$(readlink /proc/$holder/ns/net)\" == '$live_ns' ]]" 5
fi
kill -INT "$child" 2>/dev/null
qwait_for "! kill -0 $perf_pid" 10
qi_check "quasi-perf ended on SIGINT" eval "! kill -0 $perf_pid 2>/dev/null"
wait "$perf_pid" 2>/dev/null
if [[ -n "$holder" ]]; then
  qi_check "the tap is gone from the namespace (held by the test)" \
    eval "! nsenter --net=/proc/$holder/ns/net ip -o link show qperf0 2>/dev/null"
  kill "$holder" 2>/dev/null
  wait "$holder" 2>/dev/null
  qi_check "once the test lets go, nothing refers to the namespace $live_ns" eval "! ns_referenced '$live_ns'"
fi
qi_finish
