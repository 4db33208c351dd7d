// The harness behind tcp_fuzzer: a Stack at 198.18.0.2 on an in-memory link, its TCP
// driven by crafted segments from the peer (198.18.0.1), by a virtual clock and by
// the application, as an input's records say (tcp_records.hpp).
//
// At start-up the stack learns the peer's MAC, listens on port 80 and, unless the
// configuration says otherwise, accepts a connection from the peer's port 40000
// (slot 0) made with the same records the fuzzer uses. Every step (a segment, a
// timer deadline reached, an application call) is followed by polling the stack
// until idle, checking every frame it sent (tcp_invariants.hpp: format, data,
// window) and then every socket. finish() closes everything, runs virtual time 77
// minutes on and checks that no socket, ring or buffer is left. A violation traps.
#pragma once

#include "tcp_invariants.hpp"
#include "tcp_peer.hpp"
#include "tcp_records.hpp"

#include "ports/x86/mem_link.hpp"
#include "stack/socket.hpp"
#include "stack/stack.hpp"

#include <algorithm>
#include <array>
#include <bitset>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <vector>

namespace quasi::fuzz {

constexpr size_t kTcpPoolBuffers = 512;
constexpr size_t kTcpMaxSockets = 8;  // fewer than listener + slots: "no memory" is reachable
constexpr int kTcpMaxSettleRounds = 256;
constexpr int kMaxTimerStepsPerRecord = 256;
constexpr size_t kMaxAppIo = 65535;

inline BufferPool& tcp_pool() {
    static BufferPool pool{BufferPool::Config{.count = kTcpPoolBuffers}};
    return pool;
}

inline bool tcp_verbose() {
    static const bool on = std::getenv("QUASI_FUZZ_VERBOSE") != nullptr;
    return on;
}

// Whether a FIN may be queued now: QUASI_TCP_FUZZ_TOLERATE=syn-received-close avoids
// a known bug (README.md) by never asking for one in SYN-RECEIVED.
inline bool fin_allowed(const TcpSocket& s) {
    return s.state != TcpState::syn_received || !tolerated("syn-received-close");
}

class TcpHarness {
public:
    explicit TcpHarness(std::span<const uint8_t> config);
    void run(TcpInputReader& in);
    void finish();

private:
    static Stack::Config stack_config(uint8_t c);
    void establish_startup_connection(uint8_t c);

    // ---- steps ----
    void segment(size_t slot, const SegmentRecord& r);
    void advance_to(TimeNs target);
    TimeNs next_tcp_deadline();
    void app(size_t slot, const AppRecord& r);
    void app_send(Slot& slot, uint16_t n);
    void app_recv(Slot& slot, uint16_t n, bool peek);
    void app_accept();
    void app_connect(size_t slot, uint16_t arg);
    void app_setsockopt(Slot& slot, uint16_t arg);
    void app_icmp(size_t slot, uint16_t arg);
    void app_listener(uint16_t arg);
    void app_readiness(Slot& slot);
    void close_slot(Slot& slot);

    // ---- frames ----
    uint16_t slot_stack_port(size_t slot, bool closed_port) const;
    TcpSocket* socket_of(size_t slot, uint16_t stack_port);
    size_t build_segment(size_t slot, const SegmentRecord& r, PeerFrame& frame);
    void inject(std::span<const uint8_t> frame);
    void settle();
    size_t drain();
    void observe(std::span<uint8_t> frame);
    void observe_tcp(std::span<uint8_t> ip_bytes);
    void check_data(Slot& slot, TcpSocket* s, const SentSegment& seg);
    void check_window(TcpSocket* s, const SentSegment& seg);

    // ---- state ----
    AppView& app_view(TcpSocket& s);
    void new_descriptor(int fd);
    void check_all();

    ManualClock clock_;
    MemLink link_{MemLink::Config{.queue_frames = kTcpPoolBuffers}};
    Stack stack_;
    std::array<Slot, kSlots> slots_{};
    std::map<const TcpSocket*, AppView> apps_;  // by socket (a freed socket's slot is reused)
    std::bitset<65536> connected_from_;  // local ports of the application's connect() calls
    // The right edge of the window the stack offered, per connection (key: slot << 16 |
    // the stack's port): an active slot's earlier connections may still be sending.
    struct WindowEdge {
        bool known = false;
        uint32_t right = 0;
    };
    std::map<uint32_t, WindowEdge> edges_;
    int listener_fd_ = -1;
    size_t pool_baseline_ = 0;
    bool injected_rst_ = false;  // a RST is never answered with a RST
    bool arp_reply_due_ = false;
    uint16_t ip_ident_ = 0;
    static inline std::array<uint8_t, kMaxAppIo> io_;
};

// ---- set-up ----

inline Stack::Config TcpHarness::stack_config(uint8_t c) {
    using namespace config_bits;
    Stack::Config config;
    config.seed = 0x7c9;
    config.max_descriptors = 16;
    config.max_udp_sockets = 1;
    TcpLayer::Config& t = config.tcp;
    t.max_sockets = kTcpMaxSockets;
    t.max_syn_backlog = 4;
    t.timestamps = !(c & no_timestamps);
    t.sack = !(c & no_sack);
    t.window_scaling = !(c & no_window_scaling);
    t.syn_cookies = !(c & no_syn_cookies);
    t.congestion = (c & new_reno) ? CongestionAlgorithm::new_reno : CongestionAlgorithm::cubic;
    static constexpr size_t kSend[] = {16384, 4096, 2048, 65536};
    static constexpr size_t kReceive[] = {16384, 4096, 131072, 2048};
    t.send_buffer = kSend[(c >> buffers_shift) & 3];
    t.receive_buffer = kReceive[(c >> buffers_shift) & 3];
    t.max_buffer_memory = 4 * (t.send_buffer + t.receive_buffer);  // four connections' rings
    return config;
}

inline TcpHarness::TcpHarness(std::span<const uint8_t> config)
    : stack_(stack_config(config.empty() ? 0 : config[0]), clock_, &tcp_pool()) {
    const uint8_t c0 = config.size() > 0 ? config[0] : 0;
    const uint8_t c1 = config.size() > 1 ? config[1] : 0;
    TCP_CHECK(tcp_pool().available() == tcp_pool().capacity());
    TCP_CHECK(stack_.add_interface(link_.b(), kTcpOurAddress, 24) == 0);
    for (size_t i = 0; i < kSlots; ++i) slots_[i].peer_next = peer_isn(i);
    // The stack learns the peer's MAC from its request, as from any neighbour.
    std::array<uint8_t, kEthernetHeaderLen + kArpLen> arp{};
    EthernetRepr{MacAddr::broadcast(), kTcpPeerMac, uint16_t(EtherType::arp)}.emit(arp.data());
    ArpRepr{ArpOp::request, kTcpPeerMac, kTcpPeerAddress, MacAddr{}, kTcpOurAddress}.emit(arp.data() +
                                                                                          kEthernetHeaderLen);
    inject(arp);
    settle();

    using namespace config_bits;
    listener_fd_ = socket(stack_, kAfInet, kSockStream);
    TCP_CHECK(listener_fd_ >= 0);
    const int one = 1;
    if (c1 & listener_keepalive) {
        const int idle = 20, interval = 5, count = 3;
        TCP_CHECK(setsockopt(stack_, listener_fd_, kSolSocket, kSoKeepalive, &one, sizeof one) == 0);
        TCP_CHECK(setsockopt(stack_, listener_fd_, kIpProtoTcp, kTcpKeepidle, &idle, sizeof idle) == 0);
        TCP_CHECK(setsockopt(stack_, listener_fd_, kIpProtoTcp, kTcpKeepintvl, &interval, sizeof interval) == 0);
        TCP_CHECK(setsockopt(stack_, listener_fd_, kIpProtoTcp, kTcpKeepcnt, &count, sizeof count) == 0);
    }
    if (c1 & listener_nodelay)
        TCP_CHECK(setsockopt(stack_, listener_fd_, kIpProtoTcp, kTcpNodelay, &one, sizeof one) == 0);
    TCP_CHECK(bind(stack_, listener_fd_, SockAddr{Ipv4Addr{}, kListenPort}) == 0);
    TCP_CHECK(listen(stack_, listener_fd_, (c1 & backlog_mask) + 1) == 0);
    settle();
    pool_baseline_ = tcp_pool().available();
    TCP_CHECK(pool_baseline_ == tcp_pool().capacity());
    if (!(c0 & no_startup_connection)) establish_startup_connection(c1);
    check_all();
}

// SYN (options as config[1] says), ACK of the SYN-ACK, accept: slot 0 is ESTABLISHED.
inline void TcpHarness::establish_startup_connection(uint8_t c) {
    using namespace config_bits;
    using namespace seg_options;
    TcpInputWriter w;
    SegmentRecord syn{.flags = tcp_flags::syn, .bases = seg_bases::seq_isn, .window = 65535};
    syn.options = mss | (c & startup_no_window_scale ? 0 : window_scale) | (c & startup_no_sack ? 0 : sack_permitted) |
                  (c & startup_no_timestamps ? 0 : timestamps);
    syn.mss = (c & startup_small_mss) ? 200 : 1460;
    syn.window_scale = 7;
    w.segment(0, syn);
    SegmentRecord ack{.flags = tcp_flags::ack, .window = 512};  // 64 KB with the scale
    ack.options = c & startup_no_timestamps ? 0 : timestamps;
    w.segment(0, ack);
    w.app(0, AppAction::accept);
    TcpInputReader r{w.bytes()};
    run(r);
    TCP_CHECK(slots_[0].fd >= 0);
}

inline void TcpHarness::run(TcpInputReader& in) {
    while (!in.at_end()) {
        const uint8_t op = in.u8();
        const size_t slot = op & 7;
        switch (record_kind(op)) {
            case RecordKind::segment: segment(slot, in.segment()); break;
            case RecordKind::advance: advance_to(clock_.now() + tcp_record_time(in.u8())); break;
            case RecordKind::next_timer: {
                const TimeNs next = next_tcp_deadline();
                if (next > clock_.now()) advance_to(next);
                break;
            }
            case RecordKind::app: app(slot, in.app()); break;
        }
    }
}

// Closes everything and lets every timer run out; then nothing may be left.
inline void TcpHarness::finish() {
    if (tcp_verbose()) std::fprintf(stderr, "tcp_fuzzer: end of input: everything is closed\n");
    for (Slot& s : slots_) close_slot(s);
    if (listener_fd_ >= 0) TCP_CHECK(close(stack_, listener_fd_) == 0);
    listener_fd_ = -1;
    settle();
    check_all();
    // 15 retransmissions with the RTO capped at 120 s take about 18 minutes, TIME-WAIT
    // and an orphan's FIN-WAIT-2 one minute; 77 minutes, a deadline at a time.
    for (int minute = 0; minute < 77; ++minute) advance_to(clock_.now() + 60 * kSecond);
    if (tcp_verbose()) {
        const Stats& st = stack_.stats();
        std::fprintf(stderr,
                     "tcp_fuzzer: finished at %llu ms; counters:", (unsigned long long)(clock_.now() / kMillisecond));
        for (size_t i = 0; i < kCounterCount; ++i)
            if (st.counters[i]) std::fprintf(stderr, " %s=%llu", name(Counter(i)), (unsigned long long)st.counters[i]);
        std::fprintf(stderr, "\ntcp_fuzzer: drops:");
        for (size_t i = 0; i < kDropReasonCount; ++i)
            if (st.drops[i]) std::fprintf(stderr, " %s=%llu", name(Drop(i)), (unsigned long long)st.drops[i]);
        std::fprintf(stderr, "\n");
    }
    TCP_CHECK(stack_.tcp().open_sockets() == 0);
    TCP_CHECK(stack_.tcp().buffer_memory() == 0);
    TCP_CHECK(tcp_pool().available() == pool_baseline_);
}

// ---- time ----

// The earliest deadline of any TCP timer (the stack's own housekeeping excluded), or 0.
inline TimeNs TcpHarness::next_tcp_deadline() {
    TimeNs next = 0;
    for (const TcpSocket* p : TcpTestPeer::sockets(stack_.tcp())) {
        const TcpSocket& s = *p;
        if (!s.in_use) continue;
        for (const Timer* t : {&s.retransmit_timer, &s.delayed_ack_timer, &s.keepalive_timer, &s.time_wait_timer})
            if (t->armed() && (next == 0 || t->deadline < next)) next = t->deadline;
    }
    const Timer& records = TcpTestPeer::time_wait_timer(stack_.tcp());  // TIME-WAIT records expire
    if (records.armed() && (next == 0 || records.deadline < next)) next = records.deadline;
    return next;
}

// Runs the clock to `target`, stopping at every TCP timer deadline on the way so
// that each timer fires when it is due (a retransmission backs off step by step),
// with the checks after each.
inline void TcpHarness::advance_to(TimeNs target) {
    for (int step = 0; step < kMaxTimerStepsPerRecord; ++step) {
        const TimeNs next = next_tcp_deadline();
        if (next == 0 || next > target) break;
        if (next > clock_.now()) clock_.set(next);
        settle();
        check_all();
    }
    if (target > clock_.now()) clock_.set(target);
    settle();
    check_all();
}

// ---- segments from the peer ----

inline uint16_t TcpHarness::slot_stack_port(size_t slot, bool closed_port) const {
    if (closed_port) return kClosedPort;
    if (slot < kFirstActiveSlot) return kListenPort;
    return slots_[slot].stack_port ? slots_[slot].stack_port : kClosedPort;
}

inline TcpSocket* TcpHarness::socket_of(size_t slot, uint16_t stack_port) {
    return stack_.tcp().find(TcpTuple{kTcpOurAddress, stack_port, kTcpPeerAddress, uint16_t(kFirstPeerPort + slot)});
}

inline void TcpHarness::segment(size_t slot, const SegmentRecord& r) {
    PeerFrame frame;
    const size_t len = build_segment(slot, r, frame);
    inject({frame.data(), len});
    injected_rst_ = r.flags & tcp_flags::rst;
    settle();
    injected_rst_ = false;
    check_all();
}

// The frame a SegmentRecord stands for (tcp_records.hpp); returns its length.
inline size_t TcpHarness::build_segment(size_t slot_index, const SegmentRecord& r, PeerFrame& frame) {
    Slot& slot = slots_[slot_index];
    const uint16_t stack_port = slot_stack_port(slot_index, r.bases & seg_bases::to_closed_port);
    const TcpSocket* s = socket_of(slot_index, stack_port);
    const uint32_t isn = peer_isn(slot_index);
    TcpRepr h;
    h.src_port = uint16_t(kFirstPeerPort + slot_index);
    h.dst_port = stack_port;
    h.seq = record_seq(r, slot, s, isn);
    h.ack = record_ack(r, slot, s);
    h.flags = r.flags;
    h.window = r.window;
    h.options = record_options(r, slot, s, clock_.now());
    size_t payload = 0;
    const size_t len =
        emit_peer_segment(h, r.raw, r.payload_len, r.options & seg_options::bad_checksum, ++ip_ident_, frame, payload);
    if (tcp_verbose()) {
        std::fprintf(stderr, "tcp_fuzzer: %llu ms: slot %zu -> %u flags %02x seq %s+%u ack %s+%u win %u len %zu%s\n",
                     (unsigned long long)(clock_.now() / kMillisecond), slot_index, stack_port, r.flags,
                     s ? "irs" : "isn", h.seq - (s ? s->irs : isn), s ? "iss" : "seen",
                     h.ack - (s ? s->iss : slot.stack_next), r.window, payload,
                     (r.options & seg_options::bad_checksum) ? " bad checksum" : "");
    }
    const uint32_t end =
        h.seq + uint32_t(payload) + ((r.flags & tcp_flags::syn) ? 1 : 0) + ((r.flags & tcp_flags::fin) ? 1 : 0);
    if (seq_gt(end, slot.peer_next)) slot.peer_next = end;
    return len;
}

inline void TcpHarness::inject(std::span<const uint8_t> frame) {
    PacketPtr p = tcp_pool().alloc();
    TCP_CHECK(p);  // between steps the stack holds no buffers
    uint8_t* room = p->append(frame.size());
    TCP_CHECK(room);
    std::memcpy(room, frame.data(), frame.size());
    PacketPtr one[1] = {std::move(p)};
    TCP_CHECK(link_.a().tx_burst(one) == 1);
}

// Polls until the stack and the link are idle, checking what the stack sends and
// answering its ARP requests.
inline void TcpHarness::settle() {
    for (int round = 0; round < kTcpMaxSettleRounds; ++round) {
        size_t work = stack_.poll();
        work += drain();
        if (arp_reply_due_) {
            arp_reply_due_ = false;
            std::array<uint8_t, kEthernetHeaderLen + kArpLen> arp{};
            EthernetRepr{kTcpOurMac, kTcpPeerMac, uint16_t(EtherType::arp)}.emit(arp.data());
            ArpRepr{ArpOp::reply, kTcpPeerMac, kTcpPeerAddress, kTcpOurMac, kTcpOurAddress}.emit(arp.data() +
                                                                                                 kEthernetHeaderLen);
            inject(arp);
            ++work;
        }
        if (work == 0 && link_.b().rx_pending() == 0) return;
    }
    TCP_CHECK(!"the stack did not go idle");
}

inline size_t TcpHarness::drain() {
    size_t total = 0;
    std::array<PacketPtr, kBurstSize> burst;
    while (size_t n = link_.a().rx_burst(burst)) {
        for (size_t i = 0; i < n; ++i) {
            std::array<uint8_t, 2048> flat;
            const size_t len = burst[i]->chain_length();
            TCP_CHECK(len <= link_.a().max_frame_length());
            TCP_CHECK(burst[i]->copy_out(0, flat.data(), len) == len);
            burst[i].reset();
            g_checked_frame = {flat.data(), len};
            observe({flat.data(), len});
            g_checked_frame = {};
        }
        total += n;
    }
    return total;
}

inline void TcpHarness::observe(std::span<uint8_t> frame) {
    EthernetView eth{frame};
    TCP_CHECK(!eth.check());
    TCP_CHECK(eth.src() == kTcpOurMac && !eth.has_vlan());
    if (eth.ethertype() == uint16_t(EtherType::arp)) {
        ArpView arp{eth.payload()};
        TCP_CHECK(!arp.check());
        TCP_CHECK(arp.sender_mac() == kTcpOurMac && arp.sender_ip() == kTcpOurAddress);
        if (arp.operation() == uint16_t(ArpOp::request) && arp.target_ip() == kTcpPeerAddress) arp_reply_due_ = true;
        return;
    }
    TCP_CHECK(eth.ethertype() == uint16_t(EtherType::ipv4));
    TCP_CHECK(eth.dst() == kTcpPeerMac);
    observe_tcp(eth.payload());
}

// A segment the stack sent: what the peer learns from it, and what must hold of it.
inline void TcpHarness::observe_tcp(std::span<uint8_t> ip_bytes) {
    const SentSegment seg = check_tcp_frame(ip_bytes);
    const size_t slot_index = seg.h.dst_port - kFirstPeerPort;
    Slot& slot = slots_[slot_index];
    // An active slot's earlier connections may still be closing from their own ports.
    const bool active_port = slot_index >= kFirstActiveSlot && connected_from_[seg.h.src_port];
    TCP_CHECK(seg.h.src_port == kListenPort || seg.h.src_port == kClosedPort || active_port);
    TcpSocket* s = stack_.tcp().find(TcpTuple{kTcpOurAddress, seg.h.src_port, kTcpPeerAddress, seg.h.dst_port});
    if (tcp_verbose()) {
        std::fprintf(stderr, "tcp_fuzzer:   stack %u -> %u flags %02x seq +%u ack %u win %u len %zu%s\n",
                     seg.h.src_port, seg.h.dst_port, seg.h.flags, s ? seg.h.seq - s->iss : seg.h.seq, seg.h.ack,
                     seg.h.window, seg.payload.size(), seg.h.options.sack_count ? " SACK" : "");
    }
    if (seg.has(tcp_flags::rst)) {
        TCP_CHECK(!injected_rst_);  // RFC 9293 3.10.7: never a RST for a RST
        return;
    }
    // What the peer sends next follows the slot's current connection only.
    if (slot_index < kFirstActiveSlot || seg.h.src_port == slot.stack_port) slot.learn(seg);
    if (!seg.payload.empty()) check_data(slot, s, seg);
    if (seg.has(tcp_flags::syn)) edges_.erase(uint32_t(slot_index << 16 | seg.h.src_port));  // a new incarnation
    else if (seg.has(tcp_flags::ack)) check_window(s, seg);
}

// The data is the application's, at its place in the stream, and was written.
inline void TcpHarness::check_data(Slot& slot, TcpSocket* s, const SentSegment& seg) {
    const uint32_t iss = s ? s->iss : slot.stack_iss;
    TCP_CHECK(s || slot.seen_syn);
    const uint32_t offset = seg.h.seq - (iss + 1);
    TCP_CHECK(offset < 0x80000000u);  // never before the first byte of the stream
    for (size_t i = 0; i < seg.payload.size(); ++i) TCP_CHECK(seg.payload[i] == app_byte(offset + i));
    if (!s) return;
    const AppView& app = app_view(*s);
    if (app.valid && app.iss == s->iss) TCP_CHECK(offset + seg.payload.size() <= app.sent);
}

// The window's right edge never moves left (RFC 9293 3.8.6.2.2: a receiver should not
// shrink the window, and this one promises never to).
inline void TcpHarness::check_window(TcpSocket* s, const SentSegment& seg) {
    if (!s || !s->synchronized() || s->state == TcpState::closed) return;
    WindowEdge& known = edges_[uint32_t((seg.h.dst_port - kFirstPeerPort) << 16 | seg.h.src_port)];
    const uint32_t edge = seg.h.ack + (uint32_t{seg.h.window} << s->rcv_wscale);
    // A known bug (README.md): the scaled window is rounded down, by up to 2^scale - 1.
    const uint32_t rounding = tolerated("window-rounding") ? (1u << s->rcv_wscale) - 1 : 0;
    if (known.known) TCP_CHECK(seq_ge(edge + rounding, known.right));
    if (!known.known || seq_gt(edge, known.right)) known.right = edge;
    known.known = true;
}

// ---- the application ----

inline AppView& TcpHarness::app_view(TcpSocket& s) {
    return apps_[&s];
}

// A descriptor the application just got: its counters start at zero.
inline void TcpHarness::new_descriptor(int fd) {
    TcpSocket* s = stack_.descriptors().tcp(fd);
    TCP_CHECK(s);
    app_view(*s) = AppView{.valid = true, .iss = s->iss};
}

inline void TcpHarness::app(size_t slot_index, const AppRecord& r) {
    Slot& slot = slots_[slot_index];
    if (tcp_verbose()) {
        std::fprintf(stderr, "tcp_fuzzer: %llu ms: slot %zu app action %u arg %u\n",
                     (unsigned long long)(clock_.now() / kMillisecond), slot_index, unsigned(r.action), r.arg);
    }
    switch (r.action) {
        case AppAction::send: app_send(slot, r.arg); break;
        case AppAction::recv: app_recv(slot, r.arg, false); break;
        case AppAction::peek: app_recv(slot, r.arg, true); break;
        case AppAction::shutdown:
            if (slot.fd >= 0 && (r.arg % 3 == kShutRd || fin_allowed(*stack_.descriptors().tcp(slot.fd)))) {
                const int rc = shutdown(stack_, slot.fd, r.arg % 3);
                TCP_CHECK(rc == 0 || rc == -ENOTCONN);
            }
            break;
        case AppAction::close: close_slot(slot); break;
        case AppAction::accept: app_accept(); break;
        case AppAction::connect: app_connect(slot_index, r.arg); break;
        case AppAction::setsockopt: app_setsockopt(slot, r.arg); break;
        case AppAction::icmp: app_icmp(slot_index, r.arg); break;
        case AppAction::listener: app_listener(r.arg); break;
        case AppAction::readiness: app_readiness(slot); break;
        case AppAction::count: break;
    }
    settle();
    check_all();
}

inline bool connection_error(ssize_t rc) {
    return rc == -ECONNRESET || rc == -ETIMEDOUT || rc == -ECONNREFUSED || rc == -ECONNABORTED || rc == -EHOSTUNREACH ||
           rc == -ENETUNREACH || rc == -ENOBUFS;
}

inline void TcpHarness::app_send(Slot& slot, uint16_t n) {
    if (slot.fd < 0) return;
    TcpSocket* s = stack_.descriptors().tcp(slot.fd);
    AppView& app = app_view(*s);
    for (size_t i = 0; i < n; ++i) io_[i] = app_byte(app.sent + i);
    const ssize_t rc = send(stack_, slot.fd, io_.data(), n);
    TCP_CHECK((rc >= 0 && size_t(rc) <= n) || rc == -EAGAIN || rc == -EPIPE || rc == -ENOTCONN || connection_error(rc));
    if (rc > 0) app.sent += size_t(rc);
}

// What recv() returns is the peer's data, in order: byte k of the stream sits at
// sequence number IRS + 1 + k.
inline void TcpHarness::app_recv(Slot& slot, uint16_t n, bool peek) {
    if (slot.fd < 0) return;
    TcpSocket* s = stack_.descriptors().tcp(slot.fd);
    AppView& app = app_view(*s);
    const ssize_t rc = recv(stack_, slot.fd, io_.data(), n, peek ? kMsgPeek : 0);
    TCP_CHECK((rc >= 0 && size_t(rc) <= n) || rc == -EAGAIN || rc == -ENOTCONN || connection_error(rc));
    if (rc <= 0) return;
    g_checked_socket = s;
    const uint32_t first = s->irs + 1 + static_cast<uint32_t>(app.read);
    for (size_t i = 0; i < size_t(rc); ++i) TCP_CHECK(io_[i] == peer_byte(first + uint32_t(i)));
    g_checked_socket = nullptr;
    if (!peek) app.read += size_t(rc);
}

inline void TcpHarness::close_slot(Slot& slot) {
    if (slot.fd < 0) return;
    if (!fin_allowed(*stack_.descriptors().tcp(slot.fd))) {
        const Linger abortive{.onoff = 1, .seconds = 0};
        TCP_CHECK(setsockopt(stack_, slot.fd, kSolSocket, kSoLinger, &abortive, sizeof abortive) == 0);
    }
    TCP_CHECK(close(stack_, slot.fd) == 0);
    slot.fd = -1;
}

// The connection goes to the slot of its peer port, replacing what the slot held.
inline void TcpHarness::app_accept() {
    if (listener_fd_ < 0) return;
    SockAddr peer;
    const int fd = accept(stack_, listener_fd_, &peer);
    TCP_CHECK(fd >= 0 || fd == -EAGAIN || fd == -EMFILE);
    if (fd < 0) return;
    TCP_CHECK(peer.addr == kTcpPeerAddress);
    TCP_CHECK(peer.port >= kFirstPeerPort && peer.port < kFirstPeerPort + kFirstActiveSlot);
    Slot& slot = slots_[peer.port - kFirstPeerPort];
    close_slot(slot);
    slot.fd = fd;
    new_descriptor(fd);
}

// Active slots open a connection to the peer's port (arg bits: 0 SO_RCVBUF 2 KB,
// 1 SO_SNDBUF 2 KB, 2 TCP_NODELAY); on a slot that has a descriptor, connect() is
// called again on it (EISCONN, EALREADY, ...).
inline void TcpHarness::app_connect(size_t slot_index, uint16_t arg) {
    Slot& slot = slots_[slot_index];
    const SockAddr peer{kTcpPeerAddress, uint16_t(kFirstPeerPort + slot_index)};
    if (slot.fd >= 0) {
        // A socket whose connection is over connects anew, unless that known bug
        // (README.md) is tolerated.
        if (stack_.descriptors().tcp(slot.fd)->state == TcpState::closed && tolerated("reconnect")) return;
        const int rc = connect(stack_, slot.fd, peer);
        TCP_CHECK(rc == -EISCONN || rc == -EALREADY || rc == -EINVAL || rc == -EADDRINUSE || rc == -EINPROGRESS ||
                  rc == -ENOBUFS);
        if (rc != -EINPROGRESS) return;
        new_descriptor(slot.fd);
        if (slot_index >= kFirstActiveSlot) slot.stack_port = stack_.descriptors().tcp(slot.fd)->local_port;
        connected_from_[slot.stack_port] = true;
        return;
    }
    if (slot_index < kFirstActiveSlot) return;
    const int fd = socket(stack_, kAfInet, kSockStream);
    TCP_CHECK(fd >= 0 || fd == -ENFILE || fd == -EMFILE);
    if (fd < 0) return;
    const int small = 2048, one = 1;
    if (arg & 1) TCP_CHECK(setsockopt(stack_, fd, kSolSocket, kSoRcvbuf, &small, sizeof small) == 0);
    if (arg & 2) TCP_CHECK(setsockopt(stack_, fd, kSolSocket, kSoSndbuf, &small, sizeof small) == 0);
    if (arg & 4) TCP_CHECK(setsockopt(stack_, fd, kIpProtoTcp, kTcpNodelay, &one, sizeof one) == 0);
    const int rc = connect(stack_, fd, peer);
    TCP_CHECK(rc == -EINPROGRESS || rc == -ENOBUFS || rc == -EADDRNOTAVAIL);
    slot.fd = fd;
    new_descriptor(fd);
    if (rc == -EINPROGRESS) slot.stack_port = stack_.descriptors().tcp(fd)->local_port;
    connected_from_[slot.stack_port] = true;
}

// arg bits 0-2 pick the option; the rest (v) is its value.
inline void TcpHarness::app_setsockopt(Slot& slot, uint16_t arg) {
    if (slot.fd < 0) return;
    const int v = arg >> 3;
    int value = v & 1;
    int level = kIpProtoTcp, name = kTcpNodelay;
    switch (arg & 7) {
        case 0: break;
        case 1: level = kSolSocket, name = kSoKeepalive; break;
        case 2: name = kTcpKeepidle, value = v % 30 + 1; break;
        case 3: name = kTcpKeepintvl, value = v % 10 + 1; break;
        case 4: name = kTcpKeepcnt, value = v % 5 + 1; break;
        case 5: name = kTcpUserTimeout, value = v * 16; break;
        case 6: name = kTcpCongestion; break;
        default: {
            const Linger linger{.onoff = v & 1, .seconds = (v >> 1) % 3};
            TCP_CHECK(setsockopt(stack_, slot.fd, kSolSocket, kSoLinger, &linger, sizeof linger) == 0);
            return;
        }
    }
    const int rc = setsockopt(stack_, slot.fd, level, name, &value, sizeof value);
    TCP_CHECK(rc == 0);
}

// An ICMP error quoting the slot's connection (RFC 5927): arg bits 0-1 pick
// fragmentation needed (MTU from bits 2-7), port unreachable, protocol unreachable or
// time exceeded; the quoted sequence number is SND.UNA plus the signed high byte.
inline void TcpHarness::app_icmp(size_t slot_index, uint16_t arg) {
    const uint16_t stack_port = slot_stack_port(slot_index, false);
    const TcpSocket* s = socket_of(slot_index, stack_port);
    // A known bug (README.md): "fragmentation needed" during the handshake.
    const bool opening = s && (s->state == TcpState::syn_sent || s->state == TcpState::syn_received);
    if ((arg & 3) == 0 && opening && tolerated("icmp-rewind")) return;
    const uint32_t seq =
        (s ? s->snd_una : slots_[slot_index].stack_next) + static_cast<uint32_t>(int32_t{int8_t(arg >> 8)});
    const uint16_t mtu = static_cast<uint16_t>(68 + ((arg >> 2) & 63) * 23);
    PeerFrame frame;
    const size_t len =
        emit_peer_icmp(arg & 3, mtu, stack_port, uint16_t(kFirstPeerPort + slot_index), seq, ++ip_ident_, frame);
    inject({frame.data(), len});
}

inline void TcpHarness::app_listener(uint16_t arg) {
    if (listener_fd_ >= 0) {
        TCP_CHECK(close(stack_, listener_fd_) == 0);
        listener_fd_ = -1;
        return;
    }
    const int fd = socket(stack_, kAfInet, kSockStream);
    TCP_CHECK(fd >= 0 || fd == -ENFILE || fd == -EMFILE);
    if (fd < 0) return;
    // Connections still on port 80 hold it (as on Linux without SO_REUSEADDR).
    const int rc = bind(stack_, fd, SockAddr{Ipv4Addr{}, kListenPort});
    TCP_CHECK(rc == 0 || rc == -EADDRINUSE);
    if (rc != 0) {
        TCP_CHECK(close(stack_, fd) == 0);
        return;
    }
    TCP_CHECK(listen(stack_, fd, arg % 4 + 1) == 0);
    listener_fd_ = fd;
}

// poll() says readable exactly when recv() would not say EAGAIN.
inline void TcpHarness::app_readiness(Slot& slot) {
    if (slot.fd < 0) return;
    PollFd p{.fd = slot.fd, .events = events::in | events::out};
    TCP_CHECK(poll(stack_, &p, 1) >= 0);
    uint8_t byte = 0;
    const ssize_t rc = recv(stack_, slot.fd, &byte, 1, kMsgPeek);
    TCP_CHECK((rc == -EAGAIN) == !(p.revents & events::in));
}

// ---- the checks after every step ----

inline void TcpHarness::check_all() {
    check_tcp_layer(stack_.tcp(), apps_);
    TCP_CHECK(tcp_pool().available() == pool_baseline_);  // TCP copies into its rings: no buffer is held
    for (const Slot& slot : slots_)
        if (slot.fd >= 0) TCP_CHECK(stack_.descriptors().tcp(slot.fd) != nullptr);
}

}  // namespace quasi::fuzz
