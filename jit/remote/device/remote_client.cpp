// Remote send handles: the handle table, the send paths (specialized, verified,
// generic) and the guards (guards/). The exchange with the server is in remote_link.cpp.
#include "jit/remote/device/remote_client.hpp"

#include "jit/remote/device/tcp_verify.hpp"
#include "stack/socket.hpp"
#include "stack/stack.hpp"
#include "stack/tcp.hpp"

#include <cerrno>
#include <cstring>

namespace quasi::remote {

RemoteClient::RemoteClient(Stack& stack, ExecRegion& region, VerifyTap* tap, const RemoteConfig& config)
    : stack_(stack), tap_(tap), config_(config), code_(region, this) {}

RemoteClient::~RemoteClient() {
    close_connection();
    for (size_t i = 0; i < handles_.size(); ++i) release(static_cast<int>(i));
}

int RemoteClient::freeze(int fd, Proto proto, std::optional<uint32_t> message_size, Frozen& out) {
    auto take = [&out](auto snap, auto& context) {
        if (!snap) return -snap.error().code;
        context = snap->context;
        out.socket = snap->socket;
        out.iface = snap->context.iface;
        out.arp_generation = snap->arp_generation;
        return 0;
    };
    return proto == Proto::tcp ? take(freeze_tcp_send(stack_, fd, message_size), out.tcp)
                               : take(freeze_udp_send(stack_, fd, message_size), out.udp);
}

int RemoteClient::specialize_send(int fd, const RemoteSpecOptions& options) {
    TcpSocket* tcp = stack_.descriptors().tcp(fd);
    const Proto proto = tcp ? Proto::tcp : Proto::udp;
    // A connection in its handshake: its context (MSS, window scale, timestamps, SACK)
    // is the SYN-ACK's, so the handle waits and asks at ESTABLISHED (poll()). Not
    // frozen now: the refusal's message would take heap memory, which a board has not.
    const bool handshaking = tcp && (tcp->state == TcpState::syn_sent || tcp->state == TcpState::syn_received);
    Frozen snap;
    const int rc = handshaking ? -ENOTCONN : freeze(fd, proto, options.message_size, snap);
    if (rc < 0 && !handshaking) return rc;
    for (size_t i = 0; i < handles_.size(); ++i) {
        if (handles_[i]) continue;
        Handle& h = handles_[i].emplace(stack_, fd, proto, rc < 0 ? tcp : snap.socket, options,
                                        static_cast<CodeOwner&>(*this));
        h.info.waiting = true;
        if (rc < 0) {
            h.state = State::connecting;
            return static_cast<int>(i);
        }
        // Watching from now: a change before the code arrives is seen like one after.
        h.guard.arm(snap.socket, snap.iface, snap.arp_generation);
        return static_cast<int>(i);
    }
    return -ENOSPC;
}

// Handles asked while their connection was in its handshake: queued for a request the
// poll their connection became ESTABLISHED in. True if any is still waiting for it.
bool RemoteClient::queue_established() {
    bool waiting = false;
    for (auto& slot : handles_) {
        if (!slot || slot->state != State::connecting) continue;
        Handle& h = *slot;
        const TcpState state = h.tcp().state;
        waiting = waiting || state == TcpState::syn_sent || state == TcpState::syn_received;
        // Only then frozen (a refusal's message takes heap memory); if it fails, the
        // handle's sends stay generic and report what the connection became.
        Frozen snap;
        if (state != TcpState::established || freeze(h.fd, h.proto, h.options.message_size, snap) != 0 ||
            snap.socket != h.socket)
            continue;
        h.guard.arm(snap.socket, snap.iface, snap.arp_generation);
        h.state = State::queued;
        h.retry_at = 0;
    }
    return waiting;
}

// A version for the next request: one the replugger does not hold, made new.
RemoteClient::Version* RemoteClient::fresh_version(Handle& h) {
    for (Version& v : h.versions) {
        if (v.in_use) continue;
        v.in_use = true;
        v.entry = CodeBuffer::kNone;
        v.code.function.store(nullptr, std::memory_order_relaxed);
        v.code.state.store(CodeState::compiling, std::memory_order_release);
        v.code.guard.clear();
        v.code.error = Error{};
        v.code.serial = ++serial_;
        return &v;
    }
    return nullptr;
}

// CodeOwner: the replugger gives a version back once the handle can no longer call it.
void RemoteClient::release(PluggableCode* code) {
    for (auto& h : handles_) {
        if (!h) continue;
        if (Version* v = h->version_of(code)) {
            if (v->entry != CodeBuffer::kNone) code_.release(v->entry);
            v->entry = CodeBuffer::kNone;
            v->in_use = false;
            return;
        }
    }
}

void RemoteClient::unplug(Handle& h, State next) {
    h.plug.unplug();
    h.state = next;
    h.info.code_bytes = 0;
    h.info.code_address = 0;
}

// The buffer took the room back: the code must never run again.
void RemoteClient::code_evicted(uint32_t owner, int entry) {
    if (owner >= handles_.size() || !handles_[owner]) return;
    Handle& h = *handles_[owner];
    bool ours = false;
    for (Version& v : h.versions)
        if (v.in_use && v.entry == entry) {
            v.entry = CodeBuffer::kNone;  // already freed by the buffer
            ours = true;
        }
    if (ours) unplug(h, State::idle);
}

void RemoteClient::release(int handle) {
    Handle* h = slot(handle);
    if (!h) return;
    if (outstanding_ == handle) outstanding_ = -1;  // its reply, if it comes, is dropped as stale
    // Every version goes back while the slot is still engaged, so release(PluggableCode*)
    // finds it here and frees its room (reserved or installed) in the code buffer.
    h->plug.unplug();
    handles_[handle].reset();
}

ssize_t RemoteClient::generic_send(Handle& h, const uint8_t* data, size_t len) {
    ++h.info.generic_sends;
    ssize_t rc = h.proto == Proto::tcp ? stack_.tcp().send(h.tcp(), data, len)
                                       : stack_.udp().send_to(h.udp(), data, len, nullptr);
    if (h.options.flush) stack_.flush_all();
    return rc;
}

ssize_t RemoteClient::send(int handle, const void* data, size_t len) {
    Handle* hp = slot(handle);
    if (!hp) return -EBADF;
    Handle& h = *hp;
    const auto* bytes = static_cast<const uint8_t*>(data);
    if (!bytes && len > 0) return -EFAULT;
    // The guard at entry: the code reads its guard word, the handle compares the ARP
    // generation; anything else is the guards' slow path (guards/handle_guard.hpp).
    if (SendFn fn = h.code(); fn && h.guard.arp_holds()) {
        code_.touch(h.running()->entry);
        if (h.verify_left > 0 && tap_) return verified_send(h, bytes, len);
        ssize_t rc = fn(bytes, len);
        if (rc != kSlowPath) {
            ++h.info.specialized_sends;
            // The code sent on its context's interface only: that one leaves now.
            if (h.options.flush) h.guard.iface()->flush();
            return rc;
        }
    }
    if (h.state == State::connecting) return generic_send(h, bytes, len);  // no guard armed yet
    switch (h.guard.decide()) {
    case HandleGuard::Verdict::closed:
        return -EBADF;
    case HandleGuard::Verdict::reject:  // not this policy's; kept for completeness
        return -ESTALE;
    case HandleGuard::Verdict::reinforce:  // no egress rule on a remote device: ask again
    case HandleGuard::Verdict::respecialize:
        // A frozen invariant changed (or no code yet): never run the old code again;
        // ask for new code unless a request is already queued or on the wire.
        if (h.state == State::ready || h.state == State::idle) {
            unplug(h, State::queued);
            h.info.waiting = true;
        }
        break;
    case HandleGuard::Verdict::run:
        break;
    }
    return generic_send(h, bytes, len);
}

ssize_t RemoteClient::verified_send(Handle& h, const uint8_t* data, size_t len) {
    stack_.flush_all();  // earlier frames leave now, outside the capture
    return h.proto == Proto::tcp ? verified_tcp_send(h, data, len) : verified_udp_send(h, data, len);
}

namespace {
bool same_frames(std::span<const PacketPtr> a, std::span<const PacketPtr> b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (a[i]->length != b[i]->length || std::memcmp(a[i]->data(), b[i]->data(), a[i]->length) != 0) return false;
    return true;
}
}  // namespace

// The frames the stack sent since the capture began (flushed first).
size_t RemoteClient::take_frames(Frames& out) {
    stack_.flush_all();
    return tap_->take(out);
}

// Forwards the generic frames and counts the comparison; a mismatch drops the code for good.
void RemoteClient::verify_outcome(Handle& h, bool same, Frames& generic, size_t n_gen) {
    tap_->set_capture(false);
    for (size_t i = 0; i < n_gen; ++i)
        if (!tap_->forward(std::move(generic[i]))) stack_.stats().drop(Drop::tx_ring_full);
    if (same) {
        --h.verify_left;
        ++h.info.verified_sends;
        ++h.info.specialized_sends;
        stack_.stats().count(Counter::remote_verified_sends);
    } else {
        stack_.stats().drop(Drop::remote_verify_mismatch);
        unplug(h, State::dead);
        h.info.verify_failed = true;
        ++h.info.generic_sends;
    }
}

// The specialized frame is built and held back, the state it changed (the IP ID
// counter, the statistics) rewound, the generic path builds its frame for the same
// send, and the two must be equal; the generic one is what leaves.
ssize_t RemoteClient::verified_udp_send(Handle& h, const uint8_t* data, size_t len) {
    uint16_t ident = *h.udp_context.ident_counter;
    Stats before = stack_.stats();
    Frames specialized, generic;
    tap_->set_capture(true);
    ssize_t rc = h.code()(data, len);
    size_t n_spec = take_frames(specialized);
    if (rc == kSlowPath) {  // the code declined: nothing to compare
        tap_->set_capture(false);
        return generic_send(h, data, len);
    }
    *h.udp_context.ident_counter = ident;
    stack_.stats() = before;
    ssize_t rc_generic = stack_.udp().send_to(h.udp(), data, len, nullptr);
    size_t n_gen = take_frames(generic);
    verify_outcome(h, rc == rc_generic && same_frames({specialized.data(), n_spec}, {generic.data(), n_gen}), generic,
                   n_gen);
    return rc_generic;
}

// TCP (tcp_verify.hpp): the code's segments are held back and the sender state they
// moved (the message appended to the send ring included) rewound; TcpLayer::send
// then sends the message from the same state at the same instant. Return values,
// frames and the state after must agree; the generic segments leave. A send that
// may retransmit (recovery, SND.NXT rewound by a timeout) changes more than is
// rewound (the retransmission log), and one with data queued unsent or of more
// segments than the tap holds could send more than it captures: those go generic,
// unverified.
ssize_t RemoteClient::verified_tcp_send(Handle& h, const uint8_t* data, size_t len) {
    TcpSocket& s = h.tcp();
    const bool all_sent = s.snd_nxt == s.snd_max && s.snd_nxt - s.snd_una == s.send_buffer.size();
    if (s.in_recovery || !all_sent || len > (VerifyTap::kMaxCaptured - 1) * size_t{stack_.tcp().data_mss(s)})
        return generic_send(h, data, len);
    Stack::TimePin pin(stack_);  // one instant for both: timestamps, RTT sample, timers
    uint16_t* ident = h.tcp_context.ident_counter;
    const TcpSendState start = TcpSendState::of(s, ident);
    Stats before = stack_.stats();
    Frames specialized, generic;
    tap_->set_capture(true);
    ssize_t rc = h.code()(data, len);
    size_t n_spec = take_frames(specialized);
    const TcpSendState after_code = TcpSendState::of(s, ident);
    if (rc == kSlowPath && n_spec == 0 && after_code == start) {  // the code declined: nothing to compare
        tap_->set_capture(false);
        return generic_send(h, data, len);
    }
    start.restore(stack_, s, ident);
    stack_.stats() = before;
    ssize_t rc_generic = stack_.tcp().send(s, data, len);
    size_t n_gen = take_frames(generic);
    bool same = rc == rc_generic && TcpSendState::of(s, ident) == after_code &&
                same_frames({specialized.data(), n_spec}, {generic.data(), n_gen});
    verify_outcome(h, same, generic, n_gen);
    return rc_generic;
}

RemoteHandleInfo RemoteClient::info(int handle) const {
    if (handle < 0 || static_cast<size_t>(handle) >= handles_.size() || !handles_[handle]) return {};
    const Handle& h = *handles_[handle];
    RemoteHandleInfo i = h.info;
    i.specialized = h.state == State::ready && h.code() && !h.guard.violated() && h.plug.running() &&
                    h.plug.running()->guard.holds() && h.guard.arp_holds();
    i.waiting = h.state == State::queued || h.state == State::waiting || h.state == State::connecting;
    return i;
}

}  // namespace quasi::remote
