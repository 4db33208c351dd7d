// Remote send handles: the handle table, the send paths (specialized, verified,
// generic) and the guards. The exchange with the server is in remote_link.cpp.
#include "jit/remote/device/remote_client.hpp"

#include "stack/socket.hpp"
#include "stack/stack.hpp"

#include <cerrno>
#include <cstring>

namespace quasi::remote {

RemoteClient::RemoteClient(Stack& stack, ExecRegion& region, VerifyTap* tap, const RemoteConfig& config)
    : stack_(stack), tap_(tap), config_(config), code_(region, this) {}

RemoteClient::~RemoteClient() {
    close_connection();
    for (Handle& h : handles_) h.guard.unwatch();
}

int RemoteClient::specialize_send(int fd, const RemoteSpecOptions& options) {
    if (stack_.descriptors().tcp(fd)) return -EOPNOTSUPP;
    auto snap = freeze_udp_send(stack_, fd, options.message_size);
    if (!snap) return -snap.error().code;
    for (size_t i = 0; i < handles_.size(); ++i) {
        Handle& h = handles_[i];
        if (h.state != State::free) continue;
        h.state = State::queued;
        h.fd = fd;
        h.socket = snap->socket;
        h.options = options;
        h.code = CodeBuffer::kNone;
        h.fn = nullptr;
        h.retry_at = 0;
        h.info = RemoteHandleInfo{};
        h.info.waiting = true;
        return static_cast<int>(i);
    }
    return -ENOSPC;
}

RemoteClient::Handle* RemoteClient::live(int handle) {
    if (handle < 0 || static_cast<size_t>(handle) >= handles_.size()) return nullptr;
    Handle& h = handles_[handle];
    if (h.state == State::free) return nullptr;
    // The socket behind the descriptor is still the one this handle was made for.
    if (!h.socket->in_use || stack_.descriptors().udp(h.fd) != h.socket) return nullptr;
    return &h;
}

void RemoteClient::drop_code(Handle& h) {
    h.fn = nullptr;
    if (h.code != CodeBuffer::kNone) code_.release(h.code);
    h.code = CodeBuffer::kNone;
    h.info.code_bytes = 0;
    h.info.code_address = 0;
}

void RemoteClient::code_evicted(uint32_t owner) {
    Handle& h = handles_[owner];
    h.fn = nullptr;
    h.code = CodeBuffer::kNone;  // the buffer already freed it
    h.info.code_bytes = 0;
    if (h.state == State::ready) h.state = State::idle;  // asks again at its next send
}

void RemoteClient::release(int handle) {
    if (handle < 0 || static_cast<size_t>(handle) >= handles_.size()) return;
    Handle& h = handles_[handle];
    if (h.state == State::free) return;
    if (outstanding_ == handle) outstanding_ = -1;  // its reply, if it comes, is dropped as stale
    drop_code(h);
    h.guard.unwatch();
    h.state = State::free;
}

ssize_t RemoteClient::generic_send(Handle& h, const uint8_t* data, size_t len) {
    ++h.info.generic_sends;
    ssize_t rc = stack_.udp().send_to(*h.socket, data, len, nullptr);
    if (h.options.flush) stack_.flush_all();
    return rc;
}

ssize_t RemoteClient::send(int handle, const void* data, size_t len) {
    Handle* hp = live(handle);
    if (!hp) return -EBADF;
    Handle& h = *hp;
    const auto* bytes = static_cast<const uint8_t*>(data);
    if (!bytes && len > 0) return -EFAULT;
    if (h.state == State::ready && !h.guard.holds()) {
        // A frozen invariant changed: never run this code again; ask for new code.
        drop_code(h);
        h.guard.unwatch();
        h.state = State::queued;
        h.info.waiting = true;
    } else if (h.state == State::idle) {  // evicted: ask again
        h.state = State::queued;
        h.info.waiting = true;
    }
    if (h.state == State::ready && h.fn) {
        code_.touch(h.code);
        if (h.verify_left > 0 && tap_) return verified_send(h, bytes, len);
        ssize_t rc = h.fn(bytes, len);
        if (rc != kSlowPath) {
            ++h.info.specialized_sends;
            if (h.options.flush) stack_.flush_all();
            return rc;
        }
    }
    return generic_send(h, bytes, len);
}

// The specialized frame is built and held back, the state it changed (the IP ID
// counter, the statistics) rewound, the generic path builds its frame for the same
// send, and the two must be equal; the generic one is what leaves.
ssize_t RemoteClient::verified_send(Handle& h, const uint8_t* data, size_t len) {
    stack_.flush_all();  // earlier frames leave now, outside the capture
    uint16_t ident = *h.context.ident_counter;
    Stats before = stack_.stats();
    std::array<PacketPtr, VerifyTap::kMaxCaptured> specialized, generic;
    tap_->set_capture(true);
    ssize_t rc = h.fn(data, len);
    stack_.flush_all();
    size_t n_spec = tap_->take(specialized);
    if (rc == kSlowPath) {  // the code declined: nothing to compare
        tap_->set_capture(false);
        return generic_send(h, data, len);
    }
    *h.context.ident_counter = ident;
    stack_.stats() = before;
    ssize_t rc_generic = stack_.udp().send_to(*h.socket, data, len, nullptr);
    stack_.flush_all();
    size_t n_gen = tap_->take(generic);
    tap_->set_capture(false);
    bool same = rc == rc_generic && n_spec == n_gen;
    for (size_t i = 0; same && i < n_gen; ++i)
        same = specialized[i]->length == generic[i]->length &&
               std::memcmp(specialized[i]->data(), generic[i]->data(), generic[i]->length) == 0;
    for (size_t i = 0; i < n_gen; ++i)
        if (!tap_->forward(std::move(generic[i]))) stack_.stats().drop(Drop::tx_ring_full);
    if (same) {
        --h.verify_left;
        ++h.info.verified_sends;
        ++h.info.specialized_sends;
        stack_.stats().count(Counter::remote_verified_sends);
    } else {
        stack_.stats().drop(Drop::remote_verify_mismatch);
        drop_code(h);
        h.guard.unwatch();
        h.state = State::dead;
        h.info.verify_failed = true;
        ++h.info.generic_sends;
    }
    return rc_generic;
}

RemoteHandleInfo RemoteClient::info(int handle) const {
    if (handle < 0 || static_cast<size_t>(handle) >= handles_.size()) return {};
    const Handle& h = handles_[handle];
    RemoteHandleInfo i = h.info;
    i.specialized = h.state == State::ready && h.fn && h.guard.holds();
    i.waiting = h.state == State::queued || h.state == State::waiting;
    return i;
}

}  // namespace quasi::remote
