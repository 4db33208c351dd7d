#!/usr/bin/env python3
"""tests/interop/spec_peer.py: the Linux-kernel side of spec_tap.sh.

Runs inside the test's network namespace (ip netns exec), using the kernel's own UDP
and TCP, bounded by --deadline seconds and socket timeouts:

  spec_peer.py --bind A --udp-port P --udp-count N --udp-size S --tcp-port Q
               [--log FILE] [--deadline 60]

UDP: receives datagrams on A:P (a 64 MiB receive buffer, forced: root) and checks each
against quasi_spec_client's pattern: S bytes, bytes 0..7 the datagram's number k
(little-endian, k < N), byte i >= 8 equal to (k * 131 + i) mod 256. Counts received,
distinct, duplicates and bad datagrams. Stops when N distinct arrived, or 2 s after the
TCP stream ended, or at the deadline.
TCP: accepts one connection on A:Q, reads to EOF, SHA-256 of every byte, then closes.

Prints "spec_peer: ready" once both sockets are bound, then
  spec_peer: udp received=.. distinct=.. duplicates=.. bad=.. expected=N
  spec_peer: tcp bytes=.. sha256=.. elapsed_s=.. throughput_MBps=..
  spec_peer: PASS|FAIL
(to --log as well). Exit 0 iff N distinct intact datagrams and a TCP stream ending in a
clean EOF arrived; 1 otherwise; 2 on usage errors.
"""
import argparse
import hashlib
import ipaddress
import socket
import sys
import threading
import time

SAFE_NET = ipaddress.ip_network("198.18.0.0/15")
SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)  # Linux; not in every Python's socket module
PATTERN = bytes(range(256)) * 8  # byte i of datagram k is PATTERN[(k * 131 + i) % 256]


def safe_addr(text):
    """argparse type: an IPv4 address inside 198.18.0.0/15 (DESIGN.md network safety)."""
    try:
        addr = ipaddress.ip_address(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e))
    if addr not in SAFE_NET:
        raise argparse.ArgumentTypeError(f"{text} is outside 198.18.0.0/15")
    return text


class Result:
    def __init__(self):
        self.lines = []
        self.lock = threading.Lock()
        self.tcp_done_at = None

    def say(self, log, line):
        with self.lock:
            print(line, flush=True)
            if log:
                with open(log, "a") as f:
                    f.write(line + "\n")


def expected_datagram(k, size):
    start = (k * 131 + 8) % 256
    return k.to_bytes(8, "little") + PATTERN[start:start + size - 8]


def udp_receiver(args, sock, res, out, deadline):
    seen = bytearray(args.udp_count)
    received = distinct = duplicates = bad = 0
    sock.settimeout(0.2)
    while distinct < args.udp_count and time.monotonic() < deadline:
        if res.tcp_done_at is not None and time.monotonic() > res.tcp_done_at + 2:
            break
        try:
            data = sock.recv(65536)
        except socket.timeout:
            continue
        received += 1
        k = int.from_bytes(data[:8], "little") if len(data) >= 8 else -1
        if len(data) != args.udp_size or not 0 <= k < args.udp_count or data != expected_datagram(k, args.udp_size):
            bad += 1
            continue
        if seen[k]:
            duplicates += 1
        else:
            seen[k] = 1
            distinct += 1
    out.update(received=received, distinct=distinct, duplicates=duplicates, bad=bad)


def tcp_receiver(args, listener, res, out, deadline):
    listener.settimeout(max(0.1, deadline - time.monotonic()))
    try:
        conn, _ = listener.accept()
    except socket.timeout:
        out.update(error="no connection")
        return
    digest = hashlib.sha256()
    total = 0
    t0 = None
    eof = False
    with conn:
        while time.monotonic() < deadline:
            conn.settimeout(max(0.1, min(5.0, deadline - time.monotonic())))
            try:
                data = conn.recv(1 << 20)
            except socket.timeout:
                continue
            except OSError as e:
                out.update(error=str(e))
                break
            if not data:
                eof = True
                break
            if t0 is None:
                t0 = time.monotonic()
            digest.update(data)
            total += len(data)
    elapsed = time.monotonic() - t0 if t0 else 0.0
    out.update(bytes=total, sha256=digest.hexdigest(), eof=eof, elapsed=elapsed)
    res.tcp_done_at = time.monotonic()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bind", type=safe_addr, required=True)
    p.add_argument("--udp-port", type=int, required=True)
    p.add_argument("--udp-count", type=int, required=True)
    p.add_argument("--udp-size", type=int, required=True)
    p.add_argument("--tcp-port", type=int, required=True)
    p.add_argument("--log")
    p.add_argument("--deadline", type=float, default=60)
    args = p.parse_args()
    if not 8 <= args.udp_size <= 65507 or not 1 <= args.udp_count <= 10_000_000:
        p.error("--udp-size must be 8..65507 and --udp-count 1..10000000")
    deadline = time.monotonic() + args.deadline
    res = Result()

    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        udp.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 64 << 20)
    except OSError:
        udp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 20)
    udp.bind((args.bind, args.udp_port))
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp.bind((args.bind, args.tcp_port))
    tcp.listen(1)
    res.say(args.log, f"spec_peer: ready: udp {args.bind}:{args.udp_port} (rcvbuf "
            f"{udp.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)}), tcp {args.bind}:{args.tcp_port}")

    u, t = {}, {}
    threads = [threading.Thread(target=udp_receiver, args=(args, udp, res, u, deadline), daemon=True),
               threading.Thread(target=tcp_receiver, args=(args, tcp, res, t, deadline), daemon=True)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(max(0.1, deadline - time.monotonic() + 5))
    udp.close()
    tcp.close()

    res.say(args.log, f"spec_peer: udp received={u.get('received', 0)} distinct={u.get('distinct', 0)} "
            f"duplicates={u.get('duplicates', 0)} bad={u.get('bad', 0)} expected={args.udp_count}")
    elapsed = t.get("elapsed", 0.0)
    mbps = t.get("bytes", 0) / 1e6 / elapsed if elapsed > 0 else 0.0
    res.say(args.log, f"spec_peer: tcp bytes={t.get('bytes', 0)} sha256={t.get('sha256', '')} "
            f"eof={int(bool(t.get('eof')))} elapsed_s={elapsed:.3f} throughput_MBps={mbps:.1f}"
            + (f" error={t['error']!r}" if "error" in t else ""))
    ok = (u.get("distinct") == args.udp_count and u.get("bad") == 0 and t.get("eof") is True)
    res.say(args.log, f"spec_peer: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
