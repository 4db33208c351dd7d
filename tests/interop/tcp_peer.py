#!/usr/bin/env python3
"""tests/interop/tcp_peer.py: the Linux-kernel side of the TCP interop tests.

Runs inside the test's network namespace (ip netns exec), using the kernel's own TCP.
Every mode is bounded by --deadline seconds and socket timeouts.

  echo-client  --server A --port P --bytes N [--seed S] [--deadline S]
      Connects to quasi's TCP echo, sends N bytes of deterministic data from one thread
      while the main thread reads the echo back, half-closes after the last byte and
      expects exactly N bytes and then EOF. Compares SHA-256 of sent and received.
  echo-server  --bind A --port P [--log FILE] [--deadline S] [--max-conns N]
      Threaded echo server for quasi_tcp_client: echoes each connection, half-closes
      after the client's EOF, and logs one line per connection with the byte count and
      SHA-256 of what it received (the script compares it with the client's digest).
  many         --server A --port P [--count 1000] [--size 64] [--deadline S]
      Opens COUNT connections at once (selectors, non-blocking), then each sends a
      distinct message of SIZE bytes and reads its echo; only when every connection has
      its echo are they all closed (so all COUNT are open together). Every connection
      must succeed.
  http-digest  N
      SHA-256 of quasi-httpd's /bytes/N body: byte i is the top byte of
      (i * 2654435761) mod 2^32.

Each mode prints one summary line "tcp_peer: PASS|FAIL: key=value ..." and exits 0 on
PASS, 1 on FAIL, 2 on usage errors. Data for the echo modes: random.Random(seed) bytes.
Kernel retransmissions are read from TCP_INFO (tcpi_total_retrans).
"""
import argparse
import hashlib
import ipaddress
import random
import resource
import selectors
import socket
import struct
import sys
import threading
import time

CHUNK = 256 * 1024
SAFE_NET = ipaddress.ip_network("198.18.0.0/15")


def safe_addr(text):
    """argparse type: an IPv4 address inside 198.18.0.0/15 (DESIGN.md network safety)."""
    try:
        addr = ipaddress.ip_address(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e))
    if addr not in SAFE_NET:
        raise argparse.ArgumentTypeError(f"{text} is outside 198.18.0.0/15")
    return text


def size_arg(text):
    mult = {"k": 1 << 10, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    if text and text[-1] in mult:
        return int(text[:-1]) * mult[text[-1]]
    return int(text)


def total_retrans(sock):
    """tcpi_total_retrans from TCP_INFO (offset 100 in struct tcp_info), or -1."""
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
        return struct.unpack_from("I", info, 100)[0]
    except OSError:
        return -1


def tcp_info_summary(sock):
    """A few TCP_INFO fields for the log: rtt (us), cwnd (segments), mss, retrans."""
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
    except OSError:
        return "tcp_info=unavailable"
    snd_mss, = struct.unpack_from("I", info, 16)
    rtt, = struct.unpack_from("I", info, 68)
    cwnd, = struct.unpack_from("I", info, 80)
    retrans, = struct.unpack_from("I", info, 100)
    return f"kernel_total_retrans={retrans} kernel_rtt_us={rtt} kernel_cwnd={cwnd} kernel_mss={snd_mss}"


def set_congestion(sock, name):
    """Per-socket TCP_CONGESTION. In a child namespace the sysctl default can only be set
    to an algorithm in the host's tcp_allowed_congestion_control, but a socket of a
    CAP_NET_ADMIN process may pick any available one (here: cubic instead of bbr)."""
    if not name:
        return
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, name.encode())
    except OSError as e:
        print(f"tcp_peer: warning: TCP_CONGESTION {name}: {e}", file=sys.stderr, flush=True)


def congestion_of(sock):
    try:
        return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, 16).split(b"\0")[0].decode()
    except OSError:
        return "unknown"


def summary(ok, **fields):
    text = " ".join(f"{k}={v}" for k, v in fields.items())
    print(f"tcp_peer: {'PASS' if ok else 'FAIL'}: {text}", flush=True)
    return 0 if ok else 1


# --- echo-client ----------------------------------------------------------------------
def echo_client(args):
    deadline = time.monotonic() + args.deadline
    n = args.bytes
    rng = random.Random(args.seed)
    sha_sent = hashlib.sha256()
    sha_recv = hashlib.sha256()
    state = {"sent": 0, "error": None, "sent_at": None}
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    set_congestion(sock, args.cc)
    sock.settimeout(10)
    sock.connect((args.server, args.port))
    t_conn = time.monotonic()
    sock.settimeout(max(1.0, deadline - time.monotonic()))
    print(f"tcp_peer: connected {sock.getsockname()} -> {sock.getpeername()} ({congestion_of(sock)}), "
          f"echoing {n} bytes", flush=True)

    def sender():
        try:
            left = n
            while left > 0:
                chunk = rng.randbytes(min(CHUNK, left))
                sha_sent.update(chunk)
                sock.sendall(chunk)
                left -= len(chunk)
                state["sent"] += len(chunk)
            state["sent_at"] = time.monotonic()
            sock.shutdown(socket.SHUT_WR)
        except OSError as e:
            state["error"] = f"send: {e}"

    th = threading.Thread(target=sender, daemon=True)
    th.start()
    received = 0
    eof = False
    error = None
    try:
        while True:
            if time.monotonic() > deadline:
                error = "deadline"
                break
            data = sock.recv(CHUNK)
            if not data:
                eof = True
                break
            sha_recv.update(data)
            received += len(data)
    except OSError as e:
        error = f"recv: {e}"
    t_done = time.monotonic()
    th.join(timeout=max(0.1, deadline - time.monotonic()))
    kinfo = tcp_info_summary(sock)
    sock.close()
    elapsed = t_done - t_conn
    ok = (error is None and state["error"] is None and eof and received == n and state["sent"] == n
          and sha_sent.hexdigest() == sha_recv.hexdigest())
    return summary(ok, bytes=n, sent=state["sent"], received=received, eof=int(eof),
                   error=(error or state["error"] or "none").replace(" ", "_"),
                   sha256_sent=sha_sent.hexdigest(), sha256_received=sha_recv.hexdigest(),
                   elapsed_s=f"{elapsed:.3f}", throughput_MBps=f"{received / 1e6 / elapsed:.1f}" if elapsed > 0 else 0,
                   **dict(kv.split("=") for kv in kinfo.split()))


# --- echo-server ----------------------------------------------------------------------
def echo_server(args):
    deadline = time.monotonic() + args.deadline
    log = open(args.log, "a", buffering=1) if args.log else sys.stdout
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    set_congestion(lsock, args.cc)  # inherited by accepted connections
    lsock.bind((args.bind, args.port))
    lsock.listen(64)
    lsock.settimeout(0.5)
    print(f"tcp_peer: echo-server listening on {args.bind}:{args.port}", file=log, flush=True)
    lock = threading.Lock()
    counter = {"n": 0}

    def serve(conn, peer, index):
        sha = hashlib.sha256()
        total = 0
        error = "none"
        eof = False
        t0 = time.monotonic()
        try:
            conn.settimeout(max(1.0, deadline - time.monotonic()))
            while True:
                data = conn.recv(CHUNK)
                if not data:
                    eof = True
                    break
                sha.update(data)
                total += len(data)
                conn.sendall(data)
            conn.shutdown(socket.SHUT_WR)  # the kernel finishes the close after conn.close()
        except OSError as e:
            error = str(e).replace(" ", "_")
        elapsed = time.monotonic() - t0
        kinfo = tcp_info_summary(conn)
        cc = congestion_of(conn)
        conn.close()
        with lock:
            print(f"tcp_peer: conn {index} from {peer[0]}:{peer[1]} cc={cc} bytes={total} "
                  f"eof={int(eof)} error={error} "
                  f"sha256={sha.hexdigest()} elapsed_s={elapsed:.3f} {kinfo}", file=log, flush=True)

    threads = []
    while time.monotonic() < deadline and (args.max_conns == 0 or counter["n"] < args.max_conns):
        try:
            conn, peer = lsock.accept()
        except socket.timeout:
            continue
        counter["n"] += 1
        th = threading.Thread(target=serve, args=(conn, peer, counter["n"]), daemon=True)
        th.start()
        threads.append(th)
    for th in threads:
        th.join(timeout=max(0.1, deadline - time.monotonic()))
    lsock.close()
    return 0


# --- many -----------------------------------------------------------------------------
class Conn:
    __slots__ = ("sock", "index", "msg", "sent", "got", "state", "error", "t0")


def many(args):
    deadline = time.monotonic() + args.deadline
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = args.count + 64
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(want, soft), hard) if hard != resource.RLIM_INFINITY else want, hard))
    sel = selectors.DefaultSelector()
    conns = []
    t0 = time.monotonic()
    # Phase 1: every connection opened at once (non-blocking connect).
    for i in range(args.count):
        c = Conn()
        c.index = i
        c.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        set_congestion(c.sock, args.cc)
        c.sock.setblocking(False)
        head = f"conn {i:05d} ".encode()
        body = random.Random(i).randbytes(max(0, args.size - len(head)))
        c.msg = (head + body)[: max(args.size, len(head))]
        c.sent = 0
        c.got = bytearray()
        c.error = None
        c.t0 = time.monotonic()
        c.state = "connecting"
        err = c.sock.connect_ex((args.server, args.port))
        if err not in (0, 115):  # EINPROGRESS
            c.state = "failed"
            c.error = f"connect_errno_{err}"
        else:
            sel.register(c.sock, selectors.EVENT_WRITE, c)
        conns.append(c)

    def pending(state):
        return sum(1 for c in conns if c.state == state)

    established = 0
    max_open = 0
    # Phase 1 continued: wait until all are connected.
    while pending("connecting") and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=0.5):
            c = key.data
            err = c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            sel.unregister(c.sock)
            if err:
                c.state = "failed"
                c.error = f"connect_errno_{err}"
            else:
                c.state = "connected"
                established += 1
    t_connected = time.monotonic()
    max_open = pending("connected")
    print(f"tcp_peer: {max_open}/{args.count} connected in {t_connected - t0:.2f} s", flush=True)
    # Phase 2: each sends its message and reads the echo.
    for c in conns:
        if c.state == "connected":
            c.state = "echoing"
            sel.register(c.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, c)
    while pending("echoing") and time.monotonic() < deadline:
        for key, mask in sel.select(timeout=0.5):
            c = key.data
            try:
                if mask & selectors.EVENT_WRITE and c.sent < len(c.msg):
                    c.sent += c.sock.send(c.msg[c.sent:])
                    if c.sent == len(c.msg):
                        sel.modify(c.sock, selectors.EVENT_READ, c)
                if mask & selectors.EVENT_READ:
                    data = c.sock.recv(65536)
                    if not data:
                        c.state = "failed"
                        c.error = "eof_before_echo"
                        sel.unregister(c.sock)
                        continue
                    c.got += data
                    if len(c.got) >= len(c.msg):
                        sel.unregister(c.sock)
                        if bytes(c.got) == c.msg:
                            c.state = "echoed"
                        else:
                            c.state = "failed"
                            c.error = "echo_mismatch"
            except (BlockingIOError, InterruptedError):
                pass
            except OSError as e:
                c.state = "failed"
                c.error = f"errno_{e.errno}"
                try:
                    sel.unregister(c.sock)
                except (KeyError, ValueError):
                    pass
    t_echoed = time.monotonic()
    echoed = pending("echoed")
    open_together = sum(1 for c in conns if c.state in ("echoed",))
    print(f"tcp_peer: {echoed}/{args.count} echoed in {t_echoed - t_connected:.2f} s "
          f"(all {open_together} still open)", flush=True)
    # Phase 3: close everything gracefully (FIN), then wait for each server's FIN (EOF).
    for c in conns:
        if c.state == "echoed":
            try:
                c.sock.shutdown(socket.SHUT_WR)
                c.state = "closing"
                sel.register(c.sock, selectors.EVENT_READ, c)
            except OSError as e:
                c.state = "failed"
                c.error = f"shutdown_errno_{e.errno}"
    closed = 0
    while pending("closing") and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=0.5):
            c = key.data
            try:
                data = c.sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError as e:
                c.state = "failed"
                c.error = f"close_errno_{e.errno}"
                sel.unregister(c.sock)
                continue
            if data:
                c.state = "failed"
                c.error = "data_after_echo"
            else:
                c.state = "closed"
                closed += 1
            sel.unregister(c.sock)
    t_closed = time.monotonic()
    for c in conns:
        if c.state in ("connecting", "connected", "echoing", "closing"):
            c.error = c.error or f"timeout_in_{c.state}"
            c.state = "failed"
        c.sock.close()
    failed = [c for c in conns if c.state != "closed"]
    reasons = {}
    for c in failed:
        reasons[c.error] = reasons.get(c.error, 0) + 1
    for c in failed[:10]:
        print(f"tcp_peer: connection {c.index} failed: {c.error}", flush=True)
    return summary(not failed, count=args.count, connected=established, echoed=echoed, closed=closed,
                   max_open_together=max_open, failed=len(failed),
                   reasons=",".join(f"{k}:{v}" for k, v in sorted(reasons.items())) or "none",
                   connect_s=f"{t_connected - t0:.2f}", echo_s=f"{t_echoed - t_connected:.2f}",
                   close_s=f"{t_closed - t_echoed:.2f}", total_s=f"{t_closed - t0:.2f}")


# --- http-digest ----------------------------------------------------------------------
def http_pattern(n):
    """quasi-httpd's /bytes/N body: byte i = top byte of (i * 2654435761) mod 2^32.

    Computed directly for i < 2^24; beyond that the identity
    pattern(i + 2^24) = pattern(i) + 0xB1 (mod 256) holds (2^24 * 2654435761 mod 2^32 =
    0xB1 << 24, which only adds to the top byte), so later blocks are translations of
    the first. Spot-checked against the direct formula.
    """
    c = 2654435761
    block = 1 << 24
    first = bytes(((i * c) >> 24) & 0xFF for i in range(min(n, block)))
    parts = [first]
    k = 1
    while k * block < n:
        shift = (0xB1 * k) & 0xFF
        table = bytes((v + shift) & 0xFF for v in range(256))
        parts.append(first[: min(block, n - k * block)].translate(table))
        k += 1
    data = b"".join(parts)
    rng = random.Random(5)
    for i in [0, 1, n - 1] + [rng.randrange(n) for _ in range(1000)]:
        if 0 <= i < n:
            assert data[i] == ((i * c) % (1 << 32)) >> 24, i
    return data


def http_digest(args):
    print(hashlib.sha256(http_pattern(args.n)).hexdigest())
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="mode", required=True)
    c = sub.add_parser("echo-client")
    c.add_argument("--server", type=safe_addr, required=True)
    c.add_argument("--port", type=int, required=True)
    c.add_argument("--bytes", type=size_arg, default=64 << 20)
    c.add_argument("--seed", type=int, default=1)
    c.add_argument("--deadline", type=float, default=60)
    s = sub.add_parser("echo-server")
    s.add_argument("--bind", type=safe_addr, required=True)
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--log")
    s.add_argument("--deadline", type=float, default=120)
    s.add_argument("--max-conns", type=int, default=0)
    m = sub.add_parser("many")
    m.add_argument("--server", type=safe_addr, required=True)
    m.add_argument("--port", type=int, required=True)
    m.add_argument("--count", type=int, default=1000)
    m.add_argument("--size", type=int, default=64)
    m.add_argument("--deadline", type=float, default=60)
    for sp in (c, s, m):
        sp.add_argument("--cc", default="cubic", help="kernel congestion control per socket ('' = default)")
    h = sub.add_parser("http-digest")
    h.add_argument("n", type=int)
    args = p.parse_args()
    if args.mode == "echo-client":
        return echo_client(args)
    if args.mode == "echo-server":
        return echo_server(args)
    if args.mode == "many":
        return many(args)
    return http_digest(args)


if __name__ == "__main__":
    sys.exit(main())
