#!/usr/bin/env python3
"""scripts/board_footprint.py MAP: the board firmware's footprint per layer, as a
Markdown table, from the GNU ld link map (build-board/ports/arm/mps2-an385/
quasi-board-echo.map; -Wl,--gc-sections has already removed what nothing reaches).

Each input section kept in the image is charged to the layer of its object file
(stack/arp.cpp -> ARP, stack/tcp*.cpp -> TCP, ...) and to text, rodata, data or bss
by its section name. Standard library and runtime objects are one row.
"""
import re
import sys
from collections import defaultdict

LAYERS = [
    ("ARP", r"[/(]arp\.cpp"),
    ("IPv4 (routing, fragmentation, reassembly)", r"[/(](ipv4|reassembly|route)\.cpp"),
    ("ICMP", r"[/(]icmp\.cpp"),
    ("UDP", r"[/(]udp\.cpp"),
    ("TCP", r"[/(]tcp[a-z_]*\.cpp"),
    ("sockets (BSD-like API)", r"[/(]socket\.cpp"),
    ("Ethernet, buffers, Stack, timers, wire formats, stats", r"[/(](ethernet|buffer|stack|timer|random|stats|bytes|checksum|checksum_kernel)\.cpp"),
    ("specialization contexts (context/)", r"[/(](extraction|udp_context|tcp_context)\.cpp"),
    ("board: startup, UART, SysTick, syscalls, LAN9118", r"quasi_board_mps2"),
    ("firmware: echo, HTTP, heap audit, TCP arena", r"[/(](board_echo|services|heap_audit|buddy_arena)\.cpp"),
    ("remote specialization: protocol, client, firmware glue", r"libquasi_specd_proto|libquasi_remote_device|remote_spec\.cpp"),
    ("newlib-nano, libstdc++, libgcc", r"\.a\(|/usr/lib"),
]
KINDS = ("text", "rodata", "data", "bss")
STACK_LAYERS = LAYERS[:6] + LAYERS[6:7]


def kind_of(section):
    for k in ("rodata", "text", "data", "bss"):
        if section.startswith("." + k) or section == "COMMON" and k == "bss":
            return k
    if section.startswith(".ARM.ex") or section.startswith(".init_array") or section == ".vectors":
        return "rodata"
    return None


def layer_of(obj):
    for name, pattern in LAYERS:
        if re.search(pattern, obj):
            return name
    return "other"


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    lines = open(sys.argv[1]).read().split("\n")
    start = next(i for i, l in enumerate(lines) if l.startswith("Linker script and memory map"))
    sizes = defaultdict(lambda: defaultdict(int))
    pending = None
    for line in lines[start:]:
        m = re.match(r"^ (\.\S+|COMMON)\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S.*)$", line)
        if not m and re.match(r"^ (\.\S+|COMMON)$", line):
            pending = line.strip()
            continue
        if not m and pending:
            m2 = re.match(r"^\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S.*)$", line)
            if m2:
                section, size, obj = pending, int(m2.group(2), 16), m2.group(3)
            pending = None
            if not m2:
                continue
        elif m:
            section, size, obj = m.group(1), int(m.group(3), 16), m.group(4)
            pending = None
        else:
            continue
        k = kind_of(section)
        if k and size:
            sizes[layer_of(obj)][k] += size
    print("| layer | .text | .rodata | .data | .bss |")
    print("|---|---:|---:|---:|---:|")
    total = defaultdict(int)
    for name, _ in LAYERS + [("other", "")]:
        if name not in sizes:
            continue
        row = sizes[name]
        print(f"| {name} | " + " | ".join(str(row[k]) for k in KINDS) + " |")
        if (name, _) in STACK_LAYERS:
            for k in KINDS:
                total[k] += row[k]
    print("| **the stack (rows 1-7)** | " + " | ".join(f"**{total[k]}**" for k in KINDS) + " |")


if __name__ == "__main__":
    main()
