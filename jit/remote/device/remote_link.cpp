// The device's exchange with quasi-specd over one TCP connection of its own stack:
// one request on the wire at a time, its reply checked whole before any byte of it
// reaches the code buffer (jit/remote/proto/README.md, "anti-replay").
#include "jit/remote/device/remote_client.hpp"
#include "jit/remote/device/target.hpp"

#include "stack/socket.hpp"
#include "stack/stack.hpp"

#include <cerrno>

namespace quasi::remote {

namespace {
#if defined(__thumb__)
constexpr uintptr_t kEntryBit = 1;  // a Thumb function's address has bit 0 set (ARM ARM A2.3.2)
#else
constexpr uintptr_t kEntryBit = 0;
#endif

// Refusals the same request would get again: no point asking before the device changes.
bool permanent(Status s) {
    return s == Status::bad_request || s == Status::unsupported_version || s == Status::unknown_target ||
           s == Status::bad_context || s == Status::unknown_symbol || s == Status::code_too_large;
}
}  // namespace

void RemoteClient::poll() {
    TimeNs now = stack_.now();
    if (conn_ == Conn::connecting) {
        PollFd p{sock_, events::out, 0};
        quasi::poll(stack_, &p, 1);
        if (p.revents & (events::err | events::hup))
            close_connection(Drop::remote_connect_failed);
        else if (p.revents & events::out)
            conn_ = Conn::open;
        else if (now >= deadline_)
            close_connection(Drop::remote_timeout);
    }
    if (conn_ == Conn::open) {
        pump_tx();
        if (conn_ == Conn::open) pump_rx();
    }
    if (outstanding_ >= 0 && conn_ == Conn::open && now >= deadline_) close_connection(Drop::remote_timeout);
    // A handle waiting for its handshake keeps the connection to the server open, so
    // its request leaves in the poll that sees ESTABLISHED.
    const bool handshakes = queue_established();
    if (outstanding_ < 0) {
        int next = next_queued();
        if ((next >= 0 || handshakes) && conn_ == Conn::closed && now >= reconnect_at_) open_connection();
        if (next >= 0 && conn_ == Conn::open) send_request(*handles_[next], next);
    }
}

int RemoteClient::next_queued() const {
    TimeNs now = stack_.now();
    for (size_t i = 0; i < handles_.size(); ++i)
        if (handles_[i] && handles_[i]->state == State::queued && handles_[i]->retry_at <= now)
            return static_cast<int>(i);
    return -1;
}

void RemoteClient::open_connection() {
    int fd = socket(stack_, kAfInet, kSockStream);
    if (fd < 0) {
        reconnect_at_ = stack_.now() + config_.retry_after;
        stack_.stats().drop(Drop::remote_connect_failed);
        return;
    }
    // Each request is one whole message in one send: Nagle would only hold its tail
    // behind the ACK of a previous one (which a peer in interactive mode delays until
    // it answers, and a request it ignored gets no answer).
    int one = 1;
    setsockopt(stack_, fd, kIpProtoTcp, kTcpNodelay, &one, sizeof one);
    int rc = connect(stack_, fd, config_.server);
    if (rc != 0 && rc != -EINPROGRESS) {
        close(stack_, fd);
        reconnect_at_ = stack_.now() + config_.retry_after;
        stack_.stats().drop(Drop::remote_connect_failed);
        return;
    }
    sock_ = fd;
    conn_ = Conn::connecting;
    deadline_ = stack_.now() + config_.request_timeout;
}

void RemoteClient::close_connection(std::optional<Drop> reason) {
    if (reason) {
        stack_.stats().drop(*reason);
        reconnect_at_ = stack_.now() + config_.retry_after;
        fail_outstanding(stack_.now() + config_.retry_after);
    }
    if (sock_ >= 0) close(stack_, sock_);
    sock_ = -1;
    conn_ = Conn::closed;
    tx_len_ = tx_sent_ = rx_len_ = 0;
    outstanding_ = -1;
}

void RemoteClient::fail_outstanding(TimeNs retry_at) {
    if (outstanding_ < 0) return;
    Handle& h = *handles_[outstanding_];
    outstanding_ = -1;
    fail_version(h, State::queued, retry_at);
}

// The version asked for will not come: the replugger gives it back (and with it its
// reservation in the code buffer).
void RemoteClient::fail_version(Handle& h, State next, TimeNs retry_at) {
    if (PluggableCode* asked = h.plug.newest(); asked && !asked->ready()) {
        asked->error = Error{EAGAIN, "no usable reply"};
        asked->state.store(CodeState::failed, std::memory_order_release);
        h.plug.poll();
    }
    h.state = next;
    h.retry_at = retry_at;
}

bool RemoteClient::send_request(Handle& h, int index) {
    Frozen snap;
    if (freeze(h.fd, h.proto, h.options.message_size, snap) != 0 || snap.socket != h.socket) {
        // Not sendable now (e.g. the next hop not resolved yet): ask later.
        h.retry_at = stack_.now() + config_.retry_after;
        return false;
    }
    const bool tcp = h.proto == Proto::tcp;
    Version* v = fresh_version(h);
    const uint32_t capacity = tcp ? config_.tcp_code_capacity : config_.code_capacity;
    int entry = v ? code_.reserve(capacity, static_cast<uint32_t>(index)) : CodeBuffer::kNone;
    if (entry == CodeBuffer::kNone) {
        if (v) v->in_use = false;
        h.retry_at = stack_.now() + config_.retry_after;
        return false;
    }
    v->entry = entry;
    // The code reads its version's guard word.
    if (tcp) {
        h.tcp_context = snap.tcp;
        h.tcp_context.guard = v->code.guard.address();
    } else {
        h.udp_context = snap.udp;
        h.udp_context.guard = v->code.guard.address();
    }
    h.guard.arm(h.socket, snap.iface, snap.arp_generation);
    h.plug.plug(&v->code, /*keep_running=*/false);  // the old version, if any, is given back

    SpecRequest r;
    r.device_id = config_.device_id;
    r.nonce = (uint64_t{stack_.random_u32()} << 32) | stack_.random_u32();
    r.target = device_target();
    r.path = tcp ? SendPath::tcp : SendPath::udp;
    r.pointer_bytes = sizeof(void*);
    r.layout_tag = tcp ? tcp_context_layout_tag() : udp_context_layout_tag();
    r.context = tcp ? std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(&h.tcp_context), sizeof h.tcp_context)
                    : std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(&h.udp_context), sizeof h.udp_context);
    r.code_address = code_.address(entry);
    r.code_capacity = static_cast<uint32_t>(code_.capacity(entry));
    for (const Symbol& s : host_symbols(r.path)) r.symbols[r.symbol_count++] = s;
    size_t size = 0;
    if (encode(r, config_.key, tx_, size) != ProtoError::ok) {  // a bad key: a configuration error
        fail_version(h, State::dead, 0);
        return false;
    }
    tx_len_ = size;
    tx_sent_ = 0;
    outstanding_ = index;
    nonce_ = r.nonce;
    deadline_ = stack_.now() + config_.request_timeout;
    h.state = State::waiting;
    ++h.info.requests;
    stack_.stats().count(Counter::remote_requests);
    pump_tx();
    return true;
}

void RemoteClient::pump_tx() {
    while (tx_sent_ < tx_len_) {
        ssize_t n = quasi::send(stack_, sock_, tx_.data() + tx_sent_, tx_len_ - tx_sent_);
        if (n == -EAGAIN) return;
        if (n <= 0) {
            close_connection(Drop::remote_connect_failed);
            return;
        }
        tx_sent_ += static_cast<size_t>(n);
    }
}

// Reads at most up to the end of the current message, so no bytes of the next one
// need moving; a length prefix out of range means the stream cannot be trusted.
void RemoteClient::pump_rx() {
    for (;;) {
        size_t want = 4 - rx_len_;
        if (rx_len_ >= 4) {
            uint32_t len = message_length(std::span<const uint8_t>(rx_.data(), rx_len_));
            if (len == 0) {
                close_connection(Drop::remote_reply_malformed);
                return;
            }
            want = len - rx_len_;
        }
        ssize_t n = recv(stack_, sock_, rx_.data() + rx_len_, want);
        if (n == -EAGAIN) return;
        if (n == 0 && rx_len_ == 0 && outstanding_ < 0) {  // the server closed an idle connection
            close_connection();
            return;
        }
        if (n <= 0) {  // closed or reset with a reply owed, perhaps mid-message
            close_connection(rx_len_ > 0 ? Drop::remote_reply_malformed : Drop::remote_connect_failed);
            return;
        }
        rx_len_ += static_cast<size_t>(n);
        if (rx_len_ >= 4 && rx_len_ == message_length(std::span<const uint8_t>(rx_.data(), rx_len_))) {
            size_t len = rx_len_;
            rx_len_ = 0;
            on_message(std::span<const uint8_t>(rx_.data(), len));
            if (conn_ != Conn::open) return;
        }
    }
}

bool RemoteClient::reply_matches(const Handle& h, int entry, const SpecReply& r) {
    const SendPath path = h.proto == Proto::tcp ? SendPath::tcp : SendPath::udp;
    return r.target == device_target() && r.path == path && r.code_address == code_.address(entry) &&
           r.code.size() <= code_.capacity(entry) && r.entry_offset < r.code.size() &&
           r.symbol_hash == symbol_table_hash(host_symbols(path));
}

// Every check passes before code_.install() copies a byte.
void RemoteClient::on_message(std::span<const uint8_t> message) {
    SpecReply r;
    ProtoError e = decode(message, config_.key, r);
    if (e == ProtoError::bad_mac) return close_connection(Drop::remote_reply_bad_mac);
    if (e != ProtoError::ok) return close_connection(Drop::remote_reply_malformed);
    if (outstanding_ < 0 || r.nonce != nonce_ || r.device_id != config_.device_id) {
        stack_.stats().drop(Drop::remote_reply_stale_nonce);  // and keep waiting for the real one
        return;
    }
    Handle& h = *handles_[outstanding_];
    Version* v = h.version_of(h.plug.newest());
    h.info.last_status = r.status;
    if (r.status != Status::ok) {
        stack_.stats().drop(Drop::remote_request_refused);
        fail_outstanding(stack_.now() + config_.retry_after);
        if (permanent(r.status)) h.state = State::dead;
        return;
    }
    if (!v || v->entry == CodeBuffer::kNone || !reply_matches(h, v->entry, r)) {
        stack_.stats().drop(Drop::remote_reply_mismatch);
        return fail_outstanding(stack_.now() + config_.retry_after);
    }
    // A frozen invariant changed while the code was on its way: it is for the old
    // state. Ask again at once.
    if (h.guard.violated() || !v->code.guard.holds()) return fail_outstanding(0);
    if (!code_.install(v->entry, r.code)) {
        stack_.stats().drop(Drop::remote_reply_mismatch);
        return fail_outstanding(stack_.now() + config_.retry_after);
    }
    outstanding_ = -1;
    uintptr_t entry = static_cast<uintptr_t>(code_.address(v->entry)) + r.entry_offset;
    v->code.function.store(reinterpret_cast<void*>(entry | kEntryBit), std::memory_order_relaxed);
    v->code.state.store(CodeState::ready, std::memory_order_release);
    h.plug.poll();  // plugs it: the handle calls it from its next send
    h.state = State::ready;
    h.verify_left = config_.verify_sends;
    ++h.info.installs;
    h.info.code_bytes = r.code.size();
    h.info.code_address = code_.address(v->entry);
    stack_.stats().count(Counter::remote_code_installed);
}

}  // namespace quasi::remote
