#!/usr/bin/env python3
"""tests/remote/sink.py ADDR UDP_PORT TCP_PORT COUNT_FILE: the kernel's sinks of the
remote tests and figures. UDP: binds ADDR:UDP_PORT (a closed port would answer with
ICMP errors, which quasi's socket reports and a handle passes to the generic path),
writes 0 to COUNT_FILE once bound, then the number of datagrams received every 100
and whenever 0.5 s pass without one; exits 10 s after the last datagram (60 s if
none came). TCP (unless TCP_PORT is 0): accepts on ADDR:TCP_PORT and reads each
connection to its end, for the remote TCP handles."""
import socket
import sys
import threading


def drain(conn):
    with conn:
        while conn.recv(65536):
            pass


def tcp_sink(addr, port):
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((addr, port))
    listener.listen(8)
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=drain, args=(conn,), daemon=True).start()


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    addr, udp_port, tcp_port, path = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    if tcp_port:
        threading.Thread(target=tcp_sink, args=(addr, tcp_port), daemon=True).start()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind((addr, udp_port))
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
