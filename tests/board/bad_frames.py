#!/usr/bin/env python3
"""tests/board/bad_frames.py --iface TAP --dst-ip A --dst-mac M --src-ip A

Injects the bad inputs of the shared bad-inputs list (link, ARP, IPv4, ICMP, UDP,
TCP) into a tap, from the kernel's side, towards quasi on the other end (the board in
QEMU). Each kind is sent COUNT times (default 3) with scapy's sendp and named after
the drop counter quasi must show for it; prints "expect NAME N" lines for the test to
compare with the board's statistics. Only 198.18.0.0/15 addresses are accepted; the
frames go to one tap in the caller's namespace and nowhere else.
"""
import argparse
import ipaddress
import sys

from scapy.all import ARP, ICMP, IP, TCP, UDP, Ether, Raw, fragment, sendp  # noqa: E402

SAFE = ipaddress.ip_network("198.18.0.0/15")


def frames(a):
    eth = Ether(dst=a.dst_mac, src=a.src_mac)
    eth_ip = Ether(dst=a.dst_mac, src=a.src_mac, type=0x0800)  # for raw IPv4 bytes
    ip = IP(src=a.src_ip, dst=a.dst_ip)
    ping = ICMP(type=8, id=0x4242) / Raw(b"x" * 32)

    def raw(pkt):  # the IPv4 bytes with checksums computed, for hand-made corruption
        return bytearray(bytes(pkt))

    bad_csum = raw(ip / ping)
    bad_csum[10] ^= 0xFF
    version5 = raw(ip / ping)
    version5[0] = 0x55
    ihl4 = raw(ip / ping)
    ihl4[0] = 0x44
    out = {
        "ipv4_bad_checksum": eth_ip / Raw(bytes(bad_csum)),
        "ipv4_bad_version": eth_ip / Raw(bytes(version5)),
        "ipv4_bad_header_length": eth_ip / Raw(bytes(ihl4)),
        "ipv4_bad_total_length": eth / IP(src=a.src_ip, dst=a.dst_ip, len=200) / ping,
        "ipv4_bad_source": eth / IP(src="255.255.255.255", dst=a.dst_ip) / ping,
        "icmp_bad_checksum": eth / ip / ICMP(type=8, chksum=0x1234) / Raw(b"y" * 8),
        "udp_bad_checksum": eth / ip / UDP(sport=40000, dport=7, chksum=0x1234) / Raw(b"z" * 8),
        "udp_bad_length": eth / ip / UDP(sport=40000, dport=7, len=200) / Raw(b"z" * 8),
        "tcp_bad_checksum": eth / ip / TCP(sport=40001, dport=7, flags="S", chksum=0x1234),
        "tcp_bad_flags": eth / ip / TCP(sport=40002, dport=7, flags="SF"),
        "tcp_bad_data_offset": eth / ip / TCP(sport=40003, dport=7, flags="S", dataofs=4),
        "arp_bad_sender": Ether(dst="ff:ff:ff:ff:ff:ff", src=a.src_mac)
        / ARP(op=1, hwsrc="ff:ff:ff:ff:ff:ff", psrc=a.src_ip, pdst=a.dst_ip),
    }
    # Overlapping fragments (teardrop): the second starts inside the first.
    big = ip / ICMP(type=8, id=0x4343) / Raw(b"o" * 64)
    frags = fragment(big, fragsize=32)
    overlap = frags[1].copy()
    overlap.frag = 2  # 16 bytes, inside the first fragment's 32
    out["frag_overlap"] = [eth / frags[0], eth / overlap]
    # Ping of death: a last fragment ending past 65535.
    out["frag_too_big"] = [eth / IP(src=a.src_ip, dst=a.dst_ip, id=777, flags=0, frag=8189, proto=1) / Raw(b"d" * 64)]
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--iface", required=True)
    p.add_argument("--dst-ip", required=True)
    p.add_argument("--dst-mac", required=True)
    p.add_argument("--src-ip", required=True)
    p.add_argument("--src-mac", default="02:00:00:00:be:ef")
    p.add_argument("--count", type=int, default=3)
    a = p.parse_args()
    for addr in (a.dst_ip, a.src_ip):
        if ipaddress.ip_address(addr) not in SAFE:
            sys.exit(f"bad_frames: {addr} is outside 198.18.0.0/15")
    if not 1 <= a.count <= 100:
        sys.exit("bad_frames: --count must be 1..100")
    for name, pkts in frames(a).items():
        pkts = pkts if isinstance(pkts, list) else [pkts]
        for _ in range(a.count):
            sendp(pkts, iface=a.iface, verbose=False)
        print(f"expect {name} {a.count}")


if __name__ == "__main__":
    main()
