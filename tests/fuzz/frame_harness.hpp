// The whole-stack harness behind frame_fuzzer (and the corpus generator, which plays
// conversations against it to learn sequence numbers).
//
// The fuzzer owns end A of an in-memory link and injects frames; a Stack on end B
// (198.18.0.2/24) receives them. B runs:
//  - a UDP echo service on port 7 (RFC 862), replying to every datagram;
//  - a UDP socket bound to 5000 and connected to 198.18.0.1:9, which sent one
//    datagram at start-up (so an ARP request is outstanding, and ICMP errors quoting
//    that datagram reach a socket);
//  - a TCP echo service on port 7 (backlog 2, at most kMaxTcpConnections served; a
//    connection is closed when the peer's FIN or an error arrives);
//  - a TCP client that connected to 198.18.0.1:80 at start-up, echoing what it gets.
// Limits are small (TCP: 16 sockets, 16 KB buffers, SYN cookies after 4 half-open)
// so that every "full" path is reachable with short inputs.
//
// After each frame the stack is polled until idle, everything it sent is drained and
// checked (check_frame_out), and the sockets are served. finish() closes every
// socket, runs virtual time 77 minutes on (past every ARP, reassembly and TCP timeout)
// and checks that every buffer is back in the pool, that no TCP socket is left, and
// that the counters agree with what the harness saw. A violation traps.
//
// Everything but the buffer pool is built per harness on a fresh virtual clock with
// a fixed seed, so an input always plays out the same way.
#pragma once

#include "frame_records.hpp"
#include "ports/x86/mem_link.hpp"
#include "stack/socket.hpp"
#include "stack/stack.hpp"
#include "stack/wire/arp.hpp"
#include "stack/wire/ethernet.hpp"
#include "stack/wire/icmp.hpp"
#include "stack/wire/ipv4.hpp"
#include "stack/wire/tcp.hpp"
#include "stack/wire/udp.hpp"

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace quasi::fuzz {

constexpr Ipv4Addr kOurAddress = Ipv4Addr::from_octets(198, 18, 0, 2);
constexpr Ipv4Addr kPeerAddress = Ipv4Addr::from_octets(198, 18, 0, 1);
constexpr Ipv4Addr kSubnetBroadcast = Ipv4Addr::from_octets(198, 18, 0, 255);
constexpr uint8_t kPrefixLen = 24;
constexpr MacAddr kPeerMac{{0x02, 0x00, 0x00, 0x00, 0x00, 0x0a}};  // MemLink's defaults
constexpr MacAddr kOurMac{{0x02, 0x00, 0x00, 0x00, 0x00, 0x0b}};
constexpr uint16_t kEchoPort = 7;          // UDP and TCP
constexpr uint16_t kConnectedPort = 5000;  // UDP, connected to the peer's discard port
constexpr uint16_t kDiscardPort = 9;
constexpr uint16_t kTcpClientRemotePort = 80;
constexpr size_t kMaxTcpConnections = 4;
constexpr uint64_t kSeed = 0x5eed;
constexpr size_t kPoolBuffers = 1024;
constexpr int kMaxSettleRounds = 64;
constexpr size_t kMaxUdpDatagram = 65535;

// The outbound frame being checked, if any: printed with a violation for triage.
inline std::span<const uint8_t> g_frame_out;

// The invariant, the file and line, and a trap: libFuzzer saves the input.
[[noreturn]] inline void violated(const char* what, int line) {
    std::fprintf(stderr, "frame_fuzzer: invariant violated at frame_harness.hpp:%d: %s\n", line, what);
    if (!g_frame_out.empty()) {
        std::fprintf(stderr, "frame_fuzzer: in the frame the stack sent (%zu bytes):", g_frame_out.size());
        for (size_t i = 0; i < g_frame_out.size(); ++i)
            std::fprintf(stderr, "%s%02x", i % 16 ? " " : "\n  ", g_frame_out[i]);
        std::fprintf(stderr, "\n");
    }
    __builtin_trap();
}
#define FUZZ_CHECK(cond)                        \
    do {                                        \
        if (!(cond)) violated(#cond, __LINE__); \
    } while (0)

inline BufferPool& shared_pool() {
    static BufferPool pool{BufferPool::Config{.count = kPoolBuffers}};
    return pool;
}

// QUASI_FUZZ_VERBOSE=1 prints what each input did (for triage, and for checking that
// a seed reaches what it is meant to).
inline bool verbose() {
    static const bool on = std::getenv("QUASI_FUZZ_VERBOSE") != nullptr;
    return on;
}

inline void print_stats(const Stats& s) {
    std::fprintf(stderr, "  counters:");
    for (size_t i = 0; i < kCounterCount; ++i)
        if (s.counters[i]) std::fprintf(stderr, " %s=%llu", name(Counter(i)), (unsigned long long)s.counters[i]);
    std::fprintf(stderr, "\n  drops:");
    for (size_t i = 0; i < kDropReasonCount; ++i)
        if (s.drops[i]) std::fprintf(stderr, " %s=%llu", name(Drop(i)), (unsigned long long)s.drops[i]);
    std::fprintf(stderr, "\n");
}

// Everything the stack counted except the receive counters themselves.
inline uint64_t activity(const Stats& s) {
    uint64_t total = s.total_drops();
    for (size_t i = 0; i < kCounterCount; ++i) total += s.counters[i];
    return total - s[Counter::rx_frames] - s[Counter::rx_bytes];
}

// ---- the injected frame ----

inline void fix_transport_checksum(const Ipv4View& ip) {
    std::span<uint8_t> payload = ip.payload();
    switch (ip.protocol()) {
        case uint8_t(IpProtocol::icmp):
            if (payload.size() >= kIcmpHeaderLen) IcmpView{payload}.fill_checksum();
            return;
        case uint8_t(IpProtocol::udp): {
            UdpView udp{payload};
            if (udp.check() || udp.checksum() == 0) return;  // 0: "no checksum", left as the fuzzer chose
            store_be16(payload.data() + 6, 0);
            ChecksumAccumulator acc;
            add_pseudo_header(acc, ip.src(), ip.dst(), uint8_t(IpProtocol::udp), udp.length());
            acc.add(payload.data(), udp.length());
            store_be16(payload.data() + 6, UdpRepr::finish_checksum(acc));
            return;
        }
        case uint8_t(IpProtocol::tcp): {
            if (payload.size() < kTcpMinHeaderLen) return;
            store_be16(payload.data() + 16, 0);
            ChecksumAccumulator acc;
            add_pseudo_header(acc, ip.src(), ip.dst(), uint8_t(IpProtocol::tcp), static_cast<uint16_t>(payload.size()));
            acc.add(payload);
            store_be16(payload.data() + 16, acc.finish());
            return;
        }
        default: return;
    }
}

inline void fix_checksums(std::span<uint8_t> frame) {
    EthernetView eth{frame};
    if (eth.check() || eth.ethertype() != uint16_t(EtherType::ipv4)) return;
    Ipv4View ip{eth.payload()};
    if (ip.check()) return;
    ip.fill_checksum();
    if (!ip.is_fragment()) fix_transport_checksum(ip);
}

// What the harness needs to know of an injected frame.
struct InjectedFrame {
    bool fragment = false;  // held for reassembly: may leave no trace in the counters
    bool tcp_rst = false;   // a RST is never answered with a RST (RFC 9293 3.10.7)
};

inline InjectedFrame classify(std::span<uint8_t> frame) {
    InjectedFrame out;
    EthernetView eth{frame};
    if (eth.check() || eth.ethertype() != uint16_t(EtherType::ipv4)) return out;
    Ipv4View ip{eth.payload()};
    if (ip.check()) return out;
    out.fragment = ip.is_fragment();
    if (!out.fragment && ip.protocol() == uint8_t(IpProtocol::tcp)) {
        TcpView tcp{ip.payload()};
        out.tcp_rst = !tcp.check() && (tcp.flags() & tcp_flags::rst);
    }
    return out;
}

// ---- what the stack may send ----

inline bool on_our_subnet(Ipv4Addr a) {
    return (a.value >> (32 - kPrefixLen)) == (kOurAddress.value >> (32 - kPrefixLen));
}

inline void check_arp_out(std::span<uint8_t> eth_payload, const MacAddr& eth_dst) {
    ArpView arp{eth_payload};
    FUZZ_CHECK(!arp.check());
    FUZZ_CHECK(arp.sender_mac() == kOurMac);
    FUZZ_CHECK(arp.sender_ip() == kOurAddress || arp.sender_ip().is_unspecified());
    if (arp.operation() == uint16_t(ArpOp::reply)) {
        // Replies go to the asker only, from the address it asked about.
        FUZZ_CHECK(arp.sender_ip() == kOurAddress);
        FUZZ_CHECK(eth_dst == arp.target_mac());
        FUZZ_CHECK(!arp.target_mac().is_multicast() && !arp.target_mac().is_zero());
    } else {
        FUZZ_CHECK(on_our_subnet(arp.target_ip()));
    }
}

inline void check_icmp_out(std::span<uint8_t> message, Ipv4Addr dst) {
    IcmpView icmp{message};
    FUZZ_CHECK(!icmp.check());
    FUZZ_CHECK(icmp.checksum_ok());
    const uint8_t type = icmp.type();
    FUZZ_CHECK(type == uint8_t(IcmpType::echo_reply) || is_icmp_error(type));
    if (!is_icmp_error(type)) return;
    // RFC 1812 4.3.2.3 size, and RFC 1122 3.2.2: about an unfragmented or first,
    // unicast datagram sent to us by the host we tell, and never about an ICMP error.
    FUZZ_CHECK(kIpv4MinHeaderLen + message.size() <= 576);
    std::span<uint8_t> body = icmp.body();
    FUZZ_CHECK(body.size() >= kIpv4MinHeaderLen);
    Ipv4View quoted{body};
    FUZZ_CHECK(quoted.version() == 4);
    FUZZ_CHECK(quoted.dst() == kOurAddress);
    FUZZ_CHECK(quoted.src() == dst);
    FUZZ_CHECK(quoted.fragment_offset() == 0);
    if (quoted.protocol() == uint8_t(IpProtocol::icmp)) {
        FUZZ_CHECK(body.size() > quoted.header_len());
        FUZZ_CHECK(!is_icmp_error(body[quoted.header_len()]));
    }
}

inline void check_tcp_out(std::span<uint8_t> segment, Ipv4Addr src, Ipv4Addr dst, bool answering_rst) {
    TcpView tcp{segment};
    FUZZ_CHECK(!tcp.check());
    FUZZ_CHECK(tcp.checksum_ok(src, dst));
    TcpRepr seg;
    FUZZ_CHECK(!TcpRepr::parse(tcp, seg));  // our own options are well formed
    using namespace tcp_flags;
    const uint8_t f = tcp.flags();
    FUZZ_CHECK((f & (syn | fin | rst | ack)) != 0);
    FUZZ_CHECK((f & (syn | fin)) != (syn | fin));
    FUZZ_CHECK((f & (syn | rst)) != (syn | rst));
    if (f & rst) {
        FUZZ_CHECK(tcp.payload().empty());
        FUZZ_CHECK(!answering_rst);
    }
    if (f & syn) FUZZ_CHECK(seg.options.has_mss && seg.options.mss >= 88);
    FUZZ_CHECK(tcp.payload().size() <= 1500 - kIpv4MinHeaderLen - kTcpMinHeaderLen);
}

inline void check_ipv4_out(std::span<uint8_t> eth_payload, const MacAddr& eth_dst, bool answering_rst) {
    Ipv4View ip{eth_payload};
    FUZZ_CHECK(!ip.check());
    FUZZ_CHECK(ip.checksum_ok());
    FUZZ_CHECK(ip.ttl() != 0);  // RFC 1122 3.2.1.7
    FUZZ_CHECK(ip.total_len() <= 1500);
    FUZZ_CHECK(ip.src() == kOurAddress);
    // No socket allows broadcast; ICMP and TCP never broadcast.
    FUZZ_CHECK(!eth_dst.is_multicast());
    FUZZ_CHECK(!ip.dst().is_invalid_source() && !ip.dst().is_unspecified());
    FUZZ_CHECK(ip.dst() != kSubnetBroadcast);
    if (ip.is_fragment()) {
        FUZZ_CHECK(!ip.dont_fragment());
        FUZZ_CHECK(ip.total_len() > ip.header_len());
        if (ip.more_fragments()) FUZZ_CHECK((ip.total_len() - ip.header_len()) % 8 == 0);
        return;  // the transport header is checked only in whole datagrams
    }
    std::span<uint8_t> payload = ip.payload();
    switch (ip.protocol()) {
        case uint8_t(IpProtocol::icmp): return check_icmp_out(payload, ip.dst());
        case uint8_t(IpProtocol::udp): {
            UdpView udp{payload};
            FUZZ_CHECK(!udp.check());
            FUZZ_CHECK(udp.length() == payload.size());
            FUZZ_CHECK(udp.checksum_ok(ip.src(), ip.dst()));
            FUZZ_CHECK(udp.src_port() == kEchoPort || udp.src_port() == kConnectedPort);
            FUZZ_CHECK(udp.dst_port() != 0);
            return;
        }
        case uint8_t(IpProtocol::tcp): return check_tcp_out(payload, ip.src(), ip.dst(), answering_rst);
        default: FUZZ_CHECK(!"the stack sent an IP protocol it does not implement");
    }
}

inline void check_frame_out(std::span<uint8_t> frame, bool answering_rst) {
    EthernetView eth{frame};
    FUZZ_CHECK(!eth.check());
    FUZZ_CHECK(eth.src() == kOurMac);
    FUZZ_CHECK(!eth.has_vlan());  // the interface is untagged
    FUZZ_CHECK(!eth.dst().is_zero());
    FUZZ_CHECK(eth.dst().is_broadcast() || !eth.dst().is_multicast());
    switch (eth.ethertype()) {
        case uint16_t(EtherType::arp): return check_arp_out(eth.payload(), eth.dst());
        case uint16_t(EtherType::ipv4): return check_ipv4_out(eth.payload(), eth.dst(), answering_rst);
        default: FUZZ_CHECK(!"the stack sent an EtherType other than ARP or IPv4");
    }
}

// ---- the harness ----

class FrameHarness {
public:
    // With `keep_output`, every frame the stack sends is also kept in output().
    explicit FrameHarness(bool keep_output = false)
        : stack_(config(), clock_, &shared_pool()),
          initial_available_(shared_pool().available()),
          keep_output_(keep_output) {
        FUZZ_CHECK(initial_available_ == shared_pool().capacity());
        FUZZ_CHECK(stack_.add_interface(link_.b(), kOurAddress, kPrefixLen) == 0);
        open_udp();
        open_tcp();
        settle();
    }

    void receive(const Record& record) {
        clock_.advance(record.advance);
        elapsed_ += record.advance;
        settle();
        if (record.frame.size() > link_.a().max_frame_length()) return;  // a NIC would not deliver it
        PacketPtr frame = shared_pool().alloc();
        FUZZ_CHECK(frame);  // between frames only bounded queues hold buffers
        uint8_t* p = frame->append(record.frame.size());
        FUZZ_CHECK(p);
        if (!record.frame.empty()) std::memcpy(p, record.frame.data(), record.frame.size());
        if (record.fix_checksums) fix_checksums(frame->bytes());
        const InjectedFrame injected = classify(frame->bytes());
        const uint64_t before = activity(stack_.stats());
        ++injected_frames_;
        injected_bytes_ += record.frame.size();
        PacketPtr one[1] = {std::move(frame)};
        FUZZ_CHECK(link_.a().tx_burst(one) == 1);
        answering_rst_ = injected.tcp_rst;
        settle();
        answering_rst_ = false;
        // STYLE 4: every drop is counted, so a frame leaves a trace unless it is a
        // fragment waiting for the rest of its datagram.
        FUZZ_CHECK(injected.fragment || activity(stack_.stats()) != before);
    }

    // Closes everything, runs time past every timeout, checks what must hold at rest.
    void finish() {
        close_all();
        for (int i = 0; i < 10; ++i) advance_and_settle(kSecond);       // ARP retries, SYN-ACK retries
        for (int i = 0; i < 12; ++i) advance_and_settle(10 * kSecond);  // reassembly, ARP ageing, TIME-WAIT
        // TCP gives up after 15 retransmissions with the RTO capped at 120 s (about 18
        // minutes); each step fires every due timer once, so 25 steps of 3 minutes suffice.
        for (int i = 0; i < 25; ++i) advance_and_settle(180 * kSecond);

        const Stats& s = stack_.stats();
        if (verbose()) {
            std::fprintf(stderr,
                         "frames in %llu, out %llu; udp datagrams read %llu, socket errors %llu; "
                         "tcp accepted %llu, bytes read %llu\n",
                         (unsigned long long)injected_frames_, (unsigned long long)drained_frames_,
                         (unsigned long long)udp_datagrams_read_, (unsigned long long)socket_errors_,
                         (unsigned long long)tcp_accepted_, (unsigned long long)tcp_bytes_read_);
            print_stats(s);
        }
        // Nothing may still hold a buffer or a socket 77 minutes after the last close.
        FUZZ_CHECK(stack_.tcp().open_sockets() == 0);
        FUZZ_CHECK(stack_.udp().open_sockets() == 0);
        FUZZ_CHECK(shared_pool().available() == initial_available_);
        // The counters agree with what went over the link and through the sockets.
        FUZZ_CHECK(s[Counter::rx_frames] == injected_frames_);
        FUZZ_CHECK(s[Counter::rx_bytes] == injected_bytes_);
        FUZZ_CHECK(s[Counter::tx_frames] == drained_frames_);
        FUZZ_CHECK(s[Counter::tx_bytes] == drained_bytes_);
        FUZZ_CHECK(s[Drop::tx_ring_full] == 0);
        FUZZ_CHECK(link_.b().tx_oversize() == 0);
        FUZZ_CHECK(s[Counter::udp_rx] == udp_datagrams_read_);
        FUZZ_CHECK(s[Counter::ipv4_rx] <= injected_frames_);
        FUZZ_CHECK(s[Counter::ipv4_reassembled] <= s[Counter::ipv4_rx]);
        FUZZ_CHECK(s[Counter::icmp_echo_replies] <= s[Counter::ipv4_rx]);
        FUZZ_CHECK(s[Counter::icmp_errors_sent] <= s[Counter::ipv4_rx]);
        FUZZ_CHECK(s[Counter::tcp_segments_rx] <= s[Counter::ipv4_rx]);
        FUZZ_CHECK(s[Counter::arp_replies_sent] <= injected_frames_);
        // The token bucket: a burst, then one error per millisecond at most.
        const Stack::Config& c = stack_.config();
        FUZZ_CHECK(s[Counter::icmp_errors_sent] <=
                   c.icmp_error_burst + elapsed_ * c.icmp_errors_per_second / kSecond + 1);
    }

    // Frames the stack sent, oldest first (with keep_output).
    std::vector<std::vector<uint8_t>>& output() { return output_; }

private:
    static Stack::Config config() {
        Stack::Config c;
        c.seed = kSeed;
        c.max_udp_sockets = 8;
        c.max_descriptors = 32;
        c.tcp.max_sockets = 16;
        c.tcp.send_buffer = 16 * 1024;
        c.tcp.receive_buffer = 16 * 1024;
        c.tcp.max_buffer_memory = 16 * 32 * 1024;
        c.tcp.max_syn_backlog = 4;
        return c;
    }

    void open_udp() {
        echo_fd_ = socket(stack_, kAfInet, kSockDgram);
        FUZZ_CHECK(bind(stack_, echo_fd_, SockAddr{Ipv4Addr{}, kEchoPort}) == 0);
        connected_fd_ = socket(stack_, kAfInet, kSockDgram);
        FUZZ_CHECK(bind(stack_, connected_fd_, SockAddr{Ipv4Addr{}, kConnectedPort}) == 0);
        FUZZ_CHECK(connect(stack_, connected_fd_, SockAddr{kPeerAddress, kDiscardPort}) == 0);
        static const char kHello[] = "hello";
        FUZZ_CHECK(send(stack_, connected_fd_, kHello, sizeof kHello - 1) == ssize_t(sizeof kHello - 1));
    }

    void open_tcp() {
        tcp_listen_fd_ = socket(stack_, kAfInet, kSockStream);
        FUZZ_CHECK(bind(stack_, tcp_listen_fd_, SockAddr{Ipv4Addr{}, kEchoPort}) == 0);
        FUZZ_CHECK(listen(stack_, tcp_listen_fd_, 2) == 0);
        tcp_client_fd_ = socket(stack_, kAfInet, kSockStream);
        FUZZ_CHECK(connect(stack_, tcp_client_fd_, SockAddr{kPeerAddress, kTcpClientRemotePort}) == -EINPROGRESS);
    }

    void close_all() {
        for (int* fd : {&echo_fd_, &connected_fd_, &tcp_listen_fd_, &tcp_client_fd_}) close_fd(*fd);
        for (int& fd : tcp_fds_) close_fd(fd);
        settle();
    }

    void close_fd(int& fd) {
        if (fd < 0) return;
        FUZZ_CHECK(close(stack_, fd) == 0);
        fd = -1;
    }

    void advance_and_settle(TimeNs step) {
        clock_.advance(step);
        settle();
    }

    // Polls until the stack, the link and the sockets are all idle.
    void settle() {
        for (int round = 0; round < kMaxSettleRounds; ++round) {
            size_t work = stack_.poll();
            work += drain_link();
            work += serve_udp_echo();
            work += drain_udp_connected();
            work += serve_tcp();
            if (work == 0 && link_.b().rx_pending() == 0) return;
        }
        FUZZ_CHECK(!"the stack did not go idle");
    }

    size_t drain_link() {
        size_t total = 0;
        std::array<PacketPtr, kBurstSize> burst;
        while (size_t n = link_.a().rx_burst(burst)) {
            for (size_t i = 0; i < n; ++i) {
                PacketBuffer& f = *burst[i];
                const size_t len = f.chain_length();
                FUZZ_CHECK(len <= link_.a().max_frame_length());
                std::array<uint8_t, 2048> flat;
                FUZZ_CHECK(f.copy_out(0, flat.data(), len) == len);
                g_frame_out = {flat.data(), len};
                check_frame_out({flat.data(), len}, answering_rst_);
                g_frame_out = {};
                if (keep_output_) output_.emplace_back(flat.begin(), flat.begin() + long(len));
                ++drained_frames_;
                drained_bytes_ += len;
                burst[i].reset();
            }
            total += n;
        }
        return total;
    }

    size_t serve_udp_echo() {
        size_t served = 0;
        for (;;) {
            SockAddr from;
            ssize_t n = recvfrom(stack_, echo_fd_, data_.data(), data_.size(), 0, &from);
            if (n == -EAGAIN || n == -EBADF) return served;
            FUZZ_CHECK(n >= 0);  // an unconnected socket hears of no ICMP errors
            ++udp_datagrams_read_;
            ++served;
            // Failures (no route, broadcast source, port 0, no buffer) are the stack's to count.
            (void)sendto(stack_, echo_fd_, data_.data(), size_t(n), 0, &from);
        }
    }

    size_t drain_udp_connected() {
        size_t served = 0;
        for (;;) {
            SockAddr from;
            ssize_t n = recvfrom(stack_, connected_fd_, data_.data(), data_.size(), 0, &from);
            if (n == -EAGAIN || n == -EBADF) return served;
            ++served;
            if (n < 0) {  // an ICMP error, reported once
                FUZZ_CHECK(n == -ECONNREFUSED || n == -EHOSTUNREACH || n == -ENETUNREACH);
                ++socket_errors_;
                continue;
            }
            ++udp_datagrams_read_;
            FUZZ_CHECK(from == (SockAddr{kPeerAddress, kDiscardPort}));
        }
    }

    size_t serve_tcp() {
        size_t work = 0;
        while (tcp_listen_fd_ >= 0) {
            SockAddr peer;
            int fd = accept(stack_, tcp_listen_fd_, &peer);
            if (fd == -EAGAIN) break;
            FUZZ_CHECK(fd >= 0);
            ++work;
            ++tcp_accepted_;
            int* slot = nullptr;
            for (int& s : tcp_fds_)
                if (s < 0 && !slot) slot = &s;
            if (slot)
                *slot = fd;
            else
                FUZZ_CHECK(close(stack_, fd) == 0);
        }
        for (int& fd : tcp_fds_) work += serve_stream(fd);
        work += serve_stream(tcp_client_fd_);
        return work;
    }

    // Echoes what arrived; closes on end of stream or an error.
    size_t serve_stream(int& fd) {
        size_t work = 0;
        while (fd >= 0) {
            ssize_t n = recv(stack_, fd, data_.data(), data_.size());
            if (n == -EAGAIN) break;
            ++work;
            if (n > 0) {
                tcp_bytes_read_ += uint64_t(n);
                ssize_t sent = send(stack_, fd, data_.data(), size_t(n));  // a short send drops the rest
                FUZZ_CHECK(sent >= 0 || sent == -EAGAIN || sent == -EPIPE || sent == -ECONNRESET ||
                           sent == -ETIMEDOUT || sent == -ECONNREFUSED || sent == -EHOSTUNREACH ||
                           sent == -ENETUNREACH || sent == -ECONNABORTED);
                continue;
            }
            FUZZ_CHECK(n == 0 || n == -ECONNRESET || n == -ETIMEDOUT || n == -ECONNREFUSED || n == -EHOSTUNREACH ||
                       n == -ENETUNREACH || n == -ECONNABORTED || n == -ENOTCONN);
            if (n < 0) ++socket_errors_;
            close_fd(fd);
        }
        return work;
    }

    ManualClock clock_;
    // A queue as long as the pool: the link never refuses a frame for being full, so
    // tx_ring_full can only mean a frame the link cannot carry.
    MemLink link_{MemLink::Config{.queue_frames = kPoolBuffers}};
    Stack stack_;
    size_t initial_available_;
    bool keep_output_;
    std::vector<std::vector<uint8_t>> output_;
    int echo_fd_ = -1;
    int connected_fd_ = -1;
    int tcp_listen_fd_ = -1;
    int tcp_client_fd_ = -1;
    std::array<int, kMaxTcpConnections> tcp_fds_{-1, -1, -1, -1};
    bool answering_rst_ = false;
    TimeNs elapsed_ = 0;
    uint64_t injected_frames_ = 0;
    uint64_t injected_bytes_ = 0;
    uint64_t drained_frames_ = 0;
    uint64_t drained_bytes_ = 0;
    uint64_t udp_datagrams_read_ = 0;
    uint64_t socket_errors_ = 0;
    uint64_t tcp_accepted_ = 0;
    uint64_t tcp_bytes_read_ = 0;
    static inline std::array<uint8_t, kMaxUdpDatagram> data_;
};

}  // namespace quasi::fuzz
