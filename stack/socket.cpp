#include "stack/socket.hpp"

#include "stack/stack.hpp"

#include <cerrno>
#include <cstring>
#include <new>

// ESOCKTNOSUPPORT is not POSIX and newlib (the bare-metal build) lacks it; there
// POSIX's code for a socket type the protocol does not support stands in.
#ifdef ESOCKTNOSUPPORT
#define QUASI_ESOCKTNOSUPPORT ESOCKTNOSUPPORT
#else
#define QUASI_ESOCKTNOSUPPORT EPROTOTYPE
#endif

namespace quasi {

DescriptorTable::DescriptorTable(size_t size, MemorySource& memory, bool grow)
    : size_(size),
      memory_(memory),
      grow_(grow),
      chunk_entries_(size < kChunk ? size : kChunk),
      chunk_count_((size + kChunk - 1) / kChunk) {
    chunks_ = static_cast<Entry**>(memory_.allocate(chunk_count_ * sizeof(Entry*) + 1, alignof(Entry*)));
    if (!chunks_) {
        chunk_count_ = 0;
        return;
    }
    if (!grow_)
        while (taken_ < size_ && add_chunk()) {}
}

DescriptorTable::~DescriptorTable() {
    if (!chunks_) return;
    for (size_t i = 0; i * kChunk < taken_; ++i) memory_.deallocate(chunks_[i], chunk_entries_ * sizeof(Entry), alignof(Entry));
    memory_.deallocate(chunks_, chunk_count_ * sizeof(Entry*) + 1, alignof(Entry*));
}

bool DescriptorTable::add_chunk() {
    size_t index = taken_ / kChunk;
    if (index >= chunk_count_ || taken_ >= size_) return false;
    void* p = memory_.allocate(chunk_entries_ * sizeof(Entry), alignof(Entry));
    if (!p) return false;
    Entry* chunk = static_cast<Entry*>(p);
    size_t n = size_ - taken_ < chunk_entries_ ? size_ - taken_ : chunk_entries_;
    // Pushed in reverse, so a fresh table hands out 0, 1, 2, ...
    for (size_t i = chunk_entries_; i-- > 0;) {
        new (&chunk[i]) Entry();
        if (i >= n) continue;
        chunk[i].next_free = free_head_;
        free_head_ = static_cast<int>(taken_ + i);
    }
    chunks_[index] = chunk;
    taken_ += chunk_entries_;
    return true;
}

int DescriptorTable::take_entry(Entry value) {
    if (free_head_ < 0 && !(grow_ && add_chunk())) return -EMFILE;
    int fd = free_head_;
    Entry& e = chunks_[size_t(fd) / kChunk][size_t(fd) % kChunk];
    free_head_ = e.next_free;
    e = value;
    return fd;
}

int DescriptorTable::allocate(UdpSocket* s) { return take_entry(Entry{Kind::udp, -1, s, nullptr}); }

int DescriptorTable::allocate(TcpSocket* s) { return take_entry(Entry{Kind::tcp, -1, nullptr, s}); }

void DescriptorTable::release(int fd) {
    Entry* e = get(fd);
    if (!e) return;
    *e = Entry{};
    e->next_free = free_head_;
    free_head_ = fd;
}

namespace {
int read_int(const void* value, size_t len, int& out) {
    if (!value) return -EFAULT;
    if (len < sizeof(int)) return -EINVAL;
    std::memcpy(&out, value, sizeof out);
    return 0;
}

int write_int(int v, void* value, size_t* len) {
    if (!value || !len) return -EFAULT;
    if (*len < sizeof(int)) return -EINVAL;
    std::memcpy(value, &v, sizeof v);
    *len = sizeof v;
    return 0;
}

int take_error(int& pending) {
    int err = pending;
    pending = 0;
    return err;
}

int udp_setsockopt(Stack& stack, UdpSocket& s, int level, int name, int v) {
    if (level == kSolSocket && name == kSoBroadcast) s.broadcast_allowed.guarded_write(v != 0);
    else if (level == kSolSocket && name == kSoNoCheck) s.checksum_enabled.guarded_write(v == 0);
    else if (level == kSolSocket && name == kSoRcvbuf) {
        if (v <= 0) return -EINVAL;
        s.receive_limit = static_cast<size_t>(v);
    } else if (level == kIpProtoIp && name == kIpTtl) {
        if (v == -1) v = stack.config().default_ttl;
        if (v < 1 || v > 255) return -EINVAL;  // TTL 0 is never sent
        s.ttl.guarded_write(static_cast<uint8_t>(v));
    } else if (level == kIpProtoIp && name == kIpTos) {
        if (v < 0 || v > 255) return -EINVAL;
        s.tos.guarded_write(static_cast<uint8_t>(v));
    } else if (level == kIpProtoIp && name == kIpMtuDiscover) {
        if (v != kPmtuDiscDont && v != kPmtuDiscDo) return -EINVAL;
        s.dont_fragment.guarded_write(v == kPmtuDiscDo);
    } else {
        return -ENOPROTOOPT;
    }
    return 0;
}

int tcp_setsockopt(Stack& stack, TcpSocket& s, int level, int name, int v) {
    bool unopened = s.state == TcpState::closed || s.state == TcpState::listen;
    if (level == kIpProtoTcp && name == kTcpNodelay) {
        s.nodelay.guarded_write(v != 0);
        if (v) stack.tcp().output(s);  // Nagle held data back: let it go now
    } else if (level == kSolSocket && name == kSoKeepalive) {
        s.keepalive = v != 0;
        if (s.keepalive && s.state == TcpState::established)
            stack.timers().schedule(s.keepalive_timer, stack.now() + s.keepalive_idle);
    } else if (level == kIpProtoTcp && (name == kTcpKeepidle || name == kTcpKeepintvl)) {
        if (v < 1 || v > 32767) return -EINVAL;
        (name == kTcpKeepidle ? s.keepalive_idle : s.keepalive_interval) = TimeNs(v) * kSecond;
        // A running idle timer follows the new idle time at once (as Linux does), not
        // after the old one expires; probes already going keep their interval.
        if (name == kTcpKeepidle && s.keepalive && s.state == TcpState::established && s.probes_sent == 0) {
            TimeNs due = s.last_receive_time + s.keepalive_idle;
            stack.timers().schedule(s.keepalive_timer, due > stack.now() ? due : stack.now());
        }
    } else if (level == kIpProtoTcp && name == kTcpKeepcnt) {
        if (v < 1 || v > 127) return -EINVAL;
        s.keepalive_count = static_cast<uint32_t>(v);
    } else if (level == kIpProtoTcp && name == kTcpUserTimeout) {
        if (v < 0) return -EINVAL;
        s.user_timeout = TimeNs(v) * kMillisecond;
    } else if (level == kIpProtoTcp && name == kTcpCongestion) {
        if (v != 0 && v != 1) return -EINVAL;
        s.cc.init(v ? CongestionAlgorithm::cubic : CongestionAlgorithm::new_reno, s.snd_mss, stack.now());
    } else if (level == kSolSocket && (name == kSoSndbuf || name == kSoRcvbuf)) {
        // Buffers are sized when the connection opens (as Linux asks: before connect/listen).
        if (!unopened) return -EISCONN;
        if (v < 2048 || v > (1 << 24)) return -EINVAL;
        (name == kSoSndbuf ? s.send_buffer_size : s.receive_buffer_size) = static_cast<size_t>(v);
    } else if (level == kIpProtoIp && name == kIpTtl) {
        if (v == -1) v = stack.config().default_ttl;
        if (v < 1 || v > 255) return -EINVAL;
        s.ttl.guarded_write(static_cast<uint8_t>(v));
    } else if (level == kIpProtoIp && name == kIpTos) {
        if (v < 0 || v > 255) return -EINVAL;
        s.tos.guarded_write(static_cast<uint8_t>(v));
    } else {
        return -ENOPROTOOPT;
    }
    return 0;
}
}  // namespace

int socket(Stack& stack, int domain, int type, int protocol) {
    if (domain != kAfInet) return -EAFNOSUPPORT;
    if (type == kSockDgram) {
        if (protocol != 0 && protocol != int(IpProtocol::udp)) return -EPROTONOSUPPORT;
        UdpSocket* s = stack.udp().open();
        if (!s) return -ENFILE;
        int fd = stack.descriptors().allocate(s);
        if (fd < 0) return stack.udp().close(*s), fd;
        s->fd = fd;
        return fd;
    }
    if (type == kSockStream) {
        if (protocol != 0 && protocol != int(IpProtocol::tcp)) return -EPROTONOSUPPORT;
        TcpSocket* s = stack.tcp().open();
        if (!s) return -ENFILE;
        int fd = stack.descriptors().allocate(s);
        if (fd < 0) return stack.tcp().close(*s), fd;
        s->fd = fd;
        return fd;
    }
    return -QUASI_ESOCKTNOSUPPORT;
}

int bind(Stack& stack, int fd, SockAddr local) {
    if (UdpSocket* s = stack.descriptors().udp(fd)) return stack.udp().bind(*s, local);
    if (TcpSocket* s = stack.descriptors().tcp(fd)) return stack.tcp().bind(*s, local);
    return -EBADF;
}

int connect(Stack& stack, int fd, SockAddr remote) {
    Stack::TimePin pin(stack);  // one clock reading for the whole call
    if (UdpSocket* s = stack.descriptors().udp(fd)) return stack.udp().connect(*s, remote);
    if (TcpSocket* s = stack.descriptors().tcp(fd)) {
        int rc = stack.tcp().connect(*s, remote);
        stack.flush_all();
        return rc;
    }
    return -EBADF;
}

int listen(Stack& stack, int fd, int backlog) {
    if (TcpSocket* s = stack.descriptors().tcp(fd)) return stack.tcp().listen(*s, backlog);
    return stack.descriptors().udp(fd) ? -EOPNOTSUPP : -EBADF;
}

int accept(Stack& stack, int fd, SockAddr* peer) {
    Stack::TimePin pin(stack);  // one clock reading for the whole call
    TcpSocket* l = stack.descriptors().tcp(fd);
    if (!l) return stack.descriptors().udp(fd) ? -EOPNOTSUPP : -EBADF;
    int error = 0;
    TcpSocket* child = stack.tcp().accept(*l, error);
    if (!child) return error;
    int child_fd = stack.descriptors().allocate(child);
    if (child_fd < 0) {  // no descriptor: the connection cannot be handed out
        stack.tcp().send_reset(*child);
        stack.tcp().abort(*child, ECONNABORTED);
        stack.flush_all();
        return child_fd;
    }
    child->fd = child_fd;
    if (peer) *peer = SockAddr{child->remote_addr, child->remote_port};
    return child_fd;
}

ssize_t sendto(Stack& stack, int fd, const void* data, size_t len, int /*flags*/, const SockAddr* dst) {
    Stack::TimePin pin(stack);  // one clock reading for the whole call
    if (!data && len > 0) return -EFAULT;
    ssize_t rc;
    if (UdpSocket* s = stack.descriptors().udp(fd)) {
        rc = stack.udp().send_to(*s, static_cast<const uint8_t*>(data), len, dst);
    } else if (TcpSocket* t = stack.descriptors().tcp(fd)) {
        rc = dst ? -EISCONN : stack.tcp().send(*t, static_cast<const uint8_t*>(data), len);
    } else {
        return -EBADF;
    }
    stack.flush_all();
    return rc;
}

ssize_t send(Stack& stack, int fd, const void* data, size_t len, int flags) {
    return sendto(stack, fd, data, len, flags, nullptr);
}

ssize_t recvfrom(Stack& stack, int fd, void* data, size_t len, int flags, SockAddr* from) {
    Stack::TimePin pin(stack);  // one clock reading for the whole call
    if (!data && len > 0) return -EFAULT;
    if (UdpSocket* s = stack.descriptors().udp(fd))
        return stack.udp().receive_from(*s, static_cast<uint8_t*>(data), len, from, flags & kMsgPeek);
    if (TcpSocket* t = stack.descriptors().tcp(fd)) {
        ssize_t rc = stack.tcp().receive(*t, static_cast<uint8_t*>(data), len, flags & kMsgPeek);
        if (rc >= 0 && from) *from = SockAddr{t->remote_addr, t->remote_port};
        stack.flush_all();
        return rc;
    }
    return -EBADF;
}

ssize_t recv(Stack& stack, int fd, void* data, size_t len, int flags) {
    return recvfrom(stack, fd, data, len, flags, nullptr);
}

int shutdown(Stack& stack, int fd, int how) {
    Stack::TimePin pin(stack);  // one clock reading for the whole call
    TcpSocket* s = stack.descriptors().tcp(fd);
    if (!s) return stack.descriptors().udp(fd) ? -ENOTCONN : -EBADF;
    if (how < kShutRd || how > kShutRdwr) return -EINVAL;
    int rc = stack.tcp().shutdown(*s, how != kShutWr, how != kShutRd);
    stack.flush_all();
    return rc;
}

int close(Stack& stack, int fd) {
    Stack::TimePin pin(stack);  // one clock reading for the whole call
    if (UdpSocket* s = stack.descriptors().udp(fd)) {
        stack.udp().close(*s);
    } else if (TcpSocket* t = stack.descriptors().tcp(fd)) {
        stack.tcp().close(*t);
        stack.flush_all();
    } else {
        return -EBADF;
    }
    stack.descriptors().release(fd);
    return 0;
}

int setsockopt(Stack& stack, int fd, int level, int name, const void* value, size_t len) {
    UdpSocket* u = stack.descriptors().udp(fd);
    TcpSocket* t = stack.descriptors().tcp(fd);
    if (!u && !t) return -EBADF;
    if (t && level == kSolSocket && name == kSoLinger) {
        if (!value) return -EFAULT;
        if (len < sizeof(Linger)) return -EINVAL;
        Linger l;
        std::memcpy(&l, value, sizeof l);
        if (l.seconds < 0) return -EINVAL;
        t->linger = l.onoff != 0;
        t->linger_time = TimeNs(l.seconds) * kSecond;
        return 0;
    }
    int v = 0;
    if (int rc = read_int(value, len, v); rc != 0) return rc;
    int rc = u ? udp_setsockopt(stack, *u, level, name, v) : tcp_setsockopt(stack, *t, level, name, v);
    stack.flush_all();
    return rc;
}

int getsockopt(Stack& stack, int fd, int level, int name, void* value, size_t* len) {
    UdpSocket* s = stack.descriptors().udp(fd);
    TcpSocket* t = stack.descriptors().tcp(fd);
    if (!s && !t) return -EBADF;
    if (level == kSolSocket && name == kSoError) return write_int(take_error(s ? s->pending_error : t->pending_error), value, len);
    if (t) {
        if (level == kIpProtoTcp && name == kTcpNodelay) return write_int(t->nodelay, value, len);
        if (level == kIpProtoTcp && name == kTcpMaxseg) return write_int(t->snd_mss, value, len);
        if (level == kSolSocket && name == kSoKeepalive) return write_int(t->keepalive, value, len);
        if (level == kSolSocket && name == kSoSndbuf) return write_int(int(t->send_buffer_size), value, len);
        if (level == kSolSocket && name == kSoRcvbuf) return write_int(int(t->receive_buffer_size), value, len);
        if (level == kIpProtoIp && name == kIpTtl) return write_int(t->ttl, value, len);
        return -ENOPROTOOPT;
    }
    if (level == kSolSocket && name == kSoBroadcast) return write_int(s->broadcast_allowed, value, len);
    if (level == kSolSocket && name == kSoNoCheck) return write_int(!s->checksum_enabled, value, len);
    if (level == kSolSocket && name == kSoRcvbuf) return write_int(static_cast<int>(s->receive_limit), value, len);
    if (level == kIpProtoIp && name == kIpTtl) return write_int(s->ttl, value, len);
    if (level == kIpProtoIp && name == kIpTos) return write_int(s->tos, value, len);
    if (level == kIpProtoIp && name == kIpMtuDiscover)
        return write_int(s->dont_fragment ? kPmtuDiscDo : kPmtuDiscDont, value, len);
    return -ENOPROTOOPT;
}

int getsockname(Stack& stack, int fd, SockAddr* out) {
    UdpSocket* s = stack.descriptors().udp(fd);
    TcpSocket* t = stack.descriptors().tcp(fd);
    if (!s && !t) return -EBADF;
    if (!out) return -EFAULT;
    *out = s ? SockAddr{s->local_addr, s->local_port} : SockAddr{t->local_addr, t->local_port};
    return 0;
}

int getpeername(Stack& stack, int fd, SockAddr* out) {
    UdpSocket* s = stack.descriptors().udp(fd);
    TcpSocket* t = stack.descriptors().tcp(fd);
    if (!s && !t) return -EBADF;
    if (!out) return -EFAULT;
    if (s ? !s->connected() : !t->synchronized() && t->state != TcpState::syn_received) return -ENOTCONN;
    *out = s ? SockAddr{s->remote_addr, s->remote_port} : SockAddr{t->remote_addr, t->remote_port};
    return 0;
}

int poll(Stack& stack, PollFd* fds, size_t count) {
    if (!fds && count > 0) return -EFAULT;
    int ready = 0;
    for (size_t i = 0; i < count; ++i) {
        uint16_t ev = events::err;  // a bad descriptor
        if (UdpSocket* s = stack.descriptors().udp(fds[i].fd)) ev = stack.udp().readiness(*s);
        else if (TcpSocket* t = stack.descriptors().tcp(fds[i].fd)) ev = stack.tcp().readiness(*t);
        // err and hup are always reported, as poll(2) does.
        fds[i].revents = ev & (fds[i].events | events::err | events::hup);
        if (fds[i].revents) ++ready;
    }
    return ready;
}

int set_ready_callback(Stack& stack, int fd, ReadyCallback callback, void* user) {
    if (UdpSocket* s = stack.descriptors().udp(fd)) {
        s->callback = callback;
        s->callback_user = user;
        return 0;
    }
    if (TcpSocket* t = stack.descriptors().tcp(fd)) {
        t->callback = callback;
        t->callback_user = user;
        return 0;
    }
    return -EBADF;
}

}  // namespace quasi
