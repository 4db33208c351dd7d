#include "ports/arm/echo/remote_spec.hpp"

#include "jit/remote/device/exec_region.hpp"
#include "ports/arm/mps2-an385/board.hpp"
#include "ports/arm/mps2-an385/config.hpp"
#include "stack/socket.hpp"
#include "stack/stack.hpp"
#include "stack/tcp.hpp"
#include "stack/wire/icmp_frag_needed.hpp"

#include <cerrno>
#include <cstring>
#include <new>

namespace quasi::board {

namespace {

// The code buffer: data SSRAM, which the Cortex-M3 executes (no MPU programmed here;
// the default memory map makes 0x20000000-0x3FFFFFFF executable).
alignas(16) uint8_t g_code_region[kRemoteCodeBytes];

// After writing code: the writes complete before the instructions are fetched
// (ARMv7-M: DSB then ISB; the M3 has no caches to maintain).
void sync_code(void*, size_t) { __asm volatile("dsb\n\tisb" ::: "memory"); }

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

bool parse_server(const char* text, SockAddr& out) {
    const char* colon = std::strchr(text, ':');
    char ip[16];
    if (!colon || static_cast<size_t>(colon - text) >= sizeof ip) return false;
    std::memcpy(ip, text, static_cast<size_t>(colon - text));
    ip[colon - text] = '\0';
    unsigned port = 0;
    const char* p = colon + 1;
    for (; *p >= '0' && *p <= '9' && port <= 65535; ++p) port = port * 10 + static_cast<unsigned>(*p - '0');
    if (*p || port == 0 || port > 65535) return false;
    out.port = static_cast<uint16_t>(port);
    return parse_ipv4(ip, out.addr);
}

void put_figure(const char* key, uint64_t value) {
    console_put(" ");
    console_put(key);
    console_put(" ");
    console_put_u64(value);
}

void put_handle(const remote::RemoteHandleInfo& info) {
    put_figure("specialized", info.specialized);
    put_figure("installs", info.installs);
    put_figure("requests", info.requests);
    put_figure("specialized_sends", info.specialized_sends);
    put_figure("verified_sends", info.verified_sends);
    put_figure("generic_sends", info.generic_sends);
    put_figure("verify_failed", info.verify_failed);
    put_figure("status", static_cast<uint64_t>(info.last_status));
    put_figure("code_bytes", info.code_bytes);
}

// Runs the stack and the client until `done` (at most `limit` of the clock); false on timeout.
template <class Done>
bool run_until(Stack& stack, remote::RemoteClient& client, TimeNs limit, Done done) {
    for (TimeNs start = stack.now(); stack.now() - start < limit;) {
        stack.poll();
        client.poll();
        if (done()) return true;
    }
    return false;
}

// A route change mid-stream: a new prefix the stream does not use (198.19.N.0/24),
// via the gateway. The routing table's version moves, so every handle's route guard fires.
void change_route(Stack& stack, Ipv4Addr gateway) {
    static uint32_t n = 0;
    stack.add_route(Ipv4Addr{(198u << 24) | (19u << 16) | (n++ % 256) << 8}, 24, gateway);
}

// A router on the path says "fragmentation needed" (RFC 1191) about the segment at
// SND.UNA (in flight, as RFC 5927 asks): the frame enters through the stack's own
// Ethernet input, as if the LAN9118 had received it.
void path_mtu_falls(Stack& stack, const TcpSocket& s, uint16_t mtu) {
    PacketPtr frame = stack.pool().alloc();
    if (!frame) return;
    Interface& iface = *stack.interface(0);
    TcpFragNeeded{.dst_mac = iface.mac(), .src_mac = MacAddr{{0x02, 0, 0, 0, 0, 1}}, .router = s.remote_addr.get(),
                  .src = s.local_addr.get(), .dst = s.remote_addr.get(), .src_port = s.local_port.get(),
                  .dst_port = s.remote_port.get(), .seq = s.snd_una, .mtu = mtu}
        .emit(frame->append(TcpFragNeeded::kFrameLen));
    stack.ethernet_input(iface, std::move(frame));
}

// Why connect_peer gave up, on the UART: the step, its result, the socket's state and
// pending error, and every drop the stack counted so far (a frame that never left or
// never arrived shows there).
void report_no_connection(Stack& stack, const char* step, int64_t rc, int fd) {
    console_put("quasi-board: remote tcp: no connection to the peer: ");
    console_put(step);
    console_put(rc < 0 ? " -" : " ");
    console_put_u64(static_cast<uint64_t>(rc < 0 ? -rc : rc));
    if (const TcpSocket* s = fd >= 0 ? stack.descriptors().tcp(fd) : nullptr) {
        console_put(" state ");
        console_put(name(s->state));
        int error = 0;
        size_t len = sizeof error;
        getsockopt(stack, fd, kSolSocket, kSoError, &error, &len);
        put_figure("so_error", static_cast<uint64_t>(error));
        put_figure("rto_expiries", s->retransmits);
    }
    const Stats& stats = stack.stats();
    for (size_t i = 0; i < kDropReasonCount; ++i)
        if (stats.drops[i]) put_figure(name(Drop(i)), stats.drops[i]);
    console_put("\n");
}

// A TCP connection to `peer` with TCP_NODELAY; `in_handshake(fd)` runs once its SYN is
// out. ESTABLISHED within 5 s, or -1 (and the reason on the UART).
template <class InHandshake>
int connect_peer(Stack& stack, remote::RemoteClient& client, SockAddr peer, InHandshake in_handshake) {
    const int fd = socket(stack, kAfInet, kSockStream);
    if (fd < 0) {
        report_no_connection(stack, "socket()", fd, -1);
        return -1;
    }
    int one = 1;  // before the handle is asked for: its context freezes the option
    setsockopt(stack, fd, kIpProtoTcp, kTcpNodelay, &one, sizeof one);
    const char* failed = nullptr;
    int64_t rc = connect(stack, fd, peer);
    PollFd writable{fd, events::out, 0};
    if (rc != -EINPROGRESS)
        failed = "connect()";
    else if (in_handshake(fd); !run_until(stack, client, 5 * kSecond, [&] { return quasi::poll(stack, &writable, 1) > 0; }))
        failed = "no SYN-ACK within 5 s, connect()";
    else if (writable.revents & (events::err | events::hup))
        failed = "refused or reset, connect()";
    if (failed) {
        report_no_connection(stack, failed, rc, fd);
        close(stack, fd);
        return -1;
    }
    return fd;
}

// How long the handle took to run code again after a route change: the context is
// the same, so quasi-specd answers from its cache (one round trip and a link).
struct Respecialization {
    TimeNs changed_at = 0;
    TimeNs took = 0;
    void route_changed(Stack& stack, Ipv4Addr gateway) {
        change_route(stack, gateway);
        changed_at = stack.now();
    }
    void poll(Stack& stack, const remote::RemoteClient& client, int h) {
        if (changed_at && !took && client.info(h).specialized) took = stack.now() - changed_at;
    }
};

uint8_t pattern_byte(size_t i) { return static_cast<uint8_t>((static_cast<uint32_t>(i) * 2654435761u) >> 24); }

}  // namespace

bool parse_remote_arg(const char* token, RemoteArgs& args, bool& known) {
    known = true;
    if (!std::strncmp(token, "specd=", 6)) {
        args.enabled = parse_server(token + 6, args.server);
        return args.enabled;
    }
    if (!std::strncmp(token, "device=", 7)) {
        uint64_t v = 0;
        const char* p = token + 7;
        for (; *p >= '0' && *p <= '9'; ++p) v = v * 10 + static_cast<uint64_t>(*p - '0');
        args.device_id = v;
        return *p == '\0' && p != token + 7;
    }
    if (!std::strncmp(token, "key=", 4)) {
        const char* hex = token + 4;
        size_t n = std::strlen(hex);
        if (n % 2 || n / 2 < remote::kMinKeyBytes || n / 2 > remote::kMaxKeyBytes) return false;
        for (size_t i = 0; i < n / 2; ++i) {
            int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);
            if (hi < 0 || lo < 0) return false;
            args.key[i] = static_cast<uint8_t>(hi << 4 | lo);
        }
        args.key_len = n / 2;
        return true;
    }
    known = false;
    return true;
}

bool BoardRemote::start(Stack& stack, remote::VerifyTap& tap, const RemoteArgs& args) {
    if (!args.enabled || args.key_len == 0) return false;
    static remote::PlainExecRegion region(g_code_region, &sync_code);
    remote::RemoteConfig config;
    config.device_id = args.device_id;
    config.key = {args.key, args.key_len};
    config.server = args.server;
    config.code_capacity = kRemoteCodeCapacity;
    config.tcp_code_capacity = kRemoteTcpCodeCapacity;
    // Static storage: the client holds its message buffers (2 x 24 KiB); placed once at start-up.
    alignas(remote::RemoteClient) static uint8_t storage[sizeof(remote::RemoteClient)];
    client_ = new (storage) remote::RemoteClient(stack, region, &tap, config);
    return true;
}

void BoardRemote::poll() {
    if (client_) client_->poll();
}

void BoardRemote::run(Stack& stack, int fd, int count) {
    if (!client_) {
        console_put("quasi-board: remote: no specd= key= device= boot arguments\n");
        return;
    }
    static const uint8_t payload[64] = {};
    const TimeNs asked = stack.now();
    int h = client_->specialize_send(fd, {.message_size = sizeof payload});
    // The next hop's MAC unknown yet: one datagram through the generic path resolves it.
    for (int tries = 0; h == -EHOSTUNREACH && tries < 100; ++tries) {
        if (tries == 0) send(stack, fd, payload, sizeof payload);
        for (TimeNs t = stack.now(); stack.now() - t < 10 * kMillisecond;) stack.poll();
        h = client_->specialize_send(fd, {.message_size = sizeof payload});
    }
    if (h < 0) {
        console_put("quasi-board: remote: no handle, errno ");
        console_put_u64(static_cast<uint64_t>(-h));
        console_put("\n");
        return;
    }
    // Wait for the code, the stack and the client running (and the datagrams
    // meanwhile going out through the generic path, as an application's would).
    TimeNs usable = 0;
    while (stack.now() - asked < 5 * kSecond) {
        stack.poll();
        client_->poll();
        if (client_->info(h).specialized) {
            usable = stack.now();
            break;
        }
    }
    // The verified sends first, then up to 1000 timed as 'u' times the generic path
    // (each send flushed to the NIC, no poll between): under QEMU's -icount shift=0
    // the time per send is its instruction count. The rest with the stack running,
    // a route added halfway through.
    for (int i = 0; i < 16; ++i) {
        client_->send(h, payload, sizeof payload);
        stack.poll();
        client_->poll();
    }
    const int timed = count < 1000 ? count : 1000;
    const TimeNs start = stack.now();
    for (int i = 0; i < timed; ++i) client_->send(h, payload, sizeof payload);
    const TimeNs per_send = timed ? (stack.now() - start) / static_cast<TimeNs>(timed) : 0;
    const Ipv4Addr gateway = stack.descriptors().udp(fd)->remote_addr.get();
    Respecialization again;
    for (int i = timed; i < count; ++i) {
        if (i == timed + (count - timed) / 2) again.route_changed(stack, gateway);
        client_->send(h, payload, sizeof payload);
        stack.poll();
        client_->poll();
        again.poll(stack, *client_, h);
    }
    console_put("quasi-board: remote:");
    put_handle(client_->info(h));
    put_figure("usable_us", usable ? (usable - asked) / kMicrosecond : 0);
    put_figure("again_us", again.took / kMicrosecond);
    put_figure("ns_per_send", per_send);
    console_put("\n");
    client_->release(h);
}

void BoardRemote::run_tcp(Stack& stack, SockAddr peer, size_t bytes) {
    if (!client_) {
        console_put("quasi-board: remote: no specd= key= device= boot arguments\n");
        return;
    }
    remote::RemoteClient& client = *client_;
    // The handle is asked for during the handshake; its request leaves from the poll
    // that sees ESTABLISHED (remote_client.hpp). One full segment per message with the
    // kernel, declared before its SYN-ACK says so: its MSS of 1460 less the timestamp
    // option Linux negotiates (12).
    constexpr uint32_t message = 1460 - 12;
    int h = -ENOTCONN;
    TimeNs asked = 0;
    const int fd = connect_peer(stack, client, peer, [&](int connecting) {
        asked = stack.now();
        h = client.specialize_send(connecting, {.message_size = message});
    });
    if (fd < 0) {  // connect_peer said why
        if (h >= 0) client.release(h);
        return;
    }
    const TimeNs established = stack.now();
    TcpSocket& s = *stack.descriptors().tcp(fd);
    const uint32_t data_mss_at_start = stack.tcp().data_mss(s);  // the script checks it is `message`
    TimeNs usable = 0;
    if (h >= 0 && run_until(stack, client, 5 * kSecond, [&] { return client.info(h).specialized; }))
        usable = stack.now();
    static uint8_t chunk[1536];
    size_t sent = 0;
    Respecialization again;
    bool mtu_lowered = false;
    ssize_t send_error = 0;  // what stopped the stream early, if anything
    const Ipv4Addr gateway = s.remote_addr.get();
    for (TimeNs start = stack.now(); h >= 0 && sent < bytes && stack.now() - start < 60 * kSecond;) {
        if (!again.changed_at && sent >= bytes / 3) again.route_changed(stack, gateway);
        if (!mtu_lowered && sent >= 2 * bytes / 3) path_mtu_falls(stack, s, 1280), mtu_lowered = true;
        const size_t len = bytes - sent < message ? bytes - sent : message;
        // A message is written when the send ring has room for all of it (as with
        // SO_SNDLOWAT), so no call is refused with EAGAIN and counted as generic.
        ssize_t rc = 0;
        if (s.send_buffer.free_space() >= len) {
            for (size_t i = 0; i < len; ++i) chunk[i] = pattern_byte(sent + i);
            rc = client.send(h, chunk, len);
            if (rc > 0) sent += static_cast<size_t>(rc);
        }
        stack.poll();
        client.poll();
        if (!mtu_lowered) again.poll(stack, client, h);
        if (rc < 0 && rc != -EAGAIN) {
            send_error = -rc;
            break;
        }
    }
    // Everything acknowledged, then the FIN (the peer hashes what it read until EOF).
    run_until(stack, client, 10 * kSecond, [&] { return s.snd_una == s.snd_max && s.send_buffer.empty(); });
    // The code for the last change may still be on its way (a cold compile can take
    // longer than the stream): the handle must get it, so wait for it (bounded).
    if (h >= 0) run_until(stack, client, 5 * kSecond, [&] { return client.info(h).specialized; });
    remote::RemoteHandleInfo info = h >= 0 ? client.info(h) : remote::RemoteHandleInfo{};
    const uint64_t mss_after = s.snd_mss.get();
    const uint64_t data_mss = data_mss_at_start;
    if (h >= 0) client.release(h);
    close(stack, fd);
    run_until(stack, client, 200 * kMillisecond, [] { return false; });
    console_put("quasi-board: remote tcp:");
    put_handle(info);
    put_figure("handshake_us", (established - asked) / kMicrosecond);
    put_figure("usable_us", usable ? (usable - established) / kMicrosecond : 0);  // from ESTABLISHED
    put_figure("again_us", again.took / kMicrosecond);
    put_figure("data_mss", data_mss);
    put_figure("bytes", sent);
    put_figure("message", message);
    put_figure("mss_after", mss_after);
    put_figure("errno", h < 0 ? static_cast<uint64_t>(-h) : 0);
    put_figure("send_errno", static_cast<uint64_t>(send_error));
    console_put("\n");
}

}  // namespace quasi::board
