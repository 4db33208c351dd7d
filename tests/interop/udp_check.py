#!/usr/bin/env python3
"""Kernel-side UDP peers for the interop tests (standard library only).

Subcommands (all bounded in count and time; only 198.18.0.0/15 addresses accepted):

  echo-client --server IP --port P [--count N] [--max-size S] [--seed K]
              [--timeout SEC] [--retries R] [--deadline SEC]
      Sends N datagrams one at a time to IP:P (sizes 1..S, deterministic, always
      including 1, 1472, 1473 and S), each with a 1 s (--timeout) receive timeout and at
      most R retries, and checks each echo equals what was sent and comes from IP:P.
      Prints progress and a summary line; exit 0 iff every datagram was echoed intact.

  echo-server --bind IP --port P [--seconds SEC] [--max-datagrams N]
      A kernel UDP echo server: echoes each datagram back to its sender, for at most
      SEC seconds and N datagrams. Prints "ready" once bound, a summary at exit.

  refused --server IP --port P [--attempts N] [--timeout SEC]
      Connected UDP socket to a closed port: send, then recv must raise
      ConnectionRefusedError (the kernel got an ICMP port unreachable and reports it
      on the connected socket). Retries up to N times on a timeout. Exit 0 iff refused.
"""

import argparse
import ipaddress
import random
import signal
import socket
import sys
import time

SAFE_NET = ipaddress.ip_network("198.18.0.0/15")
MAX_UDP = 65507


def safe_ip(text):
    addr = ipaddress.ip_address(text)
    if addr not in SAFE_NET:
        sys.exit(f"udp_check: refusing address {text}: outside {SAFE_NET} (DESIGN.md network safety)")
    return str(addr)


def sizes(count, max_size, seed):
    """Deterministic sizes in 1..max_size: edge cases first, then pseudo-random."""
    edges = [1, 2, 7, 8, 9, 1471, 1472, 1473, 1474, 1480, 1481, 2952, 2953, 2960, 2961,
             4000, max_size - 1, max_size]
    out = [s for s in dict.fromkeys(edges) if 1 <= s <= max_size][:count]
    rng = random.Random(seed)
    while len(out) < count:
        out.append(rng.randint(1, max_size))
    return out


def payload(index, size, seed):
    """Distinct content per datagram: a 4-byte index, then seeded pseudo-random bytes."""
    head = index.to_bytes(4, "big")
    body = random.Random(seed * 1_000_003 + index).randbytes(max(0, size - 4))
    return (head + body)[:size]


def first_difference(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return min(len(a), len(b))


def echo_client(args):
    server = (safe_ip(args.server), args.port)
    plan = sizes(args.count, args.max_size, args.seed)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    sock.settimeout(args.timeout)
    start = time.monotonic()
    sent = echoed = retried = lost = mismatched = stray = 0
    worst_rtt = 0.0
    lost_in_a_row = 0
    resent = []  # payloads sent more than once (the latest 32)
    print(f"udp_check: {args.count} datagrams of 1..{args.max_size} bytes to {server[0]}:{server[1]}, "
          f"timeout {args.timeout}s, up to {args.retries} retries each", flush=True)
    for i, size in enumerate(plan):
        if time.monotonic() - start > args.deadline:
            print(f"udp_check: FAIL: overall deadline of {args.deadline}s reached at datagram {i}", flush=True)
            lost += len(plan) - i
            break
        data = payload(i, size, args.seed)
        ok = False
        for attempt in range(args.retries + 1):
            t0 = time.monotonic()
            sock.sendto(data, server)
            sent += 1
            if attempt:
                retried += 1
                if attempt == 1:
                    resent.append(data)
                    del resent[:-32]
                print(f"udp_check: retry {attempt} for datagram {i} ({size} bytes)", flush=True)
            while True:
                left = args.timeout - (time.monotonic() - t0)
                if left <= 0:
                    break
                sock.settimeout(left)
                try:
                    reply, src = sock.recvfrom(MAX_UDP + 1)
                except socket.timeout:
                    break
                if src != server:
                    stray += 1
                    print(f"udp_check: stray datagram from {src} ({len(reply)} bytes)", flush=True)
                    continue
                if reply == data:
                    ok = True
                    worst_rtt = max(worst_rtt, time.monotonic() - t0)
                    break
                # A datagram sent more than once is echoed more than once: its extra
                # echoes may arrive while a later datagram is waited for.
                if reply in resent:
                    stray += 1
                    print(f"udp_check: extra echo of an earlier retried datagram ({len(reply)} bytes) ignored",
                          flush=True)
                    continue
                mismatched += 1
                print(f"udp_check: MISMATCH while waiting for datagram {i}: sent {size} bytes, got {len(reply)} "
                      f"bytes, first difference at byte {first_difference(data, reply)}", flush=True)
                # The run fails; keep waiting for this datagram's own echo all the same.
            if ok:
                break
        if ok:
            echoed += 1
            lost_in_a_row = 0
        else:
            lost += 1
            lost_in_a_row += 1
            print(f"udp_check: LOST datagram {i} ({size} bytes) after {args.retries + 1} attempts", flush=True)
            if lost_in_a_row >= args.max_lost_in_a_row:
                print(f"udp_check: FAIL: {lost_in_a_row} datagrams lost in a row; giving up on the remaining "
                      f"{len(plan) - i - 1}", flush=True)
                lost += len(plan) - i - 1
                break
        if mismatched and args.stop_on_mismatch:
            lost += len(plan) - i - 1
            break
        if (i + 1) % 250 == 0:
            print(f"udp_check: {i + 1}/{len(plan)} done", flush=True)
    elapsed = time.monotonic() - start
    # A late echo is only expected after a retry (the first copy was slow, not lost).
    ok = echoed == len(plan) and mismatched == 0 and stray <= retried
    print(f"udp_check: {'PASS' if ok else 'FAIL'}: datagrams={len(plan)} echoed={echoed} lost={lost} "
          f"mismatched={mismatched} retries={retried} stray={stray} sent={sent} "
          f"bytes={sum(plan)} max_rtt_ms={worst_rtt * 1000:.1f} elapsed_s={elapsed:.2f}", flush=True)
    return 0 if ok else 1


class Stop(Exception):
    pass


def _stop(signum, frame):
    raise Stop()


def echo_server(args):
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    addr = (safe_ip(args.bind), args.port)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    sock.bind(addr)
    print(f"udp_check: echo server ready on {addr[0]}:{addr[1]}", flush=True)
    end = time.monotonic() + args.seconds
    count = nbytes = 0
    peers = set()
    try:
        while count < args.max_datagrams:
            left = end - time.monotonic()
            if left <= 0:
                break
            sock.settimeout(min(left, 1.0))
            try:
                data, src = sock.recvfrom(MAX_UDP + 1)
            except socket.timeout:
                continue
            sock.sendto(data, src)
            count += 1
            nbytes += len(data)
            peers.add(src)
    except Stop:
        pass
    print(f"udp_check: echo server done: echoed={count} bytes={nbytes} peers={sorted(peers)}", flush=True)
    return 0


def refused(args):
    server = (safe_ip(args.server), args.port)
    for attempt in range(1, args.attempts + 1):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.settimeout(args.timeout)
        sock.connect(server)
        try:
            sock.send(b"quasi interop: is anyone there?")
            reply = sock.recv(2048)
            print(f"udp_check: FAIL: got a {len(reply)}-byte reply from a port that should be closed")
            return 1
        except ConnectionRefusedError as e:
            print(f"udp_check: PASS: attempt {attempt}: recv raised ConnectionRefusedError ({e})", flush=True)
            return 0
        except socket.timeout:
            print(f"udp_check: attempt {attempt}: no error within {args.timeout}s (no ICMP port unreachable)",
                  flush=True)
        finally:
            sock.close()
    print(f"udp_check: FAIL: no ECONNREFUSED after {args.attempts} attempts")
    return 1


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("echo-client")
    c.add_argument("--server", required=True)
    c.add_argument("--port", type=int, default=7)
    c.add_argument("--count", type=int, default=1000)
    c.add_argument("--max-size", type=int, default=8000)
    c.add_argument("--seed", type=int, default=1)
    c.add_argument("--timeout", type=float, default=1.0)
    c.add_argument("--retries", type=int, default=3)
    c.add_argument("--deadline", type=float, default=60.0, help="overall time limit (s)")
    c.add_argument("--stop-on-mismatch", action="store_true")
    c.add_argument("--max-lost-in-a-row", type=int, default=3, help="give up after this many lost in a row")
    s = sub.add_parser("echo-server")
    s.add_argument("--bind", required=True)
    s.add_argument("--port", type=int, default=7777)
    s.add_argument("--seconds", type=float, default=60.0)
    s.add_argument("--max-datagrams", type=int, default=100000)
    r = sub.add_parser("refused")
    r.add_argument("--server", required=True)
    r.add_argument("--port", type=int, required=True)
    r.add_argument("--attempts", type=int, default=3)
    r.add_argument("--timeout", type=float, default=2.0)
    args = p.parse_args()
    if getattr(args, "count", 1) > 100000 or getattr(args, "max_size", 1) > MAX_UDP:
        sys.exit("udp_check: count must be <= 100000 and max-size <= 65507")
    if args.cmd == "echo-client":
        return echo_client(args)
    if args.cmd == "echo-server":
        return echo_server(args)
    return refused(args)


if __name__ == "__main__":
    sys.exit(main())
