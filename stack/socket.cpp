#include "stack/socket.hpp"

#include "stack/stack.hpp"

#include <cerrno>
#include <cstring>

namespace quasi {

DescriptorTable::DescriptorTable(size_t size) : size_(size), entries_(new Entry[size]) {}

int DescriptorTable::allocate(UdpSocket* s) {
    for (size_t fd = 0; fd < size_; ++fd) {
        if (entries_[fd].kind != Kind::free) continue;
        entries_[fd] = Entry{Kind::udp, s};
        return static_cast<int>(fd);
    }
    return -EMFILE;
}

void DescriptorTable::release(int fd) {
    if (get(fd)) entries_[fd] = Entry{};
}

namespace {
template <class T>
int read_option(const void* value, size_t len, T& out) {
    if (!value) return -EFAULT;
    if (len < sizeof(int)) return -EINVAL;
    int v;
    std::memcpy(&v, value, sizeof v);
    out = static_cast<T>(v);
    return 0;
}

int write_option(int v, void* value, size_t* len) {
    if (!value || !len) return -EFAULT;
    if (*len < sizeof(int)) return -EINVAL;
    std::memcpy(value, &v, sizeof v);
    *len = sizeof v;
    return 0;
}
}  // namespace

int socket(Stack& stack, int domain, int type, int protocol) {
    if (domain != kAfInet) return -EAFNOSUPPORT;
    if (type != kSockDgram) return -ESOCKTNOSUPPORT;
    if (protocol != 0 && protocol != int(IpProtocol::udp)) return -EPROTONOSUPPORT;
    UdpSocket* s = stack.udp().open();
    if (!s) return -ENFILE;
    int fd = stack.descriptors().allocate(s);
    if (fd < 0) {
        stack.udp().close(*s);
        return fd;
    }
    s->fd = fd;
    return fd;
}

int bind(Stack& stack, int fd, SockAddr local) {
    UdpSocket* s = stack.descriptors().udp(fd);
    if (!s) return -EBADF;
    return stack.udp().bind(*s, local);
}

int connect(Stack& stack, int fd, SockAddr remote) {
    UdpSocket* s = stack.descriptors().udp(fd);
    if (!s) return -EBADF;
    return stack.udp().connect(*s, remote);
}

ssize_t sendto(Stack& stack, int fd, const void* data, size_t len, int /*flags*/, const SockAddr* dst) {
    UdpSocket* s = stack.descriptors().udp(fd);
    if (!s) return -EBADF;
    if (!data && len > 0) return -EFAULT;
    ssize_t rc = stack.udp().send_to(*s, static_cast<const uint8_t*>(data), len, dst);
    stack.flush_all();
    return rc;
}

ssize_t send(Stack& stack, int fd, const void* data, size_t len, int flags) {
    return sendto(stack, fd, data, len, flags, nullptr);
}

ssize_t recvfrom(Stack& stack, int fd, void* data, size_t len, int flags, SockAddr* from) {
    UdpSocket* s = stack.descriptors().udp(fd);
    if (!s) return -EBADF;
    if (!data && len > 0) return -EFAULT;
    return stack.udp().receive_from(*s, static_cast<uint8_t*>(data), len, from, flags & kMsgPeek);
}

ssize_t recv(Stack& stack, int fd, void* data, size_t len, int flags) {
    return recvfrom(stack, fd, data, len, flags, nullptr);
}

int close(Stack& stack, int fd) {
    UdpSocket* s = stack.descriptors().udp(fd);
    if (!s) return -EBADF;
    stack.udp().close(*s);
    stack.descriptors().release(fd);
    return 0;
}

int setsockopt(Stack& stack, int fd, int level, int name, const void* value, size_t len) {
    UdpSocket* s = stack.descriptors().udp(fd);
    if (!s) return -EBADF;
    int v = 0;
    if (int rc = read_option(value, len, v); rc != 0) return rc;
    if (level == kSolSocket && name == kSoBroadcast) {
        s->broadcast_allowed.guarded_write(v != 0);
    } else if (level == kSolSocket && name == kSoNoCheck) {
        s->checksum_enabled.guarded_write(v == 0);
    } else if (level == kSolSocket && name == kSoRcvbuf) {
        if (v <= 0) return -EINVAL;
        s->receive_limit = static_cast<size_t>(v);
    } else if (level == kIpProtoIp && name == kIpTtl) {
        if (v == -1) v = stack.config().default_ttl;
        if (v < 1 || v > 255) return -EINVAL;  // TTL 0 is never sent
        s->ttl.guarded_write(static_cast<uint8_t>(v));
    } else if (level == kIpProtoIp && name == kIpTos) {
        if (v < 0 || v > 255) return -EINVAL;
        s->tos.guarded_write(static_cast<uint8_t>(v));
    } else if (level == kIpProtoIp && name == kIpMtuDiscover) {
        if (v != kPmtuDiscDont && v != kPmtuDiscDo) return -EINVAL;
        s->dont_fragment.guarded_write(v == kPmtuDiscDo);
    } else {
        return -ENOPROTOOPT;
    }
    return 0;
}

int getsockopt(Stack& stack, int fd, int level, int name, void* value, size_t* len) {
    UdpSocket* s = stack.descriptors().udp(fd);
    if (!s) return -EBADF;
    if (level == kSolSocket && name == kSoError) {
        int err = s->pending_error;
        s->pending_error = 0;
        return write_option(err, value, len);
    }
    if (level == kSolSocket && name == kSoBroadcast) return write_option(s->broadcast_allowed, value, len);
    if (level == kSolSocket && name == kSoNoCheck) return write_option(!s->checksum_enabled, value, len);
    if (level == kSolSocket && name == kSoRcvbuf) return write_option(static_cast<int>(s->receive_limit), value, len);
    if (level == kIpProtoIp && name == kIpTtl) return write_option(s->ttl, value, len);
    if (level == kIpProtoIp && name == kIpTos) return write_option(s->tos, value, len);
    if (level == kIpProtoIp && name == kIpMtuDiscover)
        return write_option(s->dont_fragment ? kPmtuDiscDo : kPmtuDiscDont, value, len);
    return -ENOPROTOOPT;
}

int getsockname(Stack& stack, int fd, SockAddr* out) {
    UdpSocket* s = stack.descriptors().udp(fd);
    if (!s) return -EBADF;
    if (!out) return -EFAULT;
    *out = SockAddr{s->local_addr, s->local_port};
    return 0;
}

int getpeername(Stack& stack, int fd, SockAddr* out) {
    UdpSocket* s = stack.descriptors().udp(fd);
    if (!s) return -EBADF;
    if (!out) return -EFAULT;
    if (!s->connected()) return -ENOTCONN;
    *out = SockAddr{s->remote_addr, s->remote_port};
    return 0;
}

int poll(Stack& stack, PollFd* fds, size_t count) {
    if (!fds && count > 0) return -EFAULT;
    int ready = 0;
    for (size_t i = 0; i < count; ++i) {
        UdpSocket* s = stack.descriptors().udp(fds[i].fd);
        // err and hup are always reported, as poll(2) does.
        fds[i].revents = s ? stack.udp().readiness(*s) & (fds[i].events | events::err | events::hup) : events::err;
        if (fds[i].revents) ++ready;
    }
    return ready;
}

int set_ready_callback(Stack& stack, int fd, ReadyCallback callback, void* user) {
    UdpSocket* s = stack.descriptors().udp(fd);
    if (!s) return -EBADF;
    s->callback = callback;
    s->callback_user = user;
    return 0;
}

}  // namespace quasi
