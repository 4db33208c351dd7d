#include "apps/tcp_server.hpp"

#include <cerrno>

namespace quasi::app {

int TcpServer::listen(uint16_t port, int backlog) {
    listen_fd_ = socket(stack_, kAfInet, kSockStream);
    if (listen_fd_ < 0) return listen_fd_;
    if (int rc = bind(stack_, listen_fd_, SockAddr{Ipv4Addr{}, port}); rc < 0) return rc;
    return quasi::listen(stack_, listen_fd_, backlog);
}

bool TcpServer::pump_output(Connection& c) {
    for (;;) {
        if (c.out_offset == c.out.size()) {
            c.out.clear();
            c.out_offset = 0;
            if (c.to_generate > c.generated && generator_) generator_(c, user_);
            if (c.out.empty()) return true;
        }
        ssize_t n = send(stack_, c.fd, c.out.data() + c.out_offset, c.out.size() - c.out_offset);
        if (n == -EAGAIN) return true;
        if (n < 0) return false;
        c.out_offset += static_cast<size_t>(n);
    }
}

void TcpServer::close_connection(int fd) {
    close(stack_, fd);
    connections_.erase(fd);
}

size_t TcpServer::serve() {
    size_t work = 0;
    for (;;) {
        int fd = accept(stack_, listen_fd_, nullptr);
        if (fd < 0) break;
        int one = 1;
        setsockopt(stack_, fd, kIpProtoTcp, kTcpNodelay, &one, sizeof one);
        connections_[fd].fd = fd;
        ++accepted_;
        ++work;
    }
    closing_.clear();
    for (auto& [fd, c] : connections_) {
        ssize_t n;
        bool eof = false;
        while ((n = recv(stack_, fd, buffer_.data(), buffer_.size())) > 0) {
            c.in.append(reinterpret_cast<const char*>(buffer_.data()), static_cast<size_t>(n));
            ++work;
        }
        if (n == 0) eof = true;
        if (n < 0 && n != -EAGAIN) {
            closing_.push_back(fd);
            continue;
        }
        if (!c.in.empty()) handler_(c, user_);
        bool ok = pump_output(c);
        bool drained = c.out_offset == c.out.size() && c.to_generate == c.generated;
        if (!ok || ((eof || c.close_after_output) && drained)) closing_.push_back(fd);
    }
    for (int fd : closing_) close_connection(fd);
    return work;
}

}  // namespace quasi::app
