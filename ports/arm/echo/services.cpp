#include "ports/arm/echo/services.hpp"

#include "ports/arm/mps2-an385/board.hpp"
#include "stack/socket.hpp"

#include <cerrno>
#include <cstring>

namespace quasi::board {

namespace {

int open_listener(Stack& stack, uint16_t port, int backlog) {
    int fd = socket(stack, kAfInet, kSockStream);
    if (fd < 0) return fd;
    if (int rc = bind(stack, fd, SockAddr{Ipv4Addr{}, port}); rc < 0) return rc;
    if (int rc = listen(stack, fd, backlog); rc < 0) return rc;
    return fd;
}

// quasi-httpd's /bytes/N body: byte i is the top byte of (i * 2654435761) mod 2^32.
void body_bytes(uint64_t offset, uint8_t* out, size_t len) {
    for (size_t i = 0; i < len; ++i)
        out[i] = static_cast<uint8_t>((static_cast<uint32_t>(offset + i) * 2654435761u) >> 24);
}

// Accepts waiting connections into the free slots of `slots` (fd < 0 marks one free).
template <class Connection, size_t N>
size_t accept_into(Stack& stack, int listener, std::array<Connection, N>& slots, uint64_t& accepted) {
    size_t work = 0;
    for (Connection& c : slots) {
        if (c.fd >= 0) continue;
        int fd = accept(stack, listener, nullptr);
        if (fd < 0) break;
        c = Connection{};
        c.fd = fd;
        ++accepted;
        ++work;
    }
    return work;
}

}  // namespace

bool Services::start() {
    udp_fd_ = socket(stack_, kAfInet, kSockDgram);
    if (udp_fd_ < 0 || bind(stack_, udp_fd_, SockAddr{Ipv4Addr{}, kEchoPort}) < 0) return false;
    echo_listener_ = open_listener(stack_, kEchoPort, static_cast<int>(kEchoConnections));
    http_listener_ = open_listener(stack_, kHttpPort, static_cast<int>(kHttpConnections));
    return echo_listener_ >= 0 && http_listener_ >= 0;
}

size_t Services::serve() {
    size_t work = serve_udp() + accept_into(stack_, echo_listener_, echo_, tcp_accepted_) +
                  accept_into(stack_, http_listener_, http_, tcp_accepted_);
    for (EchoConnection& c : echo_)
        if (c.fd >= 0) work += serve_echo(c);
    for (HttpConnection& c : http_)
        if (c.fd >= 0) work += serve_http(c);
    return work;
}

size_t Services::serve_udp() {
    size_t work = 0;
    SockAddr from;
    ssize_t n;
    while ((n = recvfrom(stack_, udp_fd_, datagram_.data(), datagram_.size(), 0, &from)) >= 0) {
        if (sendto(stack_, udp_fd_, datagram_.data(), static_cast<size_t>(n), 0, &from) == n) ++udp_echoed_;
        ++work;
    }
    return work;
}

size_t Services::serve_echo(EchoConnection& c) {
    size_t work = 0;
    for (;;) {
        if (c.pending < c.buf.size() && !c.peer_done) {
            ssize_t n = recv(stack_, c.fd, c.buf.data() + c.pending, c.buf.size() - c.pending);
            if (n > 0) {
                c.pending += static_cast<size_t>(n);
                ++work;
            } else if (n == 0) {
                c.peer_done = true;
            } else if (n != -EAGAIN) {
                close(stack_, c.fd);  // reset or timed out: nothing more to echo
                c.fd = -1;
                return work + 1;
            }
        }
        if (c.pending == 0) break;
        ssize_t sent = send(stack_, c.fd, c.buf.data(), c.pending);
        if (sent <= 0) break;  // -EAGAIN: the send ring is full; the rest waits
        std::memmove(c.buf.data(), c.buf.data() + sent, c.pending - static_cast<size_t>(sent));
        c.pending -= static_cast<size_t>(sent);
        tcp_echoed_bytes_ += static_cast<uint64_t>(sent);
        ++work;
    }
    if (c.peer_done && c.pending == 0) {
        close(stack_, c.fd);  // everything went back: our FIN follows it
        c.fd = -1;
        ++work;
    }
    return work;
}

bool Services::parse_request(HttpConnection& c) {
    // "GET /bytes/N HTTP/1.x": anything else is answered 404.
    const char* r = c.request.data();
    uint64_t n = 0;
    bool ok = !std::strncmp(r, "GET /bytes/", 11);
    const char* p = r + 11;
    ok = ok && *p >= '0' && *p <= '9';
    for (; ok && *p >= '0' && *p <= '9'; ++p) {
        n = n * 10 + static_cast<uint64_t>(*p - '0');
        ok = n <= (uint64_t{1} << 32);
    }
    ok = ok && *p == ' ';
    const char* status = ok ? "HTTP/1.1 200 OK\r\nContent-Length: " : "HTTP/1.1 404 Not Found\r\nContent-Length: ";
    c.body_len = ok ? n : 0;
    size_t len = std::strlen(status);
    std::memcpy(c.head, status, len);
    len += format_decimal(c.body_len, c.head + len);
    const char* tail = "\r\nConnection: close\r\n\r\n";
    std::memcpy(c.head + len, tail, std::strlen(tail));
    c.head_len = len + std::strlen(tail);
    return ok;
}

void Services::close_http(HttpConnection& c) {
    close(stack_, c.fd);
    c.fd = -1;
}

size_t Services::serve_http(HttpConnection& c) {
    size_t work = 0;
    if (!c.responding) {
        const size_t room = c.request.size() - 1 - c.request_len;
        ssize_t n = recv(stack_, c.fd, c.request.data() + c.request_len, room);
        if (n == -EAGAIN) return 0;
        if (n <= 0) {
            close_http(c);
            return 1;
        }
        c.request_len += static_cast<size_t>(n);
        c.request[c.request_len] = '\0';
        if (!std::strstr(c.request.data(), "\r\n\r\n")) {
            if (c.request_len + 1 < c.request.size()) return 1;
            ++http_bad_requests_;  // a head longer than the buffer: answered 404
        }
        if (!parse_request(c)) ++http_bad_requests_;
        c.responding = true;
        work = 1;
    }
    while (c.head_sent < c.head_len) {
        ssize_t n = send(stack_, c.fd, c.head + c.head_sent, c.head_len - c.head_sent);
        if (n <= 0) return work;
        c.head_sent += static_cast<size_t>(n);
        ++work;
    }
    while (c.body_sent < c.body_len) {
        uint64_t left = c.body_len - c.body_sent;
        size_t chunk = left < body_chunk_.size() ? static_cast<size_t>(left) : body_chunk_.size();
        body_bytes(c.body_sent, body_chunk_.data(), chunk);
        ssize_t n = send(stack_, c.fd, body_chunk_.data(), chunk);
        if (n <= 0) {
            if (n != -EAGAIN) close_http(c);
            return work;
        }
        c.body_sent += static_cast<uint64_t>(n);
        ++work;
    }
    ++http_responses_;
    close_http(c);  // Connection: close; the request's rest, if any, is not read
    return work + 1;
}

void Services::print(void (*put)(const char*, uint64_t, const char*)) const {
    put("service udp_echoed", udp_echoed_, nullptr);
    put("service tcp_accepted", tcp_accepted_, nullptr);
    put("service tcp_echoed_bytes", tcp_echoed_bytes_, nullptr);
    put("service http_responses", http_responses_, nullptr);
    put("service http_bad_requests", http_bad_requests_, nullptr);
}

}  // namespace quasi::board
