// quasi-board-echo: the firmware of the bare-metal port (ports/arm/README.md).
//
// On mps2-an385 under qemu-system-arm, with the LAN9118 on a tap: answers ARP and
// ping, echoes UDP and TCP on port 7 (RFC 862; several TCP connections at once) and
// serves GET /bytes/N over HTTP/1.0-style connections on port 80 (the same body as
// quasi-httpd: byte i is the top byte of (i * 2654435761) mod 2^32).
//
// Address: 198.18.0.2/24 via 198.18.0.1 unless the boot arguments (QEMU
// -semihosting-config arg=...) say "ip=A/LEN" and "gw=G". Console (UART0): 's'
// prints the statistics, 'q' prints them and stops QEMU with status 0, or 1 when
// the heap audit failed (an allocation on the data path), 'u' times 1000 sends of a
// 64-byte UDP datagram to the gateway's discard port (9) through the whole path down
// to the LAN9118's FIFO, 'r' asks quasi-specd for that socket's specialized send
// path and sends 20,000 datagrams through the handle, 't' does the same for a TCP
// connection to the gateway's port 5001 and 4 MiB (remote_spec.hpp). Under QEMU's
// -icount shift=0 (scripts/board.sh run --icount) one nanosecond of the clock is one
// instruction, so the time is an instruction count.
//
// Every buffer here is static; after start-up nothing is allocated (heap_audit.hpp):
// TCP takes its memory from a static arena sized by config.hpp (buddy_arena.hpp).
#include "ports/arm/echo/buddy_arena.hpp"
#include "ports/arm/echo/heap_audit.hpp"
#include "ports/arm/echo/remote_spec.hpp"
#include "ports/arm/echo/services.hpp"
#include "ports/arm/mps2-an385/board.hpp"
#include "ports/arm/mps2-an385/config.hpp"
#include "ports/arm/mps2-an385/lan9118.hpp"
#include "ports/arm/mps2-an385/syscalls.hpp"
#include "stack/socket.hpp"
#include "stack/stack.hpp"

#include <cstring>

using namespace quasi;
using namespace quasi::board;

namespace {

// The TCP layer's memory: everything it takes, at start-up and as connections come.
alignas(kArenaMaxBlock) uint8_t g_arena_region[kArenaBytes];
uint8_t g_arena_map[BuddyArena::map_bytes(kArenaBytes)];
BuddyArena g_arena(g_arena_region, kArenaBytes, kArenaMaxBlock, g_arena_map);
size_t g_arena_startup_bytes = 0;  // the tables: what the arena holds when start-up ends

struct Address {
    Ipv4Addr ip{(198u << 24) | (18u << 16) | 2u};
    uint8_t prefix_len = 24;
    Ipv4Addr gateway{(198u << 24) | (18u << 16) | 1u};
};

bool parse_cidr(const char* text, Ipv4Addr& ip, uint8_t& len) {
    char buf[20];
    const char* slash = std::strchr(text, '/');
    if (!slash || static_cast<size_t>(slash - text) >= sizeof buf) return false;
    std::memcpy(buf, text, static_cast<size_t>(slash - text));
    buf[slash - text] = '\0';
    unsigned value = 0;
    const char* p = slash + 1;
    if (*p < '0' || *p > '9') return false;
    for (; *p >= '0' && *p <= '9'; ++p) value = value * 10 + static_cast<unsigned>(*p - '0');
    if (*p != '\0' || value == 0 || value > 32) return false;
    len = static_cast<uint8_t>(value);
    return parse_ipv4(buf, ip);
}

// "ip=A/LEN gw=G" (and remote_spec.hpp's) from the boot arguments; a malformed one is
// reported and ignored.
Address boot_address(RemoteArgs& remote) {
    Address a;
    static char cmdline[256];
    if (!semihosting_cmdline(cmdline, sizeof cmdline)) return a;
    for (char* token = cmdline; *token;) {
        char* end = token;
        while (*end && *end != ' ') ++end;
        const bool last = *end == '\0';
        *end = '\0';
        bool ok = true;
        if (!std::strncmp(token, "ip=", 3))
            ok = parse_cidr(token + 3, a.ip, a.prefix_len);
        else if (!std::strncmp(token, "gw=", 3))
            ok = parse_ipv4(token + 3, a.gateway);
        else if (bool known; !parse_remote_arg(token, remote, known))
            ok = false;
        if (!ok) {
            console_put("quasi-board: ignoring boot argument '");
            console_put(token);
            console_put("'\n");
        }
        if (last) break;
        token = end + 1;
    }
    return a;
}

void put_line(const char* key, uint64_t value, const char* note = nullptr) {
    console_put("  ");
    console_put(key);
    console_put(" ");
    console_put_u64(value);
    if (note) {
        console_put("  (");
        console_put(note);
        console_put(")");
    }
    console_put("\n");
}

bool heap_flat() {
    return heap_audit().data_path_allocations == 0 && g_arena.stats().refusals == 0;
}

void print_stats(const Stack& stack, const Lan9118& nic, const Services& services, const SysTickClock& clock) {
    console_put("quasi-board: stats begin\n");
    put_line("uptime_ms", clock.now() / kMillisecond);
    put_line("clock_held", clock.held(), "clock readings that came out behind an earlier one (a reload not yet taken, late ticks pending as one): held");
    const Stats& s = stack.stats();
    for (size_t i = 0; i < kCounterCount; ++i)
        if (s.counters[i]) put_line(name(Counter(i)), s.counters[i]);
    for (size_t i = 0; i < kDropReasonCount; ++i)
        if (s.drops[i]) {
            console_put("  drop ");
            put_line(name(Drop(i)), s.drops[i], description(Drop(i)));
        }
    nic.stats().for_each([](const char* key, const char* text, uint64_t value) {
        console_put("  nic ");
        put_line(key, value, value ? text : nullptr);
    });
    services.print(put_line);
    const HeapAudit& h = heap_audit();
    put_line("heap startup_allocations", h.startup_allocations);
    put_line("heap startup_bytes", h.startup_bytes);
    put_line("heap data_path_allocations", h.data_path_allocations, "malloc calls after start-up: must be 0");
    put_line("heap data_path_bytes", h.data_path_bytes);
    put_line("heap sbrk_calls", sbrk_stats().calls);
    put_line("heap sbrk_top", sbrk_stats().top);
    const BuddyArena::Stats& a = g_arena.stats();
    put_line("arena bytes", g_arena.size());
    put_line("arena startup_bytes", g_arena_startup_bytes, "TCP's sockets, records and tables");
    put_line("arena allocations", a.allocations, "TCP sockets, tables, rings, range sets");
    put_line("arena refusals", a.refusals, "requests the arena could not meet: must be 0");
    put_line("arena bytes_in_use", a.bytes_in_use);
    put_line("arena high_water", a.high_water);
    console_put(heap_flat() ? "quasi-board: heap flat\n" : "quasi-board: HEAP GREW ON THE DATA PATH OR THE ARENA REFUSED\n");
    console_put("quasi-board: stats end\n");
}

// 'u': see the header. The gateway's MAC must be known (any traffic from it does).
void udp_send_benchmark(Stack& stack, int fd, const SysTickClock& clock) {
    constexpr int kSends = 1000;
    static const uint8_t payload[64] = {};
    for (int i = 0; i < 10; ++i) {  // warm-up: the ARP entry, the caches of the route
        send(stack, fd, payload, sizeof payload);
        stack.flush_all();
    }
    int sent = 0;
    const TimeNs start = clock.now();
    for (int i = 0; i < kSends; ++i) {
        sent += send(stack, fd, payload, sizeof payload) == ssize_t{sizeof payload};
        stack.flush_all();
    }
    const TimeNs elapsed = clock.now() - start;
    console_put("quasi-board: udp_send 64 B x ");
    console_put_u64(static_cast<uint64_t>(sent));
    console_put(" sent, ");
    console_put_u64(elapsed / kSends);
    console_put(" ns each (instructions under -icount shift=0)\n");
}

}  // namespace

int main() {
    console_init();
    console_put("quasi-board: mps2-an385, quasi-board-echo\n");
    static SysTickClock clock;
    clock.start();
    static RemoteArgs remote_args;
    const Address address = boot_address(remote_args);

    // The pool is the board's, so the NIC comes up (and its free-running counter,
    // whose value at this point varies with host timing under QEMU, seeds the
    // stack's hashes; a real board would read a TRNG) before the Stack.
    const Stack::Config config = stack_config(0, &g_arena);
    static BufferPool pool(config.pool);
    static Lan9118 nic(Lan9118::kMps2Base, pool);
    if (!nic.init()) {
        console_put("quasi-board: no LAN9118 answers at 0x40200000 (QEMU: -nic tap,...,model=lan9118)\n");
        return 2;
    }
    static Stack stack(stack_config((uint64_t{nic.free_running()} << 32) ^ clock.now(), &g_arena), clock, &pool);
    if (g_arena.stats().refusals) {
        console_put("quasi-board: the TCP arena is too small for config.hpp's tables (kArenaBytes)\n");
        return 2;
    }
    // With a specialization server, frames pass a VerifyTap (remote handles' verify mode).
    static remote::VerifyTap tap(nic);
    Netif& netif = remote_args.enabled ? static_cast<Netif&>(tap) : nic;
    if (int rc = stack.add_interface(netif, address.ip, address.prefix_len); rc < 0) {
        console_put("quasi-board: cannot add the interface\n");
        return 2;
    }
    if (!address.gateway.is_unspecified() && stack.add_route(Ipv4Addr{}, 0, address.gateway) < 0)
        console_put("quasi-board: gateway not on the subnet: no default route\n");
    static Services services(stack);
    if (!services.start()) {
        console_put("quasi-board: cannot open the service sockets\n");
        return 2;
    }
    // The benchmark's socket, connected to the gateway's discard port.
    const int bench_fd = socket(stack, kAfInet, kSockDgram);
    if (bench_fd < 0 || connect(stack, bench_fd, SockAddr{address.gateway, 9}) < 0)
        console_put("quasi-board: no benchmark socket (no gateway?)\n");
    static BoardRemote remote;
    if (remote_args.enabled && !remote.start(stack, tap, remote_args))
        console_put("quasi-board: specd= needs key= (16..64 bytes in hex) and device=\n");
    end_startup();
    g_arena_startup_bytes = g_arena.stats().bytes_in_use;

    // What start-up took: the heap (sbrk) and the arena's tables (the rest of the
    // arena is the rings' budget).
    console_put("quasi-board: start-up RAM: heap ");
    console_put_u64(sbrk_stats().top);
    console_put(" B, TCP arena ");
    console_put_u64(g_arena.stats().bytes_in_use);
    console_put(" B of ");
    console_put_u64(g_arena.size());
    console_put(" B\n");

    char ip[16];
    console_put("quasi-board: ");
    console_put(format(address.ip, ip, sizeof ip));
    console_put("/");
    console_put_u64(address.prefix_len);
    console_put(" mac ");
    char mac[18];
    console_put(format(nic.mac(), mac, sizeof mac));
    console_put(nic.link_up() ? " link up" : " link down");
    console_put(", UDP/TCP echo on 7, HTTP on 80; console: s = stats, q = quit, u = UDP send timing, r/t = remote UDP/TCP handle\n");
    console_put("quasi-board: ready\n");

    for (;;) {
        size_t work = stack.poll();
        work += services.serve();
        const int c = console_read();
        if (c == 's') print_stats(stack, nic, services, clock);
        if (c == 'u' && bench_fd >= 0) udp_send_benchmark(stack, bench_fd, clock);
        if (c == 'r' && bench_fd >= 0) remote.run(stack, bench_fd, 20000);
        if (c == 't') remote.run_tcp(stack, SockAddr{address.gateway, 5001}, size_t{4} << 20);
        remote.poll();
        if (c == 'q') {
            print_stats(stack, nic, services, clock);
            return heap_flat() ? 0 : 1;
        }
        if (work == 0 && c < 0) wait_for_event(nic);
    }
}
