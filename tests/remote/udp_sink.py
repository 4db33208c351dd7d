#!/usr/bin/env python3
"""tests/remote/udp_sink.py ADDR PORT COUNT_FILE: the kernel's UDP sink of the remote
tests and figures. Binds ADDR:PORT (a closed port would answer with ICMP errors,
which quasi's socket reports and a handle passes to the generic path), writes 0 to
COUNT_FILE once bound, then the number of datagrams received every 100 and whenever
0.5 s pass without one; exits 10 s after the last datagram (60 s if none came)."""
import socket
import sys


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    addr, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind((addr, port))
    open(path, "w").write("0")
    s.settimeout(0.5)
    n = 0
    quiet = 0.0  # seconds without a datagram
    while quiet < (10 if n else 60):
        try:
            s.recv(2048)
        except socket.timeout:
            quiet += 0.5
            open(path, "w").write(str(n))
            continue
        quiet = 0.0
        n += 1
        if n % 100 == 0:
            open(path, "w").write(str(n))
    open(path, "w").write(str(n))


if __name__ == "__main__":
    main()
