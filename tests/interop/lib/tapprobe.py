#!/usr/bin/env python3
"""Bounded ICMP echo probe over a tap device, used by the interop library self-test.

It plays the part of the userspace stack: it attaches to an existing tap device
(IFF_TAP | IFF_NO_PI), answers ARP requests for its own address, sends COUNT ICMP
echo requests to the kernel-side address, and counts what comes back. It must run
inside the network namespace that holds the tap (e.g. via `qnetns_exec NS ...`).

Output: one JSON object on stdout:
  sent        echo requests written to the tap
  replies     echo replies received for our id (duplicates included)
  unique      distinct sequence numbers among those replies
  duplicates  replies - unique
  reflected   our own frames that came back out of the tap (source MAC == ours)
  other       any other frame received

Everything is bounded: COUNT packets (<= 60000), INTERVAL between them, and at most
WAIT seconds of draining after the last one. Only 198.18.0.0/15 addresses are accepted.
Standard library only (no scapy), so it runs with the `core` package set.
"""

import argparse
import fcntl
import ipaddress
import json
import os
import select
import struct
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
SAFE_NET = ipaddress.ip_network("198.18.0.0/15")
ETH_P_IP = 0x0800
ETH_P_ARP = 0x0806


def csum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def mac_bytes(text: str) -> bytes:
    return bytes(int(x, 16) for x in text.split(":"))


def safe_ip(text: str) -> bytes:
    addr = ipaddress.ip_address(text)
    if addr not in SAFE_NET:
        sys.exit(f"tapprobe: refusing address {text}: outside {SAFE_NET}")
    return addr.packed


def echo_request(src_mac, dst_mac, src_ip, dst_ip, ident, seq, payload_len):
    payload = bytes((i & 0xFF) for i in range(payload_len))
    icmp = struct.pack("!BBHHH", 8, 0, 0, ident, seq) + payload
    icmp = icmp[:2] + struct.pack("!H", csum(icmp)) + icmp[4:]
    total = 20 + len(icmp)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, seq & 0xFFFF, 0x4000, 64, 1, 0,
                     src_ip, dst_ip)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return dst_mac + src_mac + struct.pack("!H", ETH_P_IP) + ip + icmp


def arp_reply(my_mac, my_ip, frame):
    # frame is an ARP request for my_ip; build the reply.
    sha = frame[22:28]
    spa = frame[28:32]
    arp = struct.pack("!HHBBH6s4s6s4s", 1, ETH_P_IP, 6, 4, 2, my_mac, my_ip, sha, spa)
    return sha + my_mac + struct.pack("!H", ETH_P_ARP) + arp


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tap", required=True)
    ap.add_argument("--ip", required=True, help="our (probe) IPv4 address")
    ap.add_argument("--peer", required=True, help="kernel-side IPv4 address")
    ap.add_argument("--mac", default="02:00:5e:51:00:02", help="our MAC")
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--interval", type=float, default=0.002)
    ap.add_argument("--wait", type=float, default=1.0)
    ap.add_argument("--size", type=int, default=56, help="ICMP payload bytes")
    args = ap.parse_args()
    if not 1 <= args.count <= 60000:
        sys.exit("tapprobe: --count must be in 1..60000")
    if not 0 <= args.wait <= 30:
        sys.exit("tapprobe: --wait must be in 0..30")
    if not 0 <= args.size <= 1400:
        sys.exit("tapprobe: --size must be in 0..1400")

    my_ip = safe_ip(args.ip)
    peer_ip = safe_ip(args.peer)
    my_mac = mac_bytes(args.mac)
    with open(f"/sys/class/net/{args.tap}/address") as f:
        peer_mac = mac_bytes(f.read().strip())

    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", args.tap.encode(), IFF_TAP | IFF_NO_PI))

    ident = os.getpid() & 0xFFFF
    stats = {"sent": 0, "replies": 0, "unique": 0, "duplicates": 0, "reflected": 0, "other": 0}
    seen = set()

    def drain(deadline):
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            r, _, _ = select.select([fd], [], [], left)
            if not r:
                return
            while True:
                try:
                    frame = os.read(fd, 65536)
                except BlockingIOError:
                    break
                handle(frame)

    def handle(frame):
        if len(frame) < 14:
            stats["other"] += 1
            return
        if frame[6:12] == my_mac:
            stats["reflected"] += 1
            return
        etype = struct.unpack("!H", frame[12:14])[0]
        if etype == ETH_P_ARP and len(frame) >= 42:
            op = struct.unpack("!H", frame[20:22])[0]
            if op == 1 and frame[38:42] == my_ip:
                os.write(fd, arp_reply(my_mac, my_ip, frame))
                return
        if etype == ETH_P_IP and len(frame) >= 42:
            ihl = (frame[14] & 0x0F) * 4
            proto = frame[23]
            icmp = frame[14 + ihl:]
            if proto == 1 and len(icmp) >= 8 and icmp[0] == 0:
                rid, rseq = struct.unpack("!HH", icmp[4:8])
                if rid == ident:
                    stats["replies"] += 1
                    seen.add(rseq)
                    return
        stats["other"] += 1

    start = time.monotonic()
    for seq in range(args.count):
        os.write(fd, echo_request(my_mac, peer_mac, my_ip, peer_ip, ident, seq & 0xFFFF, args.size))
        stats["sent"] += 1
        drain(time.monotonic() + args.interval)
        if time.monotonic() - start > 60:
            break  # hard bound on the send phase
    drain(time.monotonic() + args.wait)
    os.close(fd)

    stats["unique"] = len(seen)
    stats["duplicates"] = stats["replies"] - stats["unique"]
    print(json.dumps(stats))
    return 0


if __name__ == "__main__":
    sys.exit(main())
