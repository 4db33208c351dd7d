// TCP (RFC 9293) with window scaling and timestamps (RFC 7323), SACK (RFC 2018,
// RFC 6675), NewReno/CUBIC congestion control (RFC 5681, 6582, 9438), RTO (RFC
// 6298), RFC 5961 robustness, RFC 6528 ISNs, SYN cookies (RFC 4987) and path MTU
// discovery (RFC 1191).
//
// Files: tcp.cpp (sockets, tables, the user calls of RFC 9293 3.10.1-6),
// tcp_input.cpp (segment arrival, numbered after RFC 9293 3.10.7), tcp_output.cpp
// (what to send and when; segments are emitted by the specializable path in
// tcp_send.hpp), tcp_timers.cpp (retransmission, delayed ACK, persist, keepalive,
// TIME-WAIT).
#pragma once

#include "guards/quasi_invariant.hpp"
#include "stack/buffer.hpp"
#include "stack/clock.hpp"
#include "stack/hash_table.hpp"
#include "stack/memory.hpp"
#include "stack/random.hpp"
#include "stack/route.hpp"
#include "stack/tcp_buffers.hpp"
#include "stack/tcp_congestion.hpp"
#include "stack/tcp_rack.hpp"
#include "stack/tcp_rto.hpp"
#include "stack/tcp_sack.hpp"
#include "stack/tcp_seq.hpp"
#include "stack/tcp_time_wait.hpp"
#include "stack/tcp_tuple.hpp"
#include "stack/timer.hpp"
#include "stack/udp.hpp"
#include "stack/wire/ipv4.hpp"
#include "stack/wire/tcp.hpp"

#include <boost/intrusive/list.hpp>
#include <boost/intrusive/unordered_set.hpp>

#include <memory>
#include <type_traits>

namespace quasi {

class Stack;
class Interface;

enum class TcpState : uint8_t {
    closed,
    listen,
    syn_sent,
    syn_received,
    established,
    fin_wait_1,
    fin_wait_2,
    close_wait,
    closing,
    last_ack,
    time_wait,
};
const char* name(TcpState state);

using TcpListHook = boost::intrusive::list_member_hook<boost::intrusive::link_mode<boost::intrusive::auto_unlink>>;

class TcpLayer;

struct TcpSocket;

// A connection's plain state: every field a socket's next connection must find at its
// default. It is trivially copyable, so TcpLayer recycles a socket (tcp.cpp,
// recycle_socket) by assigning a fresh TcpConnectionState over it: a field added here
// is reset with the rest, and none can be forgotten. What is not trivially copyable
// (quasi-invariants, rings, range sets, timers, hooks) is TcpSocket's, each reset by
// recycle_socket on its own.
struct TcpConnectionState {
    TcpState state = TcpState::closed;
    int fd = -1;  // -1 for children not yet accepted
    bool in_use = false;
    DstEntry route_cache;  // the live segment path's route to the peer (Stack::route_cached)

    // --- send sequence space (RFC 9293 3.3.1) ---
    uint32_t iss = 0;
    uint32_t snd_una = 0;
    uint32_t snd_nxt = 0;
    uint32_t snd_max = 0;  // highest sequence sent (snd_nxt may go back on timeout)
    uint32_t snd_wnd = 0;  // peer's window, scaled
    uint32_t snd_wl1 = 0;
    uint32_t snd_wl2 = 0;
    uint32_t max_snd_wnd = 0;  // largest window the peer offered (RFC 5961 5.2, SWS)

    // --- receive sequence space ---
    uint32_t irs = 0;
    uint32_t rcv_nxt = 0;
    uint32_t rcv_adv = 0;  // right edge of the window we advertised

    // --- negotiated options ---
    uint16_t peer_mss = 536;  // RFC 9293 3.7.1 default
    uint8_t snd_wscale = 0;   // shift applied to windows the peer sends
    uint8_t rcv_wscale = 0;   // shift we apply to windows we send
    bool wscale_ok = false;
    bool sack_ok = false;
    bool ts_ok = false;
    uint32_t ts_recent = 0;  // RFC 7323 4.3
    TimeNs ts_recent_time = 0;
    uint32_t last_ack_sent = 0;
    uint32_t ts_offset = 0;  // RFC 7323 5.4: a random per-connection TSval offset

    // --- data (the rings themselves are TcpSocket's) ---
    size_t send_buffer_size = 0;
    size_t receive_buffer_size = 0;
    bool fin_queued = false;  // the user closed/shut down writing: FIN after the data
    bool fin_sent = false;
    uint32_t fin_seq = 0;     // sequence number of our FIN once sent
    bool fin_received = false;
    bool fin_out_of_order = false;  // a FIN seen beyond a gap, at fin_in_seq
    uint32_t fin_in_seq = 0;
    bool read_shutdown = false;

    // --- loss recovery and congestion control ---
    CongestionControl cc;
    RttEstimator rtt;
    uint32_t dup_acks = 0;
    uint32_t high_rxt = 0;  // RFC 6675 HighRxt
    Rack rack;
    TcpTimerUse timer_use = TcpTimerUse::rto;  // RTO, TLP's probe or RACK's reordering timer
    bool in_recovery = false;  // SACK or NewReno recovery, or SACK recovery after an RTO
    bool rto_recovery = false;  // in_recovery began with an RTO: slow start, ends at rto_recover
    uint32_t rto_recover = 0;   // SND.MAX when the RTO fired
    uint32_t limited_transmit = 0;  // bytes beyond cwnd the dup ACKs so far allow (RFC 3042)
    // Eifel detection (RFC 3522) and response (RFC 4015): with timestamps, an ACK for
    // the fast-retransmitted octet that echoes a TSval older than the retransmission's
    // shows the original arrived; the window reduction is then undone.
    bool undo_armed = false;
    uint32_t undo_seq = 0;    // the octet the recovery began retransmitting (SND.UNA then)
    uint32_t undo_tsval = 0;  // our TSval when recovery began
    uint32_t undo_dup_acks = 0;
    CongestionControl cc_before_recovery;
    uint32_t rtt_seq = 0;  // Karn: the segment being timed without timestamps
    TimeNs rtt_start = 0;
    bool rtt_timing = false;
    uint32_t retransmits = 0;  // consecutive RTO expiries
    uint64_t total_retransmits = 0;
    TimeNs last_send_time = 0;
    TimeNs last_receive_time = 0;
    TimeNs last_data_receive_time = 0;  // in-order data from the peer (the ACK policy)
    bool persist_mode = false;  // the retransmit timer is probing a zero window
    TimeNs persist_since = 0;   // when the current run of zero-window probes began
    uint32_t challenge_acks_this_second = 0;  // RFC 5961 7, per connection
    TimeNs challenge_ack_window = 0;

    // --- ACK policy ---
    bool ack_now = false;
    uint32_t unacked_segments = 0;  // full segments received since our last ACK
    uint32_t probes_sent = 0;  // keepalive or zero-window probes without answer

    // --- options set by the user ---
    bool keepalive = false;
    TimeNs keepalive_idle = 7200 * kSecond;  // RFC 1122 4.2.3.6: >= 2 hours
    TimeNs keepalive_interval = 75 * kSecond;
    uint32_t keepalive_count = 9;
    bool linger = false;
    TimeNs linger_time = 0;
    TimeNs user_timeout = 0;  // RFC 5482; 0: the retry limit decides

    // --- listening sockets ---
    TcpSocket* listener = nullptr;  // for children: who accepts them
    TcpSocket* accept_next = nullptr;  // FIFO of established children not yet accepted
    bool in_accept_queue = false;
    TcpSocket* accept_head = nullptr;
    TcpSocket* accept_tail = nullptr;
    int backlog = 0;
    size_t syn_queue_len = 0;     // children in SYN-RECEIVED
    size_t accept_queue_len = 0;  // children established, not accepted

    // --- errors and readiness ---
    int pending_error = 0;  // reported by the next call (ECONNRESET, ETIMEDOUT, ...)
    bool was_connected = false;  // connect() or accept() gave it a connection: no second one
    ReadyCallback callback = nullptr;
    void* callback_user = nullptr;

    bool operator==(const TcpConnectionState&) const = default;
};
static_assert(std::is_trivially_copyable_v<TcpConnectionState>);

struct TcpSocket : boost::intrusive::unordered_set_base_hook<>, TcpConnectionState {
    // --- identity: quasi-invariants a specialized send handle may freeze ---
    QuasiInvariant<Ipv4Addr> local_addr;
    QuasiInvariant<uint16_t> local_port;
    QuasiInvariant<Ipv4Addr> remote_addr;
    QuasiInvariant<uint16_t> remote_port;
    QuasiInvariant<uint16_t> snd_mss;  // effective send MSS (peer's MSS, PMTU, options)
    QuasiInvariant<uint8_t> ttl{64};
    QuasiInvariant<uint8_t> tos{0};
    QuasiInvariant<bool> nodelay{false};  // TCP_NODELAY: Nagle off
    TcpLayer* owner = nullptr;  // for timer callbacks

    // --- data ---
    ByteRing send_buffer;     // bytes from snd_una on (the SYN and FIN take no room)
    ByteRing receive_buffer;  // bytes not yet read, then out-of-order data beyond rcv_nxt
    SeqRangeSet out_of_order{16};
    SackScoreboard scoreboard;
    RetransmitLog retransmit_log;  // this recovery's retransmissions, to find lost ones
    SendTimes send_times;  // RACK (RFC 8985): first transmissions' send times, with the send buffer

    // --- timers ---
    Timer retransmit_timer;  // also SYN retries and zero-window probes
    Timer delayed_ack_timer;
    Timer keepalive_timer;
    Timer time_wait_timer;
    Timer linger_timer;  // SO_LINGER with a time, after close (TcpLayer::close)

    TcpListHook listen_hook;  // in the layer's list of listeners (or the dead and recycled lists)

    TcpTuple tuple() const { return TcpTuple{local_addr, local_port, remote_addr, remote_port}; }
    bool synchronized() const { return state >= TcpState::established; }
    uint32_t flight_size() const { return snd_max - snd_una; }
    // The sequence number of a pure ACK or RST: SND.MAX, the highest the peer may have
    // seen (after a timeout rewound SND.NXT, an older one may be below its RCV.NXT),
    // but never beyond the right edge of its window: a peer whose window is shut finds
    // a zero-length segment acceptable only at RCV.NXT (RFC 9293 3.10.7.4), and
    // dropping our ACKs there would deadlock both directions.
    uint32_t ack_seq() const {
        uint32_t right_edge = snd_una + snd_wnd;
        return seq_gt(snd_max, right_edge) ? right_edge : snd_max;
    }
    // SACK blocks ride on every ACK while we hold out-of-order data (RFC 2018 4),
    // as many as fit in 40 option bytes next to a timestamp (RFC 2018 3).
    size_t sack_blocks_to_send() const {
        if (!sack_ok) return 0;
        size_t room = ts_ok ? 3 : 4;
        return out_of_order.count() < room ? out_of_order.count() : room;
    }
    uint32_t receive_window() const {
        return receive_buffer.capacity() ? static_cast<uint32_t>(receive_buffer.free_space())
                                         : static_cast<uint32_t>(receive_buffer_size);
    }
};

struct TcpTupleKey {
    using type = TcpTuple;
    TcpTuple operator()(const TcpSocket& s) const { return s.tuple(); }
};

class TcpLayer {
public:
    struct Config {
        // Sockets come from a SlabPool that grows a chunk at a time up to max_sockets;
        // TIME-WAIT records from their own table (stack/tcp_time_wait.hpp).
        size_t max_sockets = 65536;
        size_t max_time_wait = 65536;  // Linux: tcp_max_tw_buckets
        // false: every socket, record and table is taken at construction and nothing
        // after (a board with no heap after start-up); max_* then size the memory.
        bool grow = true;
        MemorySource* memory = nullptr;  // nullptr: the heap
        size_t send_buffer = 256 * 1024;
        size_t receive_buffer = 256 * 1024;
        size_t max_buffer_memory = 256 * 1024 * 1024;  // all sockets' rings together
        size_t max_syn_backlog = 256;  // half-open children per listener, then SYN cookies
        TimeNs msl = 30 * kSecond;     // TIME-WAIT lasts 2*MSL (RFC 9293 3.4.2)
        TimeNs delayed_ack = 40 * kMillisecond;
        uint32_t syn_retries = 6;
        uint32_t max_retransmits = 15;  // Linux tcp_retries2
        CongestionAlgorithm congestion = CongestionAlgorithm::cubic;
        bool timestamps = true;
        bool sack = true;
        bool window_scaling = true;
        bool syn_cookies = true;
        // Which local port connect() may take for a tuple: with one Stack per core on
        // one port, only one whose flow the port steers back to this core (e.g.
        // ports/x86/dpdk/flow_steer.hpp). Null: any port.
        bool (*local_port_ok)(const void* context, const TcpTuple& tuple) = nullptr;
        const void* local_port_context = nullptr;
    };

    TcpLayer(Stack& stack, const Config& config);
    ~TcpLayer();

    // --- the user calls (RFC 9293 3.10.1-3.10.6), all non-blocking ---
    TcpSocket* open();
    int bind(TcpSocket& s, SockAddr local);
    int listen(TcpSocket& s, int backlog);
    int connect(TcpSocket& s, SockAddr remote);  // -EINPROGRESS, then writable or an error
    TcpSocket* accept(TcpSocket& listener, int& error);
    ssize_t send(TcpSocket& s, const uint8_t* data, size_t len);
    ssize_t receive(TcpSocket& s, uint8_t* data, size_t len, bool peek);
    int shutdown(TcpSocket& s, bool read, bool write);
    // The descriptor is gone; the connection finishes in the background (or resets
    // with SO_LINGER 0; with SO_LINGER T > 0 it resets if its data and FIN are not
    // acknowledged T after the close). The socket is recycled once it reaches CLOSED.
    void close(TcpSocket& s);
    uint16_t readiness(const TcpSocket& s) const;

    // --- from IPv4 and ICMP ---
    void input(Interface& iface, const Ipv4Repr& ip, size_t header_len, PacketPtr packet);
    void icmp_error(const Ipv4Repr& quoted, const uint8_t* tcp_header, uint8_t type, uint8_t code, uint16_t mtu);

    const Config& config() const { return config_; }
    Stack& stack() { return stack_; }
    size_t open_sockets() const { return open_count_; }
    size_t buffer_memory() const { return rings_.used; }  // bytes of all send and receive rings
    // Everything the layer holds for connections: socket chunks, rings, tables, records.
    size_t memory_in_use() const;
    TcpSocket* find(const TcpTuple& t);
    TimeWaitTable& time_wait() { return time_wait_; }
    // Frees the sockets closed since the last call (Stack::poll calls it once per pass:
    // code still holding a reference while a segment or timer is processed stays safe).
    void reap();
    // Periodic (Stack's housekeeping): gives back ring blocks and recycled sockets the
    // caches did not need.
    void housekeeping();
    size_t cached_ring_memory() const { return ring_blocks_.bytes(); }
    size_t recycled_sockets() const { return recycled_count_; }
    uint32_t isn_for(const TcpTuple& t);

    // Output (tcp_output.cpp).
    void output(TcpSocket& s);
    void send_ack(TcpSocket& s);
    void send_reset(TcpSocket& s);
    // A RST answering a segment that belongs to no connection (RFC 9293 3.10.7.1).
    void reset_for_segment(const Ipv4Repr& ip, const TcpRepr& seg, size_t payload_len);
    // Emits one segment [seq, seq+len) with flags; 0 or -errno.
    int emit_segment(TcpSocket& s, uint32_t seq, uint32_t len, uint8_t flags);
    // The MSS we announce on an interface: its MTU minus the IPv4 and TCP headers.
    uint16_t local_mss(const TcpSocket& s) const;
    // Payload bytes per segment: the send MSS less the options every segment carries.
    uint32_t data_mss(const TcpSocket& s) const { return s.snd_mss - (s.ts_ok ? 12u : 0u); }
    // Lowers the send MSS to what a path of MTU `mtu` carries (RFC 1191; never below
    // kMinMss); false when it is that small already.
    bool lower_mss(TcpSocket& s, uint16_t mtu);
    // RFC 1122 4.2.2.6: a segment never exceeds the route's MTU (the interface's, or the
    // path's), so an interface MTU lowered after the handshake lowers the send MSS before
    // the next segment is cut, as Linux's tcp_current_mss() does at each send.
    void clamp_mss_to_route(TcpSocket& s);
    // Payload bytes that fit in a segment sent now: the MSS counts options too (RFC
    // 9293 3.7.1), and SACK blocks come and go.
    uint32_t payload_limit(const TcpSocket& s) const {
        size_t blocks = s.sack_blocks_to_send();
        return data_mss(s) - static_cast<uint32_t>(blocks ? 4 + 8 * blocks : 0);
    }
    uint32_t ts_now(const TcpSocket& s) const;
    // RetransmitLog's time rule: a retransmission is lost once an RTT and a quarter
    // passed and something sent after it arrived (0: no RTT yet, no time rule).
    static TimeNs lost_retransmit_wait(const TcpSocket& s) { return s.rtt.srtt() + s.rtt.srtt() / 4; }

    // Connection events.
    void set_state(TcpSocket& s, TcpState state);
    void abort(TcpSocket& s, int error);  // to CLOSED, error to the user
    void notify(TcpSocket& s);
    // Arms the retransmission timer: TLP's probe timeout when RFC 8985 7.2 allows
    // one, else the RTO (tcp_rack.cpp).
    void arm_retransmit(TcpSocket& s);
    // RACK (RFC 8985 6): after an ACK changed what is delivered, or when the reordering
    // timer fires: marks lost by time, starts recovery when SND.UNA is lost, arms the
    // reordering timer for what is not lost yet (tcp_rack.cpp).
    void rack_detect_loss(TcpSocket& s);
    // RFC 8985 6.2 steps 1-3 for one ACK (its SACK blocks, SND.UNA before it and the
    // highest SACKed octet before it), then rack_detect_loss (tcp_rack.cpp).
    void rack_on_ack(TcpSocket& s, const TcpOptions& options, uint32_t old_una, uint32_t fack);
    // RFC 8985 7.2: a probe may be scheduled while data is in flight in the open state
    // with SACK, no probe out, no backoff and a window to send into.
    static bool probe_allowed(const TcpSocket& s) {
        bool data_state = s.state == TcpState::established || s.state == TcpState::close_wait ||
                          s.state == TcpState::fin_wait_1 || s.state == TcpState::closing ||
                          s.state == TcpState::last_ack;
        return data_state && s.sack_ok && !s.in_recovery && !s.rack.probe_out() && s.snd_una != s.snd_max &&
               s.snd_wnd > 0 && s.rtt.has_sample() && s.retransmits == 0;
    }
    // After new data left: RFC 8985 7.2 restarts the probe timeout with every new
    // segment (an RTO already running stays; RACK's reordering timer too).
    void arm_after_new_data(TcpSocket& s) {
        if (!s.retransmit_timer.armed() || (s.timer_use != TcpTimerUse::reorder && probe_allowed(s))) arm_retransmit(s);
    }
    // RFC 6675 / RFC 5681 3.2: enter recovery and retransmit the first segment (tcp_input.cpp).
    void enter_fast_recovery(TcpSocket& s);
    // Data waiting behind a zero window with nothing in flight needs the persist timer
    // (RFC 9293 3.8.6.1): arms it unless the retransmission timer already runs.
    void arm_persist_if_needed(TcpSocket& s) {
        if (s.snd_wnd == 0 && s.snd_una == s.snd_max && s.send_buffer.size() > 0 && !s.retransmit_timer.armed())
            arm_retransmit(s);
    }
    // The socket's connection becomes a TimeWaitRecord; the socket is freed (or, if the
    // user still holds it, left CLOSED with its unread data).
    void enter_time_wait(TcpSocket& s);
    // Rings up to this size are given back whenever they empty, so an idle connection
    // holds none; bigger ones (a bulk flow's) are kept until the connection ends,
    // sparing a bulk transfer a free and a page-faulting allocation per window.
    static constexpr size_t kRingKeepBytes = 64 * 1024;
    // Freed ring chunks of the first size kept for the next connection (BlockCache):
    // enough for a burst of connections opening and closing together.
    static constexpr size_t kRingCacheBlocks = 128;
    // Closed sockets kept constructed and reset for the next connection (recycle_socket),
    // at most this many: a burst of connections closing and opening together.
    static constexpr size_t kRecycledSockets = 128;

private:
    friend struct TcpInput;
    TcpSocket* alloc_socket();
    void free_socket(TcpSocket& s);
    void recycle_socket(TcpSocket& s);
    bool alloc_buffers(TcpSocket& s);
    void release_buffers(TcpSocket& s);
    void release_send_buffer(TcpSocket& s);
    int pick_ephemeral_port(Ipv4Addr local, Ipv4Addr remote, uint16_t remote_port, uint16_t& port);
    bool tuple_free_for_connect(const TcpTuple& t);
    bool local_port_ok(const TcpTuple& t) const {
        return !config_.local_port_ok || config_.local_port_ok(config_.local_port_context, t);
    }
    void send_time_wait_ack(const TimeWaitRecord& r);
    bool send_bare_segment(Ipv4Addr src, Ipv4Addr dst, const TcpRepr& seg, uint8_t ttl, PacketPtr packet);
    static void on_time_wait_expiry(Timer& t, TimeNs now);
    TcpSocket* find_listener(Ipv4Addr addr, uint16_t port);
    void init_timers(TcpSocket& s);
    void init_connection(TcpSocket& s);
    static void on_retransmit_timer(Timer& t, TimeNs now);
    static void on_delayed_ack_timer(Timer& t, TimeNs now);
    static void on_keepalive_timer(Timer& t, TimeNs now);
    static void on_time_wait_timer(Timer& t, TimeNs now);
    static void on_linger_timer(Timer& t, TimeNs now);
    void retransmit_timeout(TcpSocket& s, TimeNs now);
    void tail_loss_probe(TcpSocket& s);
    void zero_window_probe(TcpSocket& s);
    void maybe_recycle(TcpSocket& s);

    using ListenerList = boost::intrusive::list<
        TcpSocket, boost::intrusive::member_hook<TcpSocket, TcpListHook, &TcpSocket::listen_hook>,
        boost::intrusive::constant_time_size<false>>;
    using ConnTable = boost::intrusive::unordered_set<TcpSocket, boost::intrusive::key_of_value<TcpTupleKey>,
                                                      boost::intrusive::hash<TcpTupleHash>,
                                                      boost::intrusive::power_2_buckets<true>>;
    using DeadList = boost::intrusive::list<
        TcpSocket, boost::intrusive::member_hook<TcpSocket, TcpListHook, &TcpSocket::listen_hook>,
        boost::intrusive::constant_time_size<false>>;

    Stack& stack_;
    Config config_;
    MemorySource& memory_;
    BlockCache ring_blocks_;  // rings' first chunks and RACK's send times (all one size)
    SlabPool<TcpSocket> sockets_;
    HashTable<ConnTable> connections_;  // every socket with a full 4-tuple (not listeners)
    ListenerList listeners_;
    DeadList dead_;  // freed, not yet reaped (listen_hook is free by then)
    DeadList recycled_;  // reaped and reset, for alloc_socket (at most kRecycledSockets)
    size_t recycled_count_ = 0;
    size_t recycled_low_ = 0;  // the fewest recycled_ held since the last housekeeping()
    TimeWaitTable time_wait_;
    RingBudget rings_;
    Timer time_wait_timer_;
    uint32_t next_ephemeral_ = 0;  // RFC 6056 algorithm 3's counter
    SipKey port_key_;
    SipHashMemo<2> port_offset_hash_;  // RFC 6056 3.3.3's offset for the last destination
    SipKey ts_key_;  // TSval offsets per address pair (init_connection)
    SipHashMemo<1> ts_offset_hash_;
    size_t open_count_ = 0;
    SipKey isn_key_;
    SipHashMemo<3> isn_hash_;  // RFC 6528's F for the last tuple (tcp_isn)
    SipKey cookie_key_;

    friend class TcpTestPeer;
};

}  // namespace quasi
