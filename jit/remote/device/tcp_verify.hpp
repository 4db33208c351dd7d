// Verify mode for remote TCP handles (remote_client.cpp, verified_tcp_send): the part
// of a connection's sender that one send moves, so that after the specialized code
// sent a message (its segments held back) the state can be put back and the generic
// path (TcpLayer::send) send the same message from the same point: the message
// leaves once, as the generic path cut it.
//
// What a send changes (stack/tcp_output_impl.hpp, context/tcp_frozen_send.hpp):
// the send ring (the message appended), SND.NXT/SND.MAX, the Karn RTT sample, the
// last send time, the retransmission timer and its use (RTO or RACK/TLP probe,
// RFC 8985 7.2), the ACK bookkeeping each segment carries (last ACK sent, the
// advertised right edge, the delayed-ACK timer), the IP ID counter and the stats.
// The ring's length and the rest are captured here (the caller takes the stats);
// RACK's send-time records are not: recording the same range at the same instant
// again changes nothing (SendTimes::on_send), and the time stands still (a
// Stack::TimePin) throughout.
#pragma once

#include "stack/clock.hpp"
#include "stack/tcp_rack.hpp"

#include <cstddef>
#include <cstdint>

namespace quasi {
class Stack;
struct TcpSocket;
struct Timer;
}  // namespace quasi

namespace quasi::remote {

struct TimerState {
    bool armed = false;
    TimeNs deadline = 0;
    bool operator==(const TimerState&) const = default;

    static TimerState of(const Timer& t);
    void restore(Stack& stack, Timer& t) const;
};

struct TcpSendState {
    uint32_t snd_nxt = 0;
    uint32_t snd_max = 0;
    bool rtt_timing = false;
    uint32_t rtt_seq = 0;
    TimeNs rtt_start = 0;
    TimeNs last_send_time = 0;
    uint32_t last_ack_sent = 0;
    uint32_t rcv_adv = 0;
    bool ack_now = false;
    uint32_t unacked_segments = 0;
    TcpTimerUse timer_use = TcpTimerUse::rto;
    TimerState retransmit;
    TimerState delayed_ack;
    uint16_t ident = 0;
    size_t buffered = 0;  // the send ring's readable bytes
    bool operator==(const TcpSendState&) const = default;

    static TcpSendState of(const TcpSocket& s, const uint16_t* ident_counter);
    void restore(Stack& stack, TcpSocket& s, uint16_t* ident_counter) const;
};

}  // namespace quasi::remote
