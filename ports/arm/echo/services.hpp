// The firmware's services over the stack's socket API, every buffer static:
// UDP echo and TCP echo on port 7 (RFC 862) and a tiny HTTP responder on port 80.
#pragma once

#include "stack/stack.hpp"

#include <array>
#include <cstddef>
#include <cstdint>

namespace quasi::board {

class Services {
public:
    static constexpr uint16_t kEchoPort = 7;
    static constexpr uint16_t kHttpPort = 80;
    static constexpr size_t kEchoConnections = 10;
    static constexpr size_t kHttpConnections = 2;

    explicit Services(Stack& stack) : stack_(stack) {}
    // Opens the UDP socket and both listeners; false on any failure.
    bool start();
    // One pass over every socket; returns the work done (0: idle).
    size_t serve();
    // Calls put(key, value, note) for the services' counters.
    void print(void (*put)(const char*, uint64_t, const char*)) const;

private:
    // An echo connection: what was received and not yet sent back waits in `pending`.
    struct EchoConnection {
        int fd = -1;
        size_t pending = 0;
        bool peer_done = false;  // the peer's FIN arrived: close once everything is back
        std::array<uint8_t, 1024> buf{};
    };
    // An HTTP connection: the request head, then the response as it is sent.
    struct HttpConnection {
        int fd = -1;
        size_t request_len = 0;
        bool responding = false;
        char head[96]{};
        size_t head_len = 0;
        size_t head_sent = 0;
        uint64_t body_len = 0;
        uint64_t body_sent = 0;
        std::array<char, 256> request{};
    };

    size_t serve_udp();
    size_t serve_echo(EchoConnection& c);
    size_t serve_http(HttpConnection& c);
    bool parse_request(HttpConnection& c);
    void close_http(HttpConnection& c);

    Stack& stack_;
    int udp_fd_ = -1;
    int echo_listener_ = -1;
    int http_listener_ = -1;
    std::array<EchoConnection, kEchoConnections> echo_{};
    std::array<HttpConnection, kHttpConnections> http_{};
    std::array<uint8_t, 1472> datagram_{};
    std::array<uint8_t, 1024> body_chunk_{};
    uint64_t udp_echoed_ = 0;
    uint64_t tcp_accepted_ = 0;
    uint64_t tcp_echoed_bytes_ = 0;
    uint64_t http_responses_ = 0;
    uint64_t http_bad_requests_ = 0;
};

}  // namespace quasi::board
