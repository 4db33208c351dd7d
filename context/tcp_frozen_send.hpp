// The frozen TCP send (context/tcp_context.hpp): TcpLayer::send for a connection
// whose frame and options were frozen. Included by context/tcp_context.cpp (the
// host instantiation) and jit/bitcode/tcp_frozen.cpp (the bitcode); nothing else.
//
// Two shapes, chosen by a static field:
// - an ADU declared (message_size): when the general loop would send the whole
//   message at once (message_goes_straight), it is cut into its segments
//   straight, each copied into its frame and into the send ring in one pass: the
//   MSS and the ADU are constants, so the number of segments and each one's length
//   and flags fold, and the coalescing, Nagle, SWS and window arithmetic of
//   tcp_output is gone. Otherwise (the windows are full, data is
//   queued, recovery) kSlowPath: TcpLayer::send queues the message and the general
//   machinery sends what it can; so the handle's code holds the straight path
//   only. Other lengths: kSlowPath too (the handle's policy decides).
// - nothing declared: TcpLayer::send's own steps, with tcp_output over the frozen
//   frame (no route or neighbour lookup per segment); the loop stays general.
// Either way the frames and the socket state are those of the general path
// (tests/jit/spec_tcp_differential_test.cpp holds the two to that).
#pragma once

#include "context/tcp_context.hpp"
#include "stack/tcp_output_impl.hpp"

#include <type_traits>

// Full unrolling of a loop whose trip count specialization makes constant. Only the
// bitcode (QUASI_BITCODE, set by jit/CMakeLists.txt) asks; host instantiations, also
// when clang compiles them, keep their loop (clang would warn it cannot unroll).
#if defined(__clang__) && defined(QUASI_BITCODE)
#define QUASI_UNROLL_FULL _Pragma("clang loop unroll(full)")
#else
#define QUASI_UNROLL_FULL
#endif

namespace quasi {

namespace tcp_frozen_detail {

// tcp_output's bookkeeping after a new data segment (not a retransmission: the
// caller checked SND.NXT == SND.MAX), without its re-reads of the options.
template <class Ctx>
inline void sent_new_data(Ctx& c, TcpLayer& layer, TcpSocket& s, uint32_t seq, uint32_t len, TimeNs now) {
    s.snd_nxt = seq + len;
    s.snd_max = s.snd_nxt;
    s.send_times.on_send(seq, seq + len, now);  // RACK (stack/tcp_rack.hpp)
    if (!c.timestamps && !s.rtt_timing) {
        s.rtt_timing = true;  // Karn: only segments sent once are timed
        s.rtt_seq = seq;
        s.rtt_start = now;
    }
    s.last_send_time = now;
    layer.arm_after_new_data(s);
}

// Whether the general loop would send a declared message whole, at once, in full
// segments and a last one: nothing unsent before it (nothing to coalesce with),
// SND.NXT not rewound by a timeout, not in SACK recovery (RFC 6675 decides what
// goes first), no SACK blocks to carry (they shorten segments: payload_limit), room
// in the send buffer and in both windows, and Nagle not holding a short last
// segment (RFC 896; tcp_output's SWS test).
template <class Ctx>
bool message_goes_straight(Ctx& c, TcpSocket& s, uint32_t segments, uint32_t last_len) {
    const uint32_t adu = c.message_size;
    uint32_t in_flight = s.snd_nxt - s.snd_una;
    if (in_flight != s.send_buffer.size() || s.snd_nxt != s.snd_max) return false;
    if (!s.send_buffer.reserve(s.send_buffer.size() + adu)) return false;  // room, and storage for it
    if (c.sack && (s.in_recovery || !s.out_of_order.empty())) return false;
    uint32_t cwnd = s.cc.cwnd();
    if (cwnd < in_flight || cwnd - in_flight < adu) return false;
    uint32_t window_edge = s.snd_una + s.snd_wnd;
    uint32_t window_room = seq_gt(window_edge, s.snd_nxt) ? window_edge - s.snd_nxt : 0;
    if (window_room < adu) return false;
    return last_len == c.payload_mss || c.nodelay || (segments == 1 && in_flight == 0);
}

// Emits the message's segments, each one's payload copied from the caller's buffer
// into its frame and into the send ring in one pass (UserPayload) and then made
// readable in the ring, where it waits for its ACK as the general path's appended
// bytes do. The count, each one's length and flags are constants once specialized.
// Up to kUnrolledSegments segments the loop unrolls into straight code; beyond, a
// copy of the frame builder per segment would cost more code than the folded
// lengths and flags save.
constexpr uint32_t kUnrolledSegments = 4;

template <class Ctx>
void send_message_straight(Ctx& c, TcpLayer& layer, TcpSocket& s, const uint8_t* data, uint32_t segments,
                           uint32_t last_len) {
    const uint32_t mss = c.payload_mss;
    TimeNs now = layer.stack().now();  // the segments of one message leave at one instant
    uint32_t seq = s.snd_nxt;
    uint32_t done = 0;  // bytes in the ring so far
    auto segment = [&](uint32_t i) {
        bool final = i + 1 == segments;
        uint32_t len = final ? last_len : mss;
        uint8_t flags = final ? uint8_t(tcp_flags::ack | tcp_flags::psh) : tcp_flags::ack;
        // message_goes_straight reserved the ring's storage for the whole message.
        UserPayload payload{data + done, s.send_buffer.tail_spans(len)};
        if (tcp_emit_payload(c, layer, s, seq, flags, payload) != 0) return false;
        s.send_buffer.commit(len);
        done += len;
        sent_new_data(c, layer, s, seq, len, now);
        seq += len;
        return true;
    };
    bool all = true;
    if (segments <= kUnrolledSegments) {
        QUASI_UNROLL_FULL
        for (uint32_t i = 0; i < segments; ++i)
            if (!(all = segment(i))) break;
    } else {
        for (uint32_t i = 0; i < segments; ++i)
            if (!(all = segment(i))) break;
    }
    // Out of buffers: the rest is queued for the next ACK or timer, as in tcp_output.
    if (!all) s.send_buffer.append(data + done, c.message_size - done);
}

}  // namespace tcp_frozen_detail

template <class Ctx>
ssize_t tcp_send_frozen(Ctx& c, const uint8_t* data, size_t len) {
    TcpSocket& s = *c.socket;
    TcpLayer& layer = *c.layer;
    // The guard word: socket identity, options, MSS, route, MTU (set by the watcher).
    if (code_guard_fired(c.guard)) return kSlowPath;
    // The state the code was made for; anything else (an error to report, a FIN
    // queued or received, a closed descriptor) is the general path's.
    if (s.state != TcpState::established || s.fd != c.fd || s.pending_error != 0 || s.fin_queued) return kSlowPath;
    // What the handshake fixed: checked, since nothing guards these fields.
    if (s.ts_ok != c.timestamps || s.sack_ok != c.sack || s.rcv_wscale != c.rcv_wscale) return kSlowPath;
    if (c.message_size != std::remove_cv_t<Ctx>::kAnySize) {
        if (len != c.message_size) return kSlowPath;
        const uint32_t segments = (c.message_size + c.payload_mss - 1) / c.payload_mss;
        const uint32_t last_len = c.message_size - (segments - 1) * c.payload_mss;
        if (!tcp_frozen_detail::message_goes_straight(c, s, segments, last_len)) return kSlowPath;
        // One clock reading for the message, as send() takes one per call: the segment
        // time, its TSval (RFC 7323) and the re-armed timer would each read it, and a
        // reading costs ~80 ns on a KVM guest (kvm-clock through the vDSO).
        Stack::TimePin pin(layer.stack());
        tcp_frozen_detail::send_message_straight(c, layer, s, data, segments, last_len);
        return static_cast<ssize_t>(len);
    }

    // TcpLayer::send from the state checks on, over the frozen frame.
    if (len == 0) return 0;
    Stack::TimePin pin(layer.stack());
    size_t taken = s.send_buffer.append(data, len);
    if (taken == 0) return -EAGAIN;
    tcp_output(c, layer, s);
    layer.arm_persist_if_needed(s);  // as TcpLayer::send
    return static_cast<ssize_t>(taken);
}

}  // namespace quasi
