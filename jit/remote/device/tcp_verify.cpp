#include "jit/remote/device/tcp_verify.hpp"

#include "stack/stack.hpp"
#include "stack/tcp.hpp"


namespace quasi::remote {

TimerState TimerState::of(const Timer& t) { return {t.armed(), t.armed() ? t.deadline : 0}; }

void TimerState::restore(Stack& stack, Timer& t) const {
    if (armed)
        stack.timers().schedule(t, deadline);
    else
        t.cancel();
}

TcpSendState TcpSendState::of(const TcpSocket& s, const uint16_t* ident_counter) {
    TcpSendState st;
    st.snd_nxt = s.snd_nxt;
    st.snd_max = s.snd_max;
    st.rtt_timing = s.rtt_timing;
    st.rtt_seq = s.rtt_seq;
    st.rtt_start = s.rtt_start;
    st.last_send_time = s.last_send_time;
    st.last_ack_sent = s.last_ack_sent;
    st.rcv_adv = s.rcv_adv;
    st.ack_now = s.ack_now;
    st.unacked_segments = s.unacked_segments;
    st.timer_use = s.timer_use;
    st.retransmit = TimerState::of(s.retransmit_timer);
    st.delayed_ack = TimerState::of(s.delayed_ack_timer);
    st.ident = *ident_counter;
    st.buffered = s.send_buffer.size();
    return st;
}

void TcpSendState::restore(Stack& stack, TcpSocket& s, uint16_t* ident_counter) const {
    s.snd_nxt = snd_nxt;
    s.snd_max = snd_max;
    s.rtt_timing = rtt_timing;
    s.rtt_seq = rtt_seq;
    s.rtt_start = rtt_start;
    s.last_send_time = last_send_time;
    s.last_ack_sent = last_ack_sent;
    s.rcv_adv = rcv_adv;
    s.ack_now = ack_now;
    s.unacked_segments = unacked_segments;
    s.timer_use = timer_use;
    retransmit.restore(stack, s.retransmit_timer);
    delayed_ack.restore(stack, s.delayed_ack_timer);
    *ident_counter = ident;
    if (s.send_buffer.size() > buffered) s.send_buffer.drop_tail(s.send_buffer.size() - buffered);
}

}  // namespace quasi::remote
