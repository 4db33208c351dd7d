#!/usr/bin/env python3
"""tests/interop/guards_peer.py: the Linux-kernel side of guards_tap.sh.

Runs inside the test's network namespace (ip netns exec), with the kernel's own TCP or
UDP, bounded by --deadline seconds and socket timeouts:

  guards_peer.py --bind A --port P --proto tcp [--log FILE] [--deadline 30]
  guards_peer.py --bind A --port P --proto udp --count N --size S [--log FILE] [--deadline 30]

TCP: accepts one connection, reads to EOF, SHA-256 of every byte, closes.
UDP: receives until N distinct datagrams came (or 2 s of silence after the first, or
the deadline). Datagram k (quasi_guards_client): S bytes, bytes 0..7 k (little-endian),
bytes 8..9 the number of changes the client had made when it sent it (its epoch), byte
i >= 10 (k * 131 + i) mod 256. Counts distinct, duplicates, bad and out-of-order
datagrams, SHA-256 of the datagrams in arrival order, and per epoch the longest time
between two arrivals (the later one of that epoch): the delivery gap after each change.

Prints "guards_peer: ready", then one result line (to --log as well):
  guards_peer: tcp bytes=.. sha256=.. eof=0|1
  guards_peer: udp received=.. distinct=.. duplicates=.. bad=.. reordered=.. sha256=.. gaps_us=G0,G1,..
Exit 0 iff the stream ended cleanly (TCP: EOF; UDP: N distinct intact datagrams); 1
otherwise; 2 on usage errors.
"""
import argparse
import hashlib
import socket
import sys
import time

# spec_peer.py's address check, forced receive buffer option, datagram pattern and
# TCP receiver (the same kernel side, another test).
from spec_peer import PATTERN, SO_RCVBUFFORCE, Result, safe_addr, tcp_receiver


def say(log, line):
    print(line, flush=True)
    if log:
        with open(log, "a") as f:
            f.write(line + "\n")


def tcp_stream(args, deadline):
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((args.bind, args.port))
    listener.listen(1)
    say(args.log, f"guards_peer: ready: tcp {args.bind}:{args.port}")
    out = {}
    tcp_receiver(args, listener, Result(), out, deadline)  # spec_peer.py's: SHA-256 to EOF
    listener.close()
    say(args.log, f"guards_peer: tcp bytes={out.get('bytes', 0)} sha256={out.get('sha256', '')} "
        f"eof={int(bool(out.get('eof')))}" + (f" error={out['error']!r}" if "error" in out else ""))
    return out.get("eof") is True


def expected_tail(k, size):
    start = (k * 131 + 10) % 256
    return PATTERN[start:start + size - 10]


def udp_stream(args, deadline):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 64 << 20)
    except OSError:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 20)
    sock.bind((args.bind, args.port))
    say(args.log, f"guards_peer: ready: udp {args.bind}:{args.port}")
    seen = bytearray(args.count)
    digest = hashlib.sha256()
    received = distinct = duplicates = bad = reordered = 0
    gaps = {}
    last_k = -1
    last_at = first_at = None
    sock.settimeout(0.2)
    while distinct < args.count and time.monotonic() < deadline:
        try:
            data = sock.recv(65536)
        except socket.timeout:
            if first_at is not None and time.monotonic() - last_at > 2:
                break
            continue
        now = time.monotonic()
        received += 1
        k = int.from_bytes(data[:8], "little") if len(data) >= 10 else -1
        if len(data) != args.size or not 0 <= k < args.count or data[10:] != expected_tail(k, args.size):
            bad += 1
            continue
        digest.update(data)
        epoch = int.from_bytes(data[8:10], "little")
        if last_at is not None:
            gaps[epoch] = max(gaps.get(epoch, 0.0), now - last_at)
        else:
            first_at = now
        last_at = now
        if k < last_k:
            reordered += 1
        last_k = k
        if seen[k]:
            duplicates += 1
        else:
            seen[k] = 1
            distinct += 1
    sock.close()
    gap_list = ",".join(f"{gaps.get(e, 0.0) * 1e6:.0f}" for e in range(max(gaps, default=0) + 1))
    say(args.log, f"guards_peer: udp received={received} distinct={distinct} duplicates={duplicates} bad={bad} "
        f"reordered={reordered} sha256={digest.hexdigest()} gaps_us={gap_list}")
    return distinct == args.count and bad == 0 and duplicates == 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bind", type=safe_addr, required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--proto", choices=("tcp", "udp"), required=True)
    p.add_argument("--count", type=int, default=0)
    p.add_argument("--size", type=int, default=0)
    p.add_argument("--log")
    p.add_argument("--deadline", type=float, default=30)
    args = p.parse_args()
    if args.proto == "udp" and (not 10 <= args.size <= 65507 or not 1 <= args.count <= 10_000_000):
        p.error("udp needs --size 10..65507 and --count 1..10000000")
    deadline = time.monotonic() + args.deadline
    ok = tcp_stream(args, deadline) if args.proto == "tcp" else udp_stream(args, deadline)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
