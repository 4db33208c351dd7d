// A small non-blocking TCP server loop over the quasi socket API, shared by the
// echo and HTTP servers: accepts every pending connection, feeds readable ones to a
// handler, and keeps each connection's unsent output until the socket takes it.
#pragma once

#include "stack/socket.hpp"
#include "stack/stack.hpp"

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace quasi::app {

class TcpServer {
public:
    struct Connection {
        int fd = -1;
        std::string in;       // received, not yet consumed by the handler
        std::string out;      // produced, not yet taken by the socket
        size_t out_offset = 0;
        bool close_after_output = false;
        uint64_t generated = 0;  // streaming state for handlers (bytes produced so far)
        uint64_t to_generate = 0;
    };
    // Consumes conn.in, appends to conn.out; may set close_after_output.
    using Handler = void (*)(Connection& conn, void* user);
    // Called when conn.out runs dry while conn.to_generate > conn.generated.
    using Generator = void (*)(Connection& conn, void* user);

    TcpServer(Stack& stack, Handler handler, Generator generator, void* user)
        : stack_(stack), handler_(handler), generator_(generator), user_(user) {}

    // 0 or -errno.
    int listen(uint16_t port, int backlog = 1024);
    // One pass over the listener and every connection; returns work done.
    size_t serve();
    size_t connections() const { return connections_.size(); }
    uint64_t accepted() const { return accepted_; }

private:
    bool pump_output(Connection& c);
    void close_connection(int fd);

    Stack& stack_;
    Handler handler_;
    Generator generator_;
    void* user_;
    int listen_fd_ = -1;
    std::unordered_map<int, Connection> connections_;
    std::vector<int> closing_;
    std::vector<uint8_t> buffer_ = std::vector<uint8_t>(65536);
    uint64_t accepted_ = 0;
};

}  // namespace quasi::app
