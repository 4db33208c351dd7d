// TCP segment arrival, numbered after RFC 9293 3.10.7 ("SEGMENT ARRIVES"), with the
// RFC 5961 checks, PAWS (RFC 7323 5), SACK (RFC 2018, RFC 6675) and NewReno
// (RFC 6582) woven into the ACK step.
#include "stack/stack.hpp"
#include "stack/tcp.hpp"
#include "stack/tcp_isn.hpp"
#include "stack/tcp_seq.hpp"

#include <cerrno>

namespace quasi {

namespace {
constexpr uint32_t kChallengeAcksPerSecond = 10;   // RFC 5961 7, per connection (not global: CVE-2016-5696)
constexpr TimeNs kPawsIdleLimit = 24ull * 24 * 3600 * kSecond;  // RFC 7323 5.5: 24 days
constexpr uint16_t kMinMss = 88;  // floor for peer MSS and PMTU (SACK Panic, CVE-2019-11477)
}  // namespace

// One arriving segment and where its payload lies.
struct TcpInput {
    TcpLayer& layer;
    Interface& iface;
    const Ipv4Repr& ip;
    TcpRepr h;
    PacketBuffer* packet;   // the datagram (chain), starting at the IP header
    size_t payload_offset;  // of the TCP payload within the chain
    uint32_t payload_len;

    Stats& stats() { return layer.stack_.stats(); }
    TimeNs now() { return layer.stack_.now(); }
    bool has(uint8_t flag) const { return (h.flags & flag) != 0; }
    uint32_t seg_len() const { return payload_len + (has(tcp_flags::syn) ? 1 : 0) + (has(tcp_flags::fin) ? 1 : 0); }

    void listen(TcpSocket& listener);
    void syn_sent(TcpSocket& s);
    void time_wait(TimeWaitRecord& r);
    void synchronized(TcpSocket& s);

    // Steps of 3.10.7.4.
    bool paws_rejects(TcpSocket& s);
    bool sequence_acceptable(TcpSocket& s);
    bool check_rst(TcpSocket& s);
    bool check_syn(TcpSocket& s);
    bool expected_syn(TcpSocket& s);
    bool process_ack(TcpSocket& s);
    void process_text(TcpSocket& s);
    void process_fin(TcpSocket& s);
    void undo_spurious_recovery(TcpSocket& s);
    bool early_retransmit_due(const TcpSocket& s, uint32_t smss) const;

    void negotiate_options(TcpSocket& s);
    void challenge_ack(TcpSocket& s);
    void new_data_acked(TcpSocket& s, uint32_t ack);
    void duplicate_ack(TcpSocket& s, uint32_t newly_sacked);
    void update_window(TcpSocket& s);
    void deliver_in_order(TcpSocket& s, uint32_t offset, uint32_t len);
    size_t copy_payload_into(ByteRing& ring, size_t ring_offset, uint32_t from, uint32_t len);
    TcpSocket* spawn_child(TcpSocket& listener, uint32_t iss);
};

// ---- arrival and demultiplexing ----

namespace {
// RFC 9293 3.1: the checksum covers the pseudo-header and the segment. The pseudo-
// header's words are added as numbers; a segment in one buffer (what a device hands
// over whole) is summed by one call of the kernel.
bool segment_checksum_ok(const PacketBuffer& packet, const Ipv4Repr& ip, size_t header_len, size_t segment_len) {
    uint64_t sum = (ip.src.value >> 16) + (ip.src.value & 0xFFFF) + (ip.dst.value >> 16) + (ip.dst.value & 0xFFFF) +
                   uint8_t(IpProtocol::tcp) + (segment_len & 0xFFFF);
    if (!packet.next_segment) return fold_checksum(sum + quasi_checksum_sum(packet.data() + header_len, segment_len)) == 0xFFFF;
    ChecksumAccumulator acc;
    acc.sum = sum;
    acc.add_chain(packet, header_len, segment_len);
    return acc.folded() == 0xFFFF;
}
}  // namespace

void TcpLayer::input(Interface& iface, const Ipv4Repr& ip, size_t header_len, PacketPtr packet) {
    Stats& stats = stack_.stats();
    if (packet->length < header_len + kTcpMinHeaderLen) return stats.drop(Drop::tcp_too_short);
    size_t segment_len = (packet->next_segment ? packet->chain_length() : packet->length) - header_len;
    TcpView view{packet->bytes().subspan(header_len)};
    if (auto err = view.check()) return stats.drop(*err);  // the header must sit in the first buffer
    if (!iface.netif().offloads().rx_checksum_verified && !segment_checksum_ok(*packet, ip, header_len, segment_len))
        return stats.drop(Drop::tcp_bad_checksum);
    TcpInput in{*this, iface, ip, {}, packet.get(), header_len + view.header_len(),
                static_cast<uint32_t>(segment_len - view.header_len())};
    if (auto err = TcpRepr::parse(view, in.h)) return stats.drop(*err);
    uint8_t f = in.h.flags;
    using namespace tcp_flags;
    // Nonsense flag combinations are scans or attacks, never a real peer.
    if ((f & (syn | fin | rst | ack)) == 0 || (f & (syn | fin)) == (syn | fin) || (f & (syn | rst)) == (syn | rst) ||
        (f & (fin | psh | urg)) == (fin | psh | urg))
        return stats.drop(Drop::tcp_bad_flags);
    if (ip.src == ip.dst && in.h.src_port == in.h.dst_port) return stats.drop(Drop::tcp_land);
    if (ip.dst.is_broadcast() || ip.dst == iface.directed_broadcast()) return stats.drop(Drop::tcp_to_broadcast);
    stats.count(Counter::tcp_segments_rx);

    TcpTuple tuple{ip.dst, in.h.dst_port, ip.src, in.h.src_port};
    if (TcpSocket* s = find(tuple)) {
        if (s->state == TcpState::syn_sent) return in.syn_sent(*s);
        return in.synchronized(*s);
    }
    if (TimeWaitRecord* r = time_wait_.find(tuple)) return in.time_wait(*r);
    if (TcpSocket* listener = find_listener(ip.dst, in.h.dst_port)) return in.listen(*listener);
    // 3.10.7.1 CLOSED: answer with a RST, so the peer learns at once.
    stats.drop(Drop::tcp_no_socket);
    reset_for_segment(ip, in.h, in.payload_len);
}

// ---- 3.10.7.2 LISTEN ----

void TcpInput::listen(TcpSocket& l) {
    if (has(tcp_flags::rst)) return stats().drop(Drop::tcp_rst_to_listener);
    if (has(tcp_flags::ack)) {
        // The third step of a handshake whose SYN we answered with a cookie.
        uint16_t mss = 0;
        if (!has(tcp_flags::syn) && layer.config_.syn_cookies &&
            syn_cookie_check(layer.cookie_key_, ip.dst, h.dst_port, ip.src, h.src_port, h.ack - 1, h.seq - 1, now(),
                             mss)) {
            if (l.accept_queue_len >= size_t(l.backlog)) return stats().drop(Drop::tcp_accept_queue_full);
            TcpSocket* child = spawn_child(l, h.ack - 1);
            if (!child) return stats().drop(Drop::tcp_no_memory);
            child->irs = h.seq - 1;
            child->rcv_nxt = h.seq;
            child->rcv_adv = h.seq;
            child->rcv_wscale = 0;  // the cookie's SYN-ACK offered no window scaling
            child->peer_mss = mss;
            child->snd_mss.guarded_write(mss);
            child->cc.set_smss(mss);
            child->snd_una = child->iss;  // the SYN-ACK is acknowledged by this very segment
            child->snd_nxt = child->snd_max = child->iss + 1;
            layer.set_state(*child, TcpState::syn_received);
            ++l.syn_queue_len;  // as if it had waited there; the ACK below moves it on
            stats().count(Counter::tcp_syn_cookies_accepted);
            return synchronized(*child);
        }
        stats().drop(Drop::tcp_ack_to_listener);
        return layer.reset_for_segment(ip, h, payload_len);
    }
    if (!has(tcp_flags::syn)) return stats().drop(Drop::tcp_ack_to_listener);
    if (l.accept_queue_len >= size_t(l.backlog)) return stats().drop(Drop::tcp_accept_queue_full);
    size_t syn_limit = layer.config_.max_syn_backlog < size_t(l.backlog) * 2 ? layer.config_.max_syn_backlog
                                                                             : size_t(l.backlog) * 2;
    if (l.syn_queue_len >= syn_limit) {
        if (!layer.config_.syn_cookies) return stats().drop(Drop::tcp_syn_queue_full);
        // RFC 4987 3.6: answer without keeping state; the ISN encodes what we need.
        uint16_t peer_mss = h.options.has_mss ? h.options.mss : 536;
        TcpSocket temp;
        temp.local_addr.guarded_write(ip.dst);
        temp.local_port.guarded_write(h.dst_port);
        temp.remote_addr.guarded_write(ip.src);
        temp.remote_port.guarded_write(h.src_port);
        temp.ttl.guarded_write(l.ttl);
        temp.receive_buffer_size = l.receive_buffer_size;
        temp.iss = syn_cookie_make(layer.cookie_key_, ip.dst, h.dst_port, ip.src, h.src_port, h.seq, peer_mss, now());
        temp.snd_una = temp.snd_nxt = temp.iss;
        temp.rcv_nxt = h.seq + 1;
        layer.emit_segment(temp, temp.iss, 0, tcp_flags::syn | tcp_flags::ack);
        stats().count(Counter::tcp_syn_cookies_sent);
        return;
    }
    TcpTuple t{ip.dst, h.dst_port, ip.src, h.src_port};
    TcpSocket* child = spawn_child(l, layer.isn_for(t));
    if (!child) return stats().drop(Drop::tcp_no_memory);
    child->irs = h.seq;
    child->rcv_nxt = h.seq + 1;
    child->rcv_adv = child->rcv_nxt;  // no window announced beyond it yet
    child->snd_wnd = h.window;  // never scaled in a SYN (RFC 7323 2.2)
    child->snd_wl1 = h.seq;
    negotiate_options(*child);
    child->snd_una = child->iss;
    child->snd_nxt = child->snd_max = child->iss + 1;
    layer.set_state(*child, TcpState::syn_received);
    ++l.syn_queue_len;
    layer.emit_segment(*child, child->iss, 0, tcp_flags::syn | tcp_flags::ack);
    child->last_send_time = now();  // the handshake's RTT sample runs from here
    layer.arm_retransmit(*child);
    stats().count(Counter::tcp_passive_opens);
}

TcpSocket* TcpInput::spawn_child(TcpSocket& l, uint32_t iss) {
    TcpSocket* c = layer.alloc_socket();
    if (!c) return nullptr;
    c->local_addr.guarded_write(ip.dst);
    c->local_port.guarded_write(h.dst_port);
    c->remote_addr.guarded_write(ip.src);
    c->remote_port.guarded_write(h.src_port);
    c->ttl.guarded_write(l.ttl);
    c->tos.guarded_write(l.tos);
    c->nodelay.guarded_write(l.nodelay);
    c->send_buffer_size = l.send_buffer_size;
    c->receive_buffer_size = l.receive_buffer_size;
    c->keepalive = l.keepalive;
    c->keepalive_idle = l.keepalive_idle;
    c->keepalive_interval = l.keepalive_interval;
    c->keepalive_count = l.keepalive_count;
    c->listener = &l;
    c->was_connected = true;
    layer.init_connection(*c);
    c->iss = iss;
    layer.connections_.insert(*c);
    return c;
}

// Takes the peer's SYN options: MSS, window scale, SACK-permitted, timestamps.
void TcpInput::negotiate_options(TcpSocket& s) {
    const TcpOptions& o = h.options;
    const TcpLayer::Config& cfg = layer.config_;
    uint16_t mss = o.has_mss ? o.mss : 536;  // RFC 9293 3.7.1
    if (mss < kMinMss) mss = kMinMss;
    uint16_t ours = layer.local_mss(s);
    s.peer_mss = mss;
    s.snd_mss.guarded_write(mss < ours ? mss : ours);
    s.wscale_ok = cfg.window_scaling && o.has_window_scale;
    s.snd_wscale = s.wscale_ok ? o.window_scale : 0;
    if (!s.wscale_ok) s.rcv_wscale = 0;
    s.sack_ok = cfg.sack && o.sack_permitted;
    s.ts_ok = cfg.timestamps && o.has_timestamps;
    if (s.ts_ok) {
        s.ts_recent = o.ts_val;
        s.ts_recent_time = now();
    }
    s.cc.set_smss(layer.data_mss(s));
    s.cc.set_sack_recovery(s.sack_ok);
}

// ---- 3.10.7.4 TIME-WAIT, answered by the record that replaced the socket ----

void TcpInput::time_wait(TimeWaitRecord& r) {
    TcpLayer& l = layer;
    // RFC 1337 (TIME-WAIT assassination): a RST must not end TIME-WAIT early.
    if (has(tcp_flags::rst)) return stats().drop(Drop::tcp_rst_in_time_wait);
    bool timestamps = r.ts_ok && h.options.has_timestamps;
    if (has(tcp_flags::syn) && !has(tcp_flags::ack)) {
        // RFC 6191 2: a new incarnation may take the tuple when its SYN is newer than
        // anything of the old one: by timestamp when both carry them, else by SEQ.
        bool newer = timestamps && l.config_.timestamps ? seq_gt(h.options.ts_val, r.ts_recent)
                                                        : seq_gt(h.seq, r.rcv_nxt);
        TcpSocket* listener = newer ? l.find_listener(ip.dst, h.dst_port) : nullptr;
        if (listener) {
            l.time_wait_.remove(r);
            stats().count(Counter::tcp_time_wait_reused);
            return listen(*listener);
        }
        stats().drop(Drop::tcp_challenged);  // an old duplicate, or nobody to take it
        return l.send_time_wait_ack(r);
    }
    // PAWS (RFC 7323 5.3): an old duplicate is answered with an ACK and dropped.
    if (timestamps && seq_lt(h.options.ts_val, r.ts_recent)) {
        stats().drop(Drop::tcp_paws);
        return l.send_time_wait_ack(r);
    }
    if (timestamps) r.ts_recent = h.options.ts_val;
    if (has(tcp_flags::fin)) {
        // The peer's FIN again: our last ACK was lost. ACK it, and 2*MSL starts over.
        stats().count(Counter::tcp_time_wait_fin_acked);
        l.time_wait_.restart(r, now() + 2 * l.config_.msl);
        return l.send_time_wait_ack(r);
    }
    if (h.seq == r.rcv_nxt && payload_len == 0) return;  // an ACK of our FIN again: nothing to say
    stats().drop(payload_len && h.seq == r.rcv_nxt ? Drop::tcp_data_after_fin : Drop::tcp_out_of_window);
    l.send_time_wait_ack(r);
}

// ---- 3.10.7.3 SYN-SENT ----

void TcpInput::syn_sent(TcpSocket& s) {
    bool ack_ok = false;
    if (has(tcp_flags::ack)) {
        // first: an ACK must acknowledge our SYN and nothing beyond it.
        if (seq_le(h.ack, s.iss) || seq_gt(h.ack, s.snd_max)) {
            stats().drop(Drop::tcp_bad_ack);
            return layer.reset_for_segment(ip, h, payload_len);
        }
        ack_ok = true;
    }
    if (has(tcp_flags::rst)) {
        // second: only a RST acknowledging our SYN refuses the connection (RFC 5961 3).
        if (!ack_ok) return stats().drop(Drop::tcp_bad_rst);
        stats().count(Counter::tcp_resets_rx);
        return layer.abort(s, ECONNREFUSED);
    }
    if (!has(tcp_flags::syn)) return stats().drop(Drop::tcp_bad_flags);
    // fourth: the SYN.
    s.irs = h.seq;
    s.rcv_nxt = h.seq + 1;
    s.rcv_adv = s.rcv_nxt;  // no window announced beyond it yet
    negotiate_options(s);
    s.snd_wnd = h.window;
    s.max_snd_wnd = s.snd_wnd;
    s.snd_wl1 = h.seq;
    s.snd_wl2 = h.ack;
    if (ack_ok) {
        s.snd_una = h.ack;
        s.retransmits = 0;
        s.retransmit_timer.cancel();
        if (!s.rtt.has_sample() && s.total_retransmits == 0 && s.last_send_time != 0)
            s.rtt.sample(now() - s.last_send_time);
        layer.set_state(s, TcpState::established);
        s.ack_now = true;
        layer.output(s);  // the ACK, with queued data if any
        layer.arm_persist_if_needed(s);  // a SYN-ACK may offer a zero window
        if (s.keepalive) layer.stack_.timers().schedule(s.keepalive_timer, now() + s.keepalive_idle);
        return layer.notify(s);
    }
    // Simultaneous open (RFC 9293 3.5, figure 8).
    layer.set_state(s, TcpState::syn_received);
    layer.emit_segment(s, s.iss, 0, tcp_flags::syn | tcp_flags::ack);
}

// ---- 3.10.7.4 the synchronized states (and SYN-RECEIVED) ----

void TcpInput::synchronized(TcpSocket& s) {
    s.last_receive_time = now();
    s.probes_sent = 0;
    if (paws_rejects(s)) return;
    if (expected_syn(s)) return;
    if (!sequence_acceptable(s)) return;       // first
    if (!check_rst(s)) return;                 // second
    if (!check_syn(s)) return;                 // fourth (third, security, does not apply)
    if (!has(tcp_flags::ack)) return stats().drop(Drop::tcp_no_ack);  // fifth
    if (!process_ack(s)) return;
    process_text(s);                           // seventh (sixth, URG: data is delivered inline)
    process_fin(s);                            // eighth
    if (s.in_use && s.state != TcpState::closed) {
        layer.output(s);
        layer.arm_persist_if_needed(s);
    }
}

// RFC 7323 5.3: a timestamp older than TS.Recent marks an old duplicate.
bool TcpInput::paws_rejects(TcpSocket& s) {
    if (!s.ts_ok || !h.options.has_timestamps || has(tcp_flags::rst)) return false;
    if (!seq_lt(h.options.ts_val, s.ts_recent)) return false;
    if (now() - s.ts_recent_time > kPawsIdleLimit) {  // TS.Recent too old to trust (5.5)
        s.ts_recent = h.options.ts_val;
        return false;
    }
    stats().drop(Drop::tcp_paws);
    layer.send_ack(s);
    return true;
}

bool TcpInput::sequence_acceptable(TcpSocket& s) {
    uint32_t wnd = s.receive_window();
    uint32_t len = seg_len();
    uint32_t seq = h.seq;
    bool ok;
    if (len == 0)
        ok = wnd == 0 ? seq == s.rcv_nxt : seq_in(seq, s.rcv_nxt, s.rcv_nxt + wnd);
    else
        ok = wnd != 0 && (seq_in(seq, s.rcv_nxt, s.rcv_nxt + wnd) || seq_in(seq + len - 1, s.rcv_nxt, s.rcv_nxt + wnd));
    // A zero window still takes ACKs and RSTs (MUST-66 allows processing them).
    if (!ok && wnd == 0 && seq == s.rcv_nxt) ok = true;
    if (!ok) {
        stats().drop(Drop::tcp_out_of_window);
        if (!has(tcp_flags::rst)) layer.send_ack(s);
        return false;
    }
    // RFC 7323 4.3: TS.Recent from segments that cover Last.ACK.sent.
    if (s.ts_ok && h.options.has_timestamps && seq_le(seq, s.last_ack_sent) &&
        seq_ge(h.options.ts_val, s.ts_recent)) {
        s.ts_recent = h.options.ts_val;
        s.ts_recent_time = now();
    }
    return true;
}

bool TcpInput::check_rst(TcpSocket& s) {
    if (!has(tcp_flags::rst)) return true;
    if (h.seq != s.rcv_nxt) {  // RFC 5961 3.2: in window but not exact
        stats().drop(Drop::tcp_challenged);
        challenge_ack(s);
        return false;
    }
    stats().count(Counter::tcp_resets_rx);
    int error = ECONNRESET;
    if (s.state == TcpState::syn_received && s.listener) error = 0;  // back to LISTEN: nobody to tell
    else if (s.state == TcpState::syn_received) error = ECONNREFUSED;
    else if (s.state == TcpState::closing || s.state == TcpState::last_ack) error = 0;
    layer.abort(s, error);
    return false;
}

// SYNs the sequence test would refuse although they are expected: the peer's SYN
// again (just below RCV.NXT) in SYN-RECEIVED. (TIME-WAIT's new incarnations meet the
// record, TcpInput::time_wait.) True when the segment was dealt with.
bool TcpInput::expected_syn(TcpSocket& s) {
    if (!has(tcp_flags::syn)) return false;
    if (s.state == TcpState::syn_received && h.seq == s.irs) {
        if (!has(tcp_flags::ack)) {
            // The peer did not hear our SYN-ACK.
            layer.emit_segment(s, s.iss, 0, tcp_flags::syn | tcp_flags::ack);
            return true;
        }
        // Simultaneous open (RFC 9293 3.5 figure 8, line 6): the peer's SYN-ACK repeats
        // the SYN already taken; what it adds is the ACK of ours.
        if (s.listener == nullptr) {
            h.flags &= static_cast<uint8_t>(~tcp_flags::syn);
            h.seq += 1;
        }
        return false;
    }
    return false;
}

bool TcpInput::check_syn(TcpSocket& s) {
    if (!has(tcp_flags::syn)) return true;
    stats().drop(Drop::tcp_challenged);  // RFC 5961 4.2
    challenge_ack(s);
    return false;
}

void TcpInput::challenge_ack(TcpSocket& s) {
    TimeNs t = now();
    if (t - s.challenge_ack_window >= kSecond) {
        s.challenge_ack_window = t;
        s.challenge_acks_this_second = 0;
    }
    if (s.challenge_acks_this_second >= kChallengeAcksPerSecond) return;
    ++s.challenge_acks_this_second;
    stats().count(Counter::tcp_challenge_acks);
    layer.send_ack(s);
}

bool TcpInput::process_ack(TcpSocket& s) {
    uint32_t ack = h.ack;
    if (s.state == TcpState::syn_received) {
        if (!seq_gt(ack, s.snd_una) || seq_gt(ack, s.snd_max)) {
            stats().drop(Drop::tcp_bad_ack);
            layer.reset_for_segment(ip, h, payload_len);
            return false;
        }
        if (!layer.alloc_buffers(s)) {
            stats().drop(Drop::tcp_no_memory);
            layer.send_reset(s);
            layer.abort(s, ENOBUFS);
            return false;
        }
        s.snd_una = ack;
        s.snd_wnd = uint32_t{h.window} << s.snd_wscale;
        s.max_snd_wnd = s.snd_wnd;
        s.snd_wl1 = h.seq;
        s.snd_wl2 = ack;
        s.retransmits = 0;
        s.retransmit_timer.cancel();
        // RFC 6298 2.2: timed from our SYN-ACK; a SYN cookie's was never timed.
        if (s.total_retransmits == 0 && s.last_send_time != 0) s.rtt.sample(now() - s.last_send_time);
        layer.set_state(s, TcpState::established);
        // A close queued in SYN-RECEIVED goes ahead now (RFC 9293 3.10.4); the FIN
        // leaves with the output at the end of this segment's processing.
        if (s.fin_queued) layer.set_state(s, TcpState::fin_wait_1);
        if (s.keepalive) layer.stack_.timers().schedule(s.keepalive_timer, now() + s.keepalive_idle);
        if (TcpSocket* l = s.listener) {
            --l->syn_queue_len;
            s.in_accept_queue = true;
            if (l->accept_tail) l->accept_tail->accept_next = &s;
            else l->accept_head = &s;
            l->accept_tail = &s;
            ++l->accept_queue_len;
        }
        layer.notify(s);
        return true;
    }
    // RFC 5961 5.2: acceptable ACKs lie in [SND.UNA - MAX.SND.WND, SND.NXT].
    if (seq_gt(ack, s.snd_max)) {
        stats().drop(Drop::tcp_ack_unsent);
        layer.send_ack(s);
        return false;
    }
    if (seq_lt(ack, s.snd_una - s.max_snd_wnd)) {
        stats().drop(Drop::tcp_challenged);
        challenge_ack(s);
        return false;
    }
    uint32_t newly_sacked = 0;
    const uint32_t old_una = s.snd_una;
    const bool had_sacks = s.scoreboard.ranges() > 0;
    const uint32_t fack = s.scoreboard.highest_sacked();  // RACK.fack before this ACK
    if (s.sack_ok && h.options.sack_count)
        newly_sacked = s.scoreboard.update(h.options.sacks.data(), h.options.sack_count, s.snd_una, s.snd_max);
    if (seq_gt(ack, s.snd_una)) new_data_acked(s, ack);
    else if (ack == s.snd_una) duplicate_ack(s, newly_sacked);
    // An old ACK (reordered behind newer ones) tells RACK nothing new.
    if (s.sack_ok && seq_ge(ack, old_una)) layer.rack_on_ack(s, h.options, old_una, had_sacks ? fack : old_una);
    update_window(s);

    bool fin_acked = s.fin_sent && seq_gt(s.snd_una, s.fin_seq);
    switch (s.state) {
    case TcpState::fin_wait_1:
        if (fin_acked) layer.set_state(s, TcpState::fin_wait_2);
        break;
    case TcpState::closing:
        if (fin_acked) {
            layer.enter_time_wait(s);
            return false;
        }
        break;
    case TcpState::last_ack:
        if (fin_acked) {
            layer.abort(s, 0);
            return false;
        }
        break;
    default: break;
    }
    return true;
}

void TcpInput::new_data_acked(TcpSocket& s, uint32_t ack) {
    uint32_t acked = ack - s.snd_una;
    uint32_t data_acked = acked;
    if (s.fin_sent && seq_gt(ack, s.fin_seq)) --data_acked;  // the FIN takes a sequence number
    if (data_acked > s.send_buffer.size()) data_acked = static_cast<uint32_t>(s.send_buffer.size());
    s.send_buffer.consume(data_acked);
    s.send_buffer.shrink_if_empty(TcpLayer::kRingKeepBytes);
    if (s.send_buffer.allocated() == 0) s.send_times.release();  // all acknowledged: idle again
    uint32_t flight_before = s.flight_size();
    s.snd_una = ack;
    s.limited_transmit = 0;
    if (seq_lt(s.snd_nxt, s.snd_una)) s.snd_nxt = s.snd_una;
    if (seq_lt(s.high_rxt, s.snd_una)) s.high_rxt = s.snd_una;
    s.scoreboard.on_cumulative_ack(ack);
    s.send_times.on_cumulative_ack(ack);
    s.retransmits = 0;
    s.persist_mode = false;
    s.rtt.reset_backoff();
    // RTT: every ACK with an echoed timestamp (RFC 7323 4.2), else the one timed
    // segment, never a retransmitted one (Karn, RFC 6298 3).
    if (s.ts_ok && h.options.has_timestamps && h.options.ts_ecr != 0) {
        uint32_t ms = layer.ts_now(s) - h.options.ts_ecr;
        if (ms < 60'000) s.rtt.sample(TimeNs{ms} * kMillisecond);
    } else if (s.rtt_timing && seq_gt(ack, s.rtt_seq)) {
        s.rtt.sample(now() - s.rtt_start);
        s.rtt_timing = false;
    }
    if (s.undo_armed && seq_gt(ack, s.undo_seq)) undo_spurious_recovery(s);
    if (s.rack.probe_out() && seq_ge(ack, s.rack.probe_high())) {
        // RFC 8985 7.4: the probe's episode is over. A probe that resent old data and
        // is acknowledged without a recovery repaired a loss (we keep no D-SACK to
        // prove the original arrived too): the window is reduced once, as a recovery
        // that ends with this very ACK would.
        s.rack.probe_done();
        if (s.rack.probe_was_retransmission() && !s.in_recovery && s.cc.may_enter_recovery()) {
            s.cc.on_enter_recovery(flight_before, ack, now());
            s.cc.on_recovery_ack(ack, 0, s.flight_size());
        }
    }
    if (s.rto_recovery) {
        // After an RTO: slow start (RFC 5681 3.1) while SACK recovery resends the holes,
        // until everything in flight at the timeout is acknowledged.
        s.cc.on_ack(data_acked, flight_before, now(), s.rtt.srtt());
        if (seq_ge(ack, s.rto_recover)) {
            s.in_recovery = false;
            s.rto_recovery = false;
            s.dup_acks = 0;
            s.rack.on_recovery_end();
        }
    } else if (s.in_recovery) {
        bool full = s.cc.on_recovery_ack(ack, data_acked, s.flight_size());
        if (full) {
            s.in_recovery = false;
            s.dup_acks = 0;
            s.rack.on_recovery_end();
        } else if (!s.sack_ok) {
            // RFC 6582 3.2 step 5: a partial ACK: retransmit the next hole now.
            uint32_t limit = layer.payload_limit(s);
            uint32_t len = s.send_buffer.size() < limit ? static_cast<uint32_t>(s.send_buffer.size()) : limit;
            if (len > 0) {
                layer.emit_segment(s, s.snd_una, len, tcp_flags::ack);
                ++s.total_retransmits;
                stats().count(Counter::tcp_retransmits);
            }
        }
    } else {
        s.dup_acks = 0;
        s.cc.on_ack(data_acked, flight_before, now(), s.rtt.srtt());
    }
    if (s.snd_una == s.snd_max) s.retransmit_timer.cancel();
    else layer.arm_retransmit(s);  // RFC 6298 5.3
    if (data_acked > 0) layer.notify(s);
}

// RFC 5827 Early Retransmit: with fewer than four segments outstanding and nothing
// new to send, three duplicates can never come; one fewer than the segments
// outstanding will do. Not where reordering has been seen (DupThresh raised).
bool TcpInput::early_retransmit_due(const TcpSocket& s, uint32_t smss) const {
    if (s.scoreboard.dup_thresh() != SackScoreboard::kDupThresh || smss == 0) return false;
    uint32_t outstanding = (s.flight_size() + smss - 1) / smss;
    if (outstanding < 2 || outstanding >= 4 || s.dup_acks < outstanding - 1) return false;
    uint32_t buffered = static_cast<uint32_t>(s.send_buffer.size());
    uint32_t offset = s.snd_nxt - s.snd_una;
    bool unsent = buffered > offset && seq_gt(s.snd_una + s.snd_wnd, s.snd_nxt);
    return !unsent;
}

// The first ACK to cover the octet a fast retransmit resent: if it echoes a TSval
// from before the recovery (RFC 3522 2), the original segment was only reordered, not
// lost. Undo the reduction (RFC 4015 3.2, restoring the state before it) and wait for
// more duplicates before the next fast retransmit: DupThresh becomes one more than
// the duplicates this reordering produced (RFC 4653's idea, kept simple).
void TcpInput::undo_spurious_recovery(TcpSocket& s) {
    s.undo_armed = false;
    if (!s.in_recovery || !h.options.has_timestamps || h.options.ts_ecr == 0) return;
    if (!seq_lt(h.options.ts_ecr, s.undo_tsval)) return;  // the retransmission's echo, or unknown
    s.cc = s.cc_before_recovery;
    s.in_recovery = false;
    s.dup_acks = 0;
    s.high_rxt = s.snd_una;
    uint32_t thresh = s.scoreboard.dup_thresh();
    s.scoreboard.set_dup_thresh((s.undo_dup_acks > thresh ? s.undo_dup_acks : thresh) + 1);
    s.rack.saw_reordering();  // RACK's window too (RFC 8985 6.2 step 3)
    s.scoreboard.forget_lost();  // what RACK condemned was reordered as well
    stats().count(Counter::tcp_spurious_recoveries);
}

// RFC 5681 3.2 / RFC 6675 5: the third duplicate ACK (or SACK-detected loss)
// starts recovery; further duplicates inflate the window (NewReno) or lower pipe.
void TcpInput::duplicate_ack(TcpSocket& s, uint32_t newly_sacked) {
    if (s.snd_max == s.snd_una) return;
    // RFC 5681 2: no data, no SYN/FIN, the window unchanged. RFC 6675 2: with SACK,
    // any ACK that SACKs octets not SACKed before, also one carrying data (both
    // directions busy: the peer's ACKs ride on its data).
    bool is_dup = (payload_len == 0 && !has(tcp_flags::syn) && !has(tcp_flags::fin) &&
                   (uint32_t{h.window} << s.snd_wscale) == s.snd_wnd) ||
                  newly_sacked > 0;
    if (!is_dup) return;
    ++s.dup_acks;
    stats().count(Counter::tcp_dup_acks);
    uint32_t smss = layer.data_mss(s);
    if (s.in_recovery) {
        if (!s.sack_ok) s.cc.on_dup_ack_in_recovery();
        return;
    }
    const uint32_t dup_thresh = s.scoreboard.dup_thresh();
    bool lost = s.dup_acks >= dup_thresh || (s.sack_ok && s.scoreboard.is_lost(s.snd_una, smss)) ||
                early_retransmit_due(s, smss);
    if (!lost) {
        // RFC 3042 Limited Transmit: each duplicate below the threshold lets one new
        // segment out beyond cwnd, to keep the ACK clock going.
        s.limited_transmit = s.dup_acks * smss;
        return;
    }
    s.limited_transmit = 0;
    // RFC 6582 3.2 step 2: duplicates of data sent before the last recovery or
    // timeout do not start another one.
    if (!s.cc.may_enter_recovery()) return;
    layer.enter_fast_recovery(s);
}

void TcpLayer::enter_fast_recovery(TcpSocket& s) {
    Stats& stats = stack_.stats();
    const TimeNs now = stack_.now();
    s.undo_armed = s.ts_ok;
    if (s.undo_armed) {
        s.undo_seq = s.snd_una;
        s.undo_tsval = ts_now(s);
        s.undo_dup_acks = s.dup_acks;
        s.cc_before_recovery = s.cc;
    }
    s.cc.on_enter_recovery(s.flight_size(), s.snd_max, now);
    s.in_recovery = true;
    s.high_rxt = s.snd_una;
    s.retransmit_log.clear();
    s.rack.probe_done();
    stats.count(Counter::tcp_fast_retransmits);
    // RFC 5681 3.2 step 4 / RFC 6675 5 (4.3): the first unacknowledged segment goes
    // again at once, whether or not SACK marks it lost (the duplicate count, Early
    // Retransmit or RACK may have decided); with SACK it ends at the first SACKed octet.
    uint32_t len = payload_limit(s);
    uint32_t sent = s.snd_max - s.snd_una - (s.fin_sent && seq_lt(s.fin_seq, s.snd_max) ? 1 : 0);
    if (len > sent) len = sent;
    if (len > s.send_buffer.size()) len = static_cast<uint32_t>(s.send_buffer.size());
    uint32_t seq = 0, sack_len = 0;
    if (s.sack_ok && s.scoreboard.next_seg(s.snd_una, s.snd_max, s.snd_una, len, true, seq, sack_len) &&
        seq == s.snd_una)
        len = sack_len;
    if (len > 0) {
        emit_segment(s, s.snd_una, len, tcp_flags::ack);
        if (s.sack_ok) {
            s.high_rxt = s.snd_una + len;
            s.retransmit_log.add(s.snd_una, s.snd_una + len, s.snd_max, now);
        }
        ++s.total_retransmits;
        stats.count(Counter::tcp_retransmits);
    }
    arm_retransmit(s);
}

// RFC 9293 3.10.7.4, fifth, ESTABLISHED: SND.WL1/WL2 keep old segments from
// reopening a window the peer has since closed.
void TcpInput::update_window(TcpSocket& s) {
    if (!(seq_lt(s.snd_wl1, h.seq) || (s.snd_wl1 == h.seq && seq_le(s.snd_wl2, h.ack)))) return;
    uint32_t old_window = s.snd_wnd;
    s.snd_wnd = uint32_t{h.window} << s.snd_wscale;
    s.snd_wl1 = h.seq;
    s.snd_wl2 = h.ack;
    if (s.snd_wnd > s.max_snd_wnd) s.max_snd_wnd = s.snd_wnd;
    if (old_window == 0 && s.snd_wnd > 0) {
        s.persist_mode = false;
        if (s.snd_una == s.snd_max) s.retransmit_timer.cancel();
    }
}

// ---- seventh: segment text ----

size_t TcpInput::copy_payload_into(ByteRing& ring, size_t ring_offset, uint32_t from, uint32_t len) {
    size_t written = 0;
    size_t offset = payload_offset + from;
    for (const PacketBuffer* seg = packet; seg && written < len; seg = seg->next_segment) {
        if (offset >= seg->length) {
            offset -= seg->length;
            continue;
        }
        size_t n = seg->length - offset;
        if (n > len - written) n = len - written;
        written += ring.write_at(ring_offset + written, seg->data() + offset, n);
        offset = 0;
    }
    return written;
}

void TcpInput::process_text(TcpSocket& s) {
    if (payload_len == 0) return;
    if (s.state != TcpState::established && s.state != TcpState::fin_wait_1 && s.state != TcpState::fin_wait_2) {
        stats().drop(Drop::tcp_data_after_fin);
        return;
    }
    // Trim to the window: what precedes RCV.NXT is a duplicate, what lies beyond
    // the right edge does not fit (bad-inputs.md: data beyond the window is trimmed).
    uint32_t skip = seq_lt(h.seq, s.rcv_nxt) ? s.rcv_nxt - h.seq : 0;
    if (skip >= payload_len) {
        s.ack_now = true;  // a pure duplicate: the peer missed our ACK
        return;
    }
    uint32_t seq = h.seq + skip;
    uint32_t len = payload_len - skip;
    uint32_t window = s.receive_window();
    uint32_t offset = seq - s.rcv_nxt;
    if (offset >= window) {
        stats().drop(Drop::tcp_out_of_window);
        s.ack_now = true;
        return;
    }
    if (len > window - offset) len = window - offset;
    if (!s.receive_buffer.reserve(s.receive_buffer.size() + offset + len)) {
        stats().drop(Drop::tcp_no_memory);  // ring memory exhausted: the peer sends it again
        return;
    }
    if (offset == 0) return deliver_in_order(s, skip, len);
    // Out of order: place it in the ring past the readable end and remember the range.
    if (!s.out_of_order.insert(seq, seq + len)) {
        stats().drop(Drop::tcp_ooo_full);  // SegmentSmack: bounded ranges
        s.ack_now = true;
        return;
    }
    copy_payload_into(s.receive_buffer, offset, skip, len);
    stats().count(Counter::tcp_out_of_order);
    s.ack_now = true;  // RFC 5681 4.2: ACK out-of-order segments at once (with SACK)
}

void TcpInput::deliver_in_order(TcpSocket& s, uint32_t from, uint32_t len) {
    copy_payload_into(s.receive_buffer, 0, from, len);
    uint32_t end = s.rcv_nxt + len;
    bool filled_gap = s.out_of_order.count() > 0;
    if (filled_gap) {
        end = seq_max(end, s.out_of_order.contiguous_from(end));
        s.out_of_order.remove_below(end);
    }
    s.receive_buffer.commit(end - s.rcv_nxt);
    s.rcv_nxt = end;
    // RFC 5681 4.2 / RFC 9293 3.8.6.3: ACK every second full segment, and at once
    // when a gap was filled; otherwise within the delayed-ACK time. A short segment is
    // ACKed at once too (its sender may hold the next one under Nagle until then),
    // unless the exchange is interactive, as Linux's pingpong mode has it: we answered
    // the peer's previous data with data of our own within the delayed-ACK time and
    // can still send, so the answer the application is about to send carries this ACK
    // (request and response: two segments per transaction, not four). The timer
    // bounds the wait when no answer comes (RFC 1122 4.2.3.2).
    TimeNs previous = s.last_data_receive_time, delay = layer.config_.delayed_ack;
    s.last_data_receive_time = now();
    bool can_answer = s.state == TcpState::established || s.state == TcpState::close_wait;
    bool answered = previous != 0 && s.last_send_time >= previous && s.last_send_time - previous < delay &&
                    seq_gt(s.snd_max, s.iss + 1);
    bool interactive = can_answer && answered && now() - s.last_send_time < delay;
    if (filled_gap || ++s.unacked_segments >= 2 || (len < layer.data_mss(s) / 2 && !interactive)) s.ack_now = true;
    if (!s.ack_now && !s.delayed_ack_timer.armed())
        layer.stack_.timers().schedule(s.delayed_ack_timer, now() + layer.config_.delayed_ack);
    layer.notify(s);
}

// ---- eighth: FIN ----

void TcpInput::process_fin(TcpSocket& s) {
    if (!s.in_use || s.state == TcpState::closed) return;
    if (has(tcp_flags::fin)) {
        uint32_t fin_seq = h.seq + payload_len;
        if (seq_gt(fin_seq, s.rcv_nxt)) {
            // A FIN beyond a gap is kept until the data before it has arrived.
            s.fin_out_of_order = true;
            s.fin_in_seq = fin_seq;
            return;
        }
        if (fin_seq != s.rcv_nxt || s.fin_received) return;
    } else if (!(s.fin_out_of_order && s.fin_in_seq == s.rcv_nxt && !s.fin_received)) {
        return;
    }
    s.fin_out_of_order = false;
    s.fin_received = true;
    s.rcv_nxt += 1;
    // The stream ends here: anything the peer sent beyond its FIN is not data.
    s.out_of_order.clear();
    s.ack_now = true;
    switch (s.state) {
    case TcpState::syn_received:
    case TcpState::established: layer.set_state(s, TcpState::close_wait); break;
    case TcpState::fin_wait_1:
        if (s.fin_sent && seq_gt(s.snd_una, s.fin_seq)) {
            layer.send_ack(s);
            layer.enter_time_wait(s);
        } else {
            layer.set_state(s, TcpState::closing);
        }
        break;
    case TcpState::fin_wait_2:
        layer.send_ack(s);
        layer.enter_time_wait(s);
        break;
    default: break;
    }
    layer.notify(s);
}

// ---- ICMP errors about our segments (RFC 5927, RFC 1122 4.2.3.9, RFC 1191) ----

bool TcpLayer::lower_mss(TcpSocket& s, uint16_t mtu) {
    uint16_t floor = kMinMss + kIpv4MinHeaderLen + kTcpMinHeaderLen;
    if (mtu < floor) mtu = floor;
    uint16_t mss = static_cast<uint16_t>(mtu - kIpv4MinHeaderLen - kTcpMinHeaderLen);
    if (mss >= s.snd_mss) return false;
    s.snd_mss.guarded_write(mss);
    s.cc.set_smss(data_mss(s));
    stack_.stats().count(Counter::tcp_mss_lowered);
    return true;
}

void TcpLayer::icmp_error(const Ipv4Repr& quoted, const uint8_t* tcp_header, uint8_t type, uint8_t code,
                          uint16_t mtu) {
    TcpTuple t{quoted.src, load_be16(tcp_header), quoted.dst, load_be16(tcp_header + 2)};
    TcpSocket* s = find(t);
    if (!s) return;
    uint32_t seq = load_be32(tcp_header + 4);
    // RFC 5927 4.1: only errors about data in flight are believed.
    if (!seq_in(seq, s->snd_una, s->snd_max + 1)) return stack_.stats().drop(Drop::icmp_bad_embedded);
    if (type != uint8_t(IcmpType::dest_unreachable)) return;
    if (code == uint8_t(IcmpUnreachCode::frag_needed)) {
        stack_.lower_path_mtu(quoted.dst, mtu);
        // RFC 1191: lower the MSS to the new path MTU (clamped), resend what is lost.
        if (!lower_mss(*s, mtu)) return;
        // The lost segment was too big: resend it cut to size. During the handshake
        // only the SYN is out, and its own timer resends it.
        if (!s->synchronized()) return;
        s->snd_nxt = s->snd_una;
        if (s->fin_sent && seq_le(s->snd_una, s->fin_seq)) s->fin_sent = false;
        output(*s);
        return;
    }
    // Hard errors abort only a connection that is still opening; others are soft
    // (RFC 1122 4.2.3.9): remembered, reported if the connection then times out.
    bool hard = code == uint8_t(IcmpUnreachCode::protocol) || code == uint8_t(IcmpUnreachCode::port);
    if (hard && s->state == TcpState::syn_sent) return abort(*s, ECONNREFUSED);
}

}  // namespace quasi
