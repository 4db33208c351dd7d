// TCP sockets: the connection tables and the user calls of RFC 9293 3.10.1-3.10.6.
#include "stack/tcp.hpp"

#include "stack/stack.hpp"
#include "stack/tcp_isn.hpp"
#include "stack/tcp_seq.hpp"

#include <bit>
#include <cerrno>
#include <memory>
#include <new>

namespace quasi {

const char* name(TcpState state) {
    static constexpr const char* kNames[] = {"CLOSED",     "LISTEN",     "SYN-SENT",   "SYN-RECEIVED",
                                             "ESTABLISHED", "FIN-WAIT-1", "FIN-WAIT-2", "CLOSE-WAIT",
                                             "CLOSING",    "LAST-ACK",   "TIME-WAIT"};
    return kNames[static_cast<size_t>(state)];
}

size_t TcpTupleHash::operator()(const TcpTuple& t) const {
    uint64_t a = (uint64_t{t.local_addr.value} << 32) | t.remote_addr.value;
    uint64_t b = (uint64_t{t.local_port} << 16) | t.remote_port;
    uint64_t h = (a ^ (b * 0x9E3779B97F4A7C15ull)) * 0xBF58476D1CE4E5B9ull;
    return static_cast<size_t>(h ^ (h >> 31));
}

namespace {
SlabPool<TcpSocket>::Config socket_pool_config(const TcpLayer::Config& c) {
    return {.max_objects = c.max_sockets,
            .preallocate = c.grow ? 0 : c.max_sockets,
            .grow = c.grow,
            .chunk_bytes = c.grow ? 16 * 1024 : SlabPool<TcpSocket>::chunk_bytes_for(c.max_sockets)};
}
// What recycle_socket copies: building the value anew each time costs as much again.
const TcpConnectionState kFreshConnection = TcpConnectionState();
TimeWaitTable::Config time_wait_config(const TcpLayer::Config& c) {
    return {.max_records = c.max_time_wait, .initial_buckets = 256, .grow = c.grow};
}
}  // namespace

TcpLayer::TcpLayer(Stack& stack, const Config& config)
    : stack_(stack),
      config_(config),
      memory_(config.memory ? *config.memory : heap_memory()),
      ring_blocks_(memory_, ByteRing::kFirstAllocation, kRingCacheBlocks),
      sockets_(socket_pool_config(config), memory_),
      connections_(memory_, config.grow ? 256 : config.max_sockets, config.max_sockets, config.grow),
      time_wait_(time_wait_config(config), memory_),
      rings_{.source = &ring_blocks_, .limit = config.max_buffer_memory},
      time_wait_timer_(&TcpLayer::on_time_wait_expiry, this) {
    isn_key_ = SipKey{uint64_t{stack.random_u32()} << 32 | stack.random_u32(),
                      uint64_t{stack.random_u32()} << 32 | stack.random_u32()};
    cookie_key_ = SipKey{uint64_t{stack.random_u32()} << 32 | stack.random_u32(),
                         uint64_t{stack.random_u32()} << 32 | stack.random_u32()};
    port_key_ = SipKey{uint64_t{stack.random_u32()} << 32 | stack.random_u32(),
                       uint64_t{stack.random_u32()} << 32 | stack.random_u32()};
    ts_key_ = SipKey{uint64_t{stack.random_u32()} << 32 | stack.random_u32(),
                     uint64_t{stack.random_u32()} << 32 | stack.random_u32()};
}

TcpLayer::~TcpLayer() {
    connections_.clear();
    listeners_.clear();
    sockets_.for_each([this](TcpSocket& s) {
        if (!s.in_use) return;
        s.listen_hook.unlink();
        free_socket(s);
    });
    reap();
    recycled_.clear_and_dispose([this](TcpSocket* s) { sockets_.free(s); });
    recycled_count_ = 0;
}

size_t TcpLayer::memory_in_use() const {
    return sockets_.bytes() + connections_.bytes() + time_wait_.bytes() + rings_.used + ring_blocks_.bytes();
}

void TcpLayer::reap() {
    while (!dead_.empty()) {
        TcpSocket& s = dead_.front();
        dead_.pop_front();
        if (recycled_count_ == kRecycledSockets) {
            sockets_.free(&s);
            continue;
        }
        recycle_socket(s);
        recycled_.push_front(s);
        ++recycled_count_;
    }
}

void TcpLayer::housekeeping() {
    ring_blocks_.trim();
    // As BlockCache::trim: the sockets the cache never dipped below since the last
    // call were not needed, so memory follows the connections once churn stops.
    for (size_t n = recycled_low_; n > 0 && !recycled_.empty(); --n) {
        TcpSocket& s = recycled_.front();
        recycled_.pop_front();
        --recycled_count_;
        sockets_.free(&s);
    }
    recycled_low_ = recycled_count_;
}

// A closed socket made ready for its next connection without going back to the slab:
// constructing a TcpSocket value-initializes all of its 1.8 KB and binds its timers,
// while most of it is at its default already once free_socket ran (out of every
// table, timers cancelled, rings and send times released). What remains is the plain
// state, reset as a whole (TcpConnectionState, so no field is forgotten), and each
// member with a life of its own, rebuilt in place as its constructor makes it; the
// timers keep their callbacks. tcp_recycle_test compares the result with a fresh socket.
void TcpLayer::recycle_socket(TcpSocket& s) {
    static_cast<TcpConnectionState&>(s) = kFreshConnection;
    auto renew = [](auto& member, auto... args) {
        std::destroy_at(&member);
        std::construct_at(&member, args...);
    };
    // An invariant still watched (a send handle outlived the connection) is destroyed
    // and made anew, which tells and detaches its watchers as destroying the socket
    // did; one nobody watches only takes its first value back.
    auto reset_invariant = [&renew](auto& invariant, auto initial) {
        if (invariant.watched()) renew(invariant, initial);
        else invariant.guarded_write(initial);
    };
    reset_invariant(s.local_addr, Ipv4Addr{});
    reset_invariant(s.local_port, uint16_t{0});
    reset_invariant(s.remote_addr, Ipv4Addr{});
    reset_invariant(s.remote_port, uint16_t{0});
    reset_invariant(s.snd_mss, uint16_t{0});
    reset_invariant(s.ttl, uint8_t{64});
    reset_invariant(s.tos, uint8_t{0});
    reset_invariant(s.nodelay, false);
    renew(s.send_buffer);
    renew(s.receive_buffer);
    renew(s.out_of_order, size_t{16});
    renew(s.scoreboard);
    renew(s.send_times);
    s.out_of_order.set_source(&memory_);
    s.scoreboard.set_source(&memory_);
    s.retransmit_log.clear();  // only [0, size()) is ever read (tcp_sack.hpp)
    s.linger_timer.callback = nullptr;
    s.linger_timer.context = nullptr;
}

TcpSocket* TcpLayer::find(const TcpTuple& t) {
    auto it = connections_.find(t);
    return it == connections_.end() ? nullptr : &*it;
}

TcpSocket* TcpLayer::find_listener(Ipv4Addr addr, uint16_t port) {
    for (TcpSocket& l : listeners_)
        if (l.local_port == port && (l.local_addr.get().is_unspecified() || l.local_addr == addr)) return &l;
    return nullptr;
}

uint32_t TcpLayer::isn_for(const TcpTuple& t) {
    return tcp_isn(isn_key_, t.local_addr, t.local_port, t.remote_addr, t.remote_port, stack_.now(), &isn_hash_);
}

uint16_t TcpLayer::local_mss(const TcpSocket& s) const {
    const Route* route = const_cast<Stack&>(stack_).routes().lookup(s.remote_addr);
    uint16_t mtu = route ? const_cast<Stack&>(stack_).interface(route->interface)->mtu.get() : 576;
    return static_cast<uint16_t>(mtu - kIpv4MinHeaderLen - kTcpMinHeaderLen);
}

uint32_t TcpLayer::ts_now(const TcpSocket& s) const {
    return static_cast<uint32_t>(stack_.now() / kMillisecond) + s.ts_offset;  // RFC 7323 5.4: 1 ms ticks
}

TcpSocket* TcpLayer::alloc_socket() {
    TcpSocket* s;
    if (!recycled_.empty()) {
        s = &recycled_.front();
        recycled_.pop_front();
        if (--recycled_count_ < recycled_low_) recycled_low_ = recycled_count_;
    } else {
        s = sockets_.allocate();
        if (!s) return nullptr;
        // The range sets' slots come from the layer's memory too: a board's arena, not the heap.
        s->out_of_order.set_source(&memory_);
        s->scoreboard.set_source(&memory_);
        init_timers(*s);
    }
    s->in_use = true;
    s->ttl.guarded_write(stack_.config().default_ttl);
    s->send_buffer_size = config_.send_buffer;
    s->receive_buffer_size = config_.receive_buffer;
    ++open_count_;
    return s;
}

// The socket leaves every table now and goes back to the pool at the next reap():
// the caller (segment processing, a timer, close) may still be holding it.
void TcpLayer::free_socket(TcpSocket& s) {
    if (!s.in_use) return;
    if (s.is_linked()) connections_.erase(s);
    s.listen_hook.unlink();
    s.retransmit_timer.cancel();
    s.delayed_ack_timer.cancel();
    s.keepalive_timer.cancel();
    s.time_wait_timer.cancel();
    s.linger_timer.cancel();
    release_buffers(s);
    s.in_use = false;
    s.state = TcpState::closed;
    --open_count_;
    dead_.push_back(s);
}

// The rings get their limits (the window is computed from them); memory comes as
// bytes do, within max_buffer_memory for all rings together.
bool TcpLayer::alloc_buffers(TcpSocket& s) {
    if (s.send_buffer.capacity()) return true;
    if (!s.send_buffer.init(s.send_buffer_size, &rings_) || !s.receive_buffer.init(s.receive_buffer_size, &rings_)) {
        s.send_buffer.release();
        return false;
    }
    // RACK's send times (stack/tcp_rack.hpp): a record per segment of at least 1 KB,
    // taken at the first send and given back with the send ring's storage.
    s.send_times.configure(s.send_buffer.capacity() / 1024, ring_blocks_);
    return true;
}

void TcpLayer::release_buffers(TcpSocket& s) {
    release_send_buffer(s);
    s.receive_buffer.release();
}

void TcpLayer::release_send_buffer(TcpSocket& s) {
    s.send_buffer.release();
    s.send_times.release();
}

TcpSocket* TcpLayer::open() { return alloc_socket(); }

namespace {
bool port_taken_by(const TcpSocket& s, Ipv4Addr addr, uint16_t port) {
    // TIME-WAIT records hold no port: SO_REUSEADDR-like, servers restart at once.
    if (!s.in_use || s.local_port != port) return false;
    return s.local_addr.get().is_unspecified() || addr.is_unspecified() || s.local_addr == addr;
}
}  // namespace

int TcpLayer::bind(TcpSocket& s, SockAddr local) {
    if (s.local_port != 0 || s.state != TcpState::closed) return -EINVAL;
    if (!local.addr.is_unspecified() && !stack_.is_local_address(local.addr)) return -EADDRNOTAVAIL;
    uint16_t port = local.port;
    if (port == 0) {
        if (int rc = pick_ephemeral_port(local.addr, Ipv4Addr{}, 0, port); rc != 0) return rc;
    } else {
        bool taken = false;
        sockets_.for_each([&](const TcpSocket& o) { taken = taken || (&o != &s && port_taken_by(o, local.addr, port)); });
        if (taken) return -EADDRINUSE;
    }
    s.local_addr.guarded_write(local.addr);
    s.local_port.guarded_write(port);
    return 0;
}

// RFC 6056 3.3.3 (algorithm 3) with 3.3.5's random increments (algorithm 5): the
// search starts at a keyed hash of the destination plus a counter that advances by
// a random step (1 to kPortIncrement) per candidate, so successive ports to one
// server are neither sequential nor guessable, and a client churning connections
// to one server walks the whole range before it comes back to a port. A tuple is
// free when no socket has it and a TIME-WAIT record, if any, may give it up
// (tuple_free_for_connect).
int TcpLayer::pick_ephemeral_port(Ipv4Addr local, Ipv4Addr remote, uint16_t remote_port, uint16_t& port) {
    constexpr uint32_t first = UdpLayer::kEphemeralFirst;
    constexpr uint32_t range = UdpLayer::kEphemeralLast - first + 1;
    if (remote_port == 0) {  // bind() to port 0: no destination yet, any port no socket holds
        uint32_t start = stack_.random_u32();
        for (uint32_t i = 0; i < range; ++i) {
            uint16_t candidate = static_cast<uint16_t>(first + (start + i) % range);
            bool taken = false;
            sockets_.for_each([&](const TcpSocket& s) { taken = taken || port_taken_by(s, local, candidate); });
            if (!taken) {
                port = candidate;
                return 0;
            }
        }
        return -EADDRNOTAVAIL;
    }
    const uint64_t words[2] = {uint64_t{local.value} << 32 | remote.value, remote_port};
    uint32_t offset = static_cast<uint32_t>(port_offset_hash_(port_key_, words));
    constexpr uint32_t kPortIncrement = 500;  // RFC 6056 3.3.5's suggested N
    for (uint32_t i = 0; i < range; ++i) {
        next_ephemeral_ += 1 + stack_.random_u32() % kPortIncrement;
        uint16_t candidate = static_cast<uint16_t>(first + (offset + next_ephemeral_) % range);
        if (find_listener(local, candidate) || !local_port_ok(TcpTuple{local, candidate, remote, remote_port})) continue;
        if (tuple_free_for_connect(TcpTuple{local, candidate, remote, remote_port})) {
            port = candidate;
            return 0;
        }
    }
    // Random steps may miss the last free ports of a nearly full range: walk it once.
    for (uint32_t i = 0; i < range; ++i) {
        uint16_t candidate = static_cast<uint16_t>(first + (offset + i) % range);
        TcpTuple tuple{local, candidate, remote, remote_port};
        if (!find_listener(local, candidate) && local_port_ok(tuple) && tuple_free_for_connect(tuple)) {
            port = candidate;
            return 0;
        }
    }
    return -EADDRNOTAVAIL;
}

// A tuple in TIME-WAIT may start a new connection when the new incarnation is above
// the old one in both clocks the peer may judge it by (RFC 6191 2, the conditions a
// peer still in TIME-WAIT applies; RFC 9293 3.6.1): our new ISN beyond the old
// SND.NXT, and (the connection reusing the old TSval offset, see connect) our
// timestamps beyond the old ones, which the clock guarantees once a millisecond has
// passed. RFC 6528 ISNs grow 250,000 a second per tuple, so only a connection that
// sent more than that much in its last second has to wait out its record.
bool TcpLayer::tuple_free_for_connect(const TcpTuple& t) {
    if (find(t)) return false;
    TimeWaitRecord* r = time_wait_.find(t);
    if (!r) return true;
    TimeNs since = stack_.now() - (r->expires - 2 * config_.msl);
    return seq_gt(isn_for(t), r->snd_nxt) && (!r->ts_ok || since >= kMillisecond);
}

int TcpLayer::listen(TcpSocket& s, int backlog) {
    if (s.state == TcpState::listen) {
        s.backlog = backlog < 1 ? 1 : backlog;
        return 0;
    }
    if (s.state != TcpState::closed) return -EINVAL;
    if (s.local_port == 0) {
        if (int rc = bind(s, SockAddr{}); rc != 0) return rc;
    }
    s.backlog = backlog < 1 ? 1 : backlog;
    set_state(s, TcpState::listen);
    listeners_.push_back(s);
    return 0;
}

void TcpLayer::init_connection(TcpSocket& s) {
    // The smallest shift that brings the buffer under 64 KiB, at most 14 (RFC 7323 2.3).
    size_t bits = std::bit_width(s.receive_buffer_size);
    s.rcv_wscale = config_.window_scaling && bits > 16 ? static_cast<uint8_t>(bits - 16 < 14 ? bits - 16 : 14) : 0;
    // RFC 7323 5.4 randomizes the TSval clock; per pair of addresses (as Linux's
    // secure_tcp_ts_off), not per connection, so a host's TSvals only grow from one
    // connection to the next, which is what lets a peer holding a TIME-WAIT record
    // take our next SYN on the same ports (RFC 6191).
    const uint64_t words[1] = {uint64_t{s.local_addr.get().value} << 32 | s.remote_addr.get().value};
    s.ts_offset = static_cast<uint32_t>(ts_offset_hash_(ts_key_, words));
    s.snd_mss.guarded_write(536);
    s.cc.init(config_.congestion, 536, stack_.now());
    s.last_receive_time = stack_.now();
}

int TcpLayer::connect(TcpSocket& s, SockAddr remote) {
    switch (s.state) {
    case TcpState::closed: break;
    case TcpState::syn_sent: return -EALREADY;
    case TcpState::listen: return -EINVAL;
    default: return -EISCONN;
    }
    // A failed or reset connection leaves the socket unusable, as BSD: the old
    // connection's state (FIN flags, ring contents) must never leak into a new one.
    if (s.pending_error || s.was_connected) return -EINVAL;
    if (remote.port == 0 || remote.addr.is_unspecified() || remote.addr.is_broadcast() || remote.addr.is_multicast())
        return -EINVAL;
    if (!stack_.routes().lookup(remote.addr)) return -ENETUNREACH;
    Ipv4Addr local = s.local_addr.get().is_unspecified() ? stack_.source_address_for(remote.addr) : s.local_addr.get();
    uint16_t port = s.local_port;
    if (port == 0) {
        if (int rc = pick_ephemeral_port(local, remote.addr, remote.port, port); rc != 0) return rc;
    } else if (!tuple_free_for_connect(TcpTuple{local, port, remote.addr, remote.port})) {
        return -EADDRINUSE;
    }
    if (!alloc_buffers(s)) return -ENOBUFS;
    TcpTuple tuple{local, port, remote.addr, remote.port};
    TimeWaitRecord* old = time_wait_.find(tuple);
    s.was_connected = true;
    s.local_addr.guarded_write(local);
    s.local_port.guarded_write(port);
    s.remote_addr.guarded_write(remote.addr);
    s.remote_port.guarded_write(remote.port);
    connections_.insert(s);
    init_connection(s);
    if (old) {
        // The tuple's TIME-WAIT ends here; the new incarnation's timestamps continue
        // the old clock, so the peer sees them rise (RFC 6191, RFC 7323 5.4).
        s.ts_offset = old->ts_offset;
        time_wait_.remove(*old);
        stack_.stats().count(Counter::tcp_time_wait_reused);
    }
    s.iss = isn_for(s.tuple());
    s.snd_una = s.iss;
    s.snd_nxt = s.iss + 1;
    s.snd_max = s.snd_nxt;
    set_state(s, TcpState::syn_sent);
    emit_segment(s, s.iss, 0, tcp_flags::syn);
    s.last_send_time = stack_.now();  // the handshake's RTT sample runs from here
    arm_retransmit(s);
    stack_.stats().count(Counter::tcp_active_opens);
    return -EINPROGRESS;
}

TcpSocket* TcpLayer::accept(TcpSocket& listener, int& error) {
    if (listener.state != TcpState::listen) {
        error = -EINVAL;
        return nullptr;
    }
    TcpSocket* child = listener.accept_head;
    if (!child) {
        error = -EAGAIN;
        return nullptr;
    }
    listener.accept_head = child->accept_next;
    if (!listener.accept_head) listener.accept_tail = nullptr;
    --listener.accept_queue_len;
    child->accept_next = nullptr;
    child->in_accept_queue = false;
    child->listener = nullptr;
    error = 0;
    return child;
}

ssize_t TcpLayer::send(TcpSocket& s, const uint8_t* data, size_t len) {
    if (s.pending_error) {
        int err = s.pending_error;
        s.pending_error = 0;
        return -err;
    }
    switch (s.state) {
    case TcpState::syn_sent:
    case TcpState::syn_received:
    case TcpState::established:
    case TcpState::close_wait: break;
    case TcpState::closed:
    case TcpState::listen: return -ENOTCONN;
    default: return -EPIPE;  // we sent our FIN already
    }
    if (s.fin_queued) return -EPIPE;
    if (len == 0) return 0;
    size_t taken = s.send_buffer.append(data, len);
    if (taken == 0) return -EAGAIN;
    if (s.synchronized()) {
        output(s);
        // RFC 9293 3.8.6.1: data waiting behind a zero window starts the persist timer.
        arm_persist_if_needed(s);
    }
    return static_cast<ssize_t>(taken);
}

ssize_t TcpLayer::receive(TcpSocket& s, uint8_t* data, size_t len, bool peek) {
    size_t available = s.receive_buffer.size();
    if (available == 0) {
        if (s.pending_error) {
            int err = s.pending_error;
            s.pending_error = 0;
            return -err;
        }
        if (s.fin_received || s.read_shutdown) return 0;
        if (s.state == TcpState::closed || s.state == TcpState::listen) return -ENOTCONN;
        return -EAGAIN;
    }
    if (len == 0) return 0;
    uint32_t window_before = s.receive_window();
    size_t n = peek ? s.receive_buffer.peek(0, data, len) : s.receive_buffer.read(data, len);
    if (s.out_of_order.empty()) s.receive_buffer.shrink_if_empty(kRingKeepBytes);
    // Receiver SWS avoidance (RFC 9293 3.8.6.2.2): announce the larger window only
    // once it grew by a full segment or half the buffer.
    uint32_t grown = s.receive_window() - window_before;
    uint32_t threshold = s.receive_buffer_size / 2 < s.snd_mss ? uint32_t(s.receive_buffer_size / 2) : s.snd_mss.get();
    uint32_t advertised = seq_gt(s.rcv_adv, s.rcv_nxt) ? s.rcv_adv - s.rcv_nxt : 0;
    // What an ACK could announce: the 16-bit field caps it (RFC 7323 2.2).
    uint32_t announceable = s.receive_window() < (0xFFFFu << s.rcv_wscale) ? s.receive_window() : 0xFFFFu << s.rcv_wscale;
    if (!peek && s.synchronized() && grown > 0 && announceable > advertised && announceable - advertised >= threshold)
        send_ack(s);
    return static_cast<ssize_t>(n);
}

int TcpLayer::shutdown(TcpSocket& s, bool read, bool write) {
    if (s.state == TcpState::closed || s.state == TcpState::listen || s.state == TcpState::syn_sent) return -ENOTCONN;
    if (read) s.read_shutdown = true;
    if (write && !s.fin_queued) {
        s.fin_queued = true;
        // In SYN-RECEIVED the FIN waits for ESTABLISHED (RFC 9293 3.10.4): our SYN is
        // not yet acknowledged, and a FIN must follow it and any queued data.
        if (s.state == TcpState::established)
            set_state(s, TcpState::fin_wait_1);
        else if (s.state == TcpState::close_wait)
            set_state(s, TcpState::last_ack);
        output(s);
    }
    return 0;
}

void TcpLayer::close(TcpSocket& s) {
    s.fd = -1;
    s.callback = nullptr;
    switch (s.state) {
    case TcpState::listen: {
        // Children nobody will accept are reset (as Linux does on close of a listener).
        sockets_.for_each([&](TcpSocket& c) {
            if (!c.in_use || c.listener != &s) return;
            c.listener = nullptr;
            c.in_accept_queue = false;
            send_reset(c);
            abort(c, ECONNRESET);
        });
        free_socket(s);
        return;
    }
    case TcpState::closed:
    case TcpState::syn_sent:
        return free_socket(s);
    default: break;
    }
    // RFC 2525 2.17: closing with unread data loses it, so tell the peer with a RST;
    // SO_LINGER with a zero timeout asks for the same abortive close.
    if (s.receive_buffer.size() > 0 || (s.linger && s.linger_time == 0)) {
        send_reset(s);
        return abort(s, 0);
    }
    shutdown(s, true, true);
    // An orphan in FIN-WAIT-2 waits at most 2*MSL for the peer's FIN (Linux's tcp_fin_timeout).
    stack_.timers().schedule(s.time_wait_timer, stack_.now() + 2 * config_.msl);
    // SO_LINGER with a time: Linux and the BSDs block close() until the data is
    // acknowledged or the time runs out, then leave the connection to finish on its
    // own. Nothing here blocks, so the time bounds the orphan instead: data and FIN
    // not acknowledged by then are given up with a RST (the peer learns its data is
    // incomplete) and the buffers are freed.
    if (s.linger) {
        s.linger_timer.callback = &TcpLayer::on_linger_timer;
        s.linger_timer.context = &s;
        stack_.timers().schedule(s.linger_timer, stack_.now() + s.linger_time);
    }
}

void TcpLayer::on_linger_timer(Timer& t, TimeNs) {
    TcpSocket& s = *static_cast<TcpSocket*>(t.context);
    TcpLayer& layer = *s.owner;
    // Our FIN acknowledged (FIN-WAIT-2, TIME-WAIT, CLOSED) means every byte was.
    bool fin_unacknowledged = s.state == TcpState::syn_received || s.state == TcpState::fin_wait_1 ||
                              s.state == TcpState::closing || s.state == TcpState::last_ack;
    if (s.fd >= 0 || !fin_unacknowledged) return;
    layer.stack_.stats().count(Counter::tcp_linger_timeouts);
    layer.send_reset(s);
    layer.abort(s, 0);
}

uint16_t TcpLayer::readiness(const TcpSocket& s) const {
    uint16_t ev = 0;
    if (s.state == TcpState::listen) return s.accept_head ? events::in : 0;
    if (s.receive_buffer.size() > 0 || s.fin_received || s.read_shutdown) ev |= events::in;
    if (s.pending_error) ev |= events::err | events::in;
    bool writable_state = s.state == TcpState::established || s.state == TcpState::close_wait;
    if (writable_state && !s.fin_queued && s.send_buffer.free_space() > 0) ev |= events::out;
    if (s.state == TcpState::closed && s.fd >= 0) ev |= events::hup | events::in;
    return ev;
}

void TcpLayer::notify(TcpSocket& s) {
    if (s.callback && s.fd >= 0) s.callback(s.fd, readiness(s), s.callback_user);
    if (s.in_accept_queue && s.listener && s.listener->callback)
        s.listener->callback(s.listener->fd, readiness(*s.listener), s.listener->callback_user);
}

void TcpLayer::set_state(TcpSocket& s, TcpState state) {
    if (state == TcpState::established && s.state != TcpState::established)
        stack_.stats().count(Counter::tcp_established);
    s.state = state;
}

void TcpLayer::abort(TcpSocket& s, int error) {
    bool was_queued = s.in_accept_queue;
    s.retransmit_timer.cancel();
    s.delayed_ack_timer.cancel();
    s.keepalive_timer.cancel();
    s.time_wait_timer.cancel();
    s.linger_timer.cancel();
    if (s.is_linked()) connections_.erase(s);
    if (s.listener && !was_queued && s.state == TcpState::syn_received) --s.listener->syn_queue_len;
    set_state(s, TcpState::closed);
    if (error) s.pending_error = error;
    notify(s);
    maybe_recycle(s);
}

void TcpLayer::maybe_recycle(TcpSocket& s) {
    // A socket goes back to the pool once closed and nobody can name it: not the
    // user (no descriptor) and not a listener's accept queue.
    if (s.state != TcpState::closed || s.fd >= 0 || s.in_accept_queue) return;
    free_socket(s);
}

}  // namespace quasi
