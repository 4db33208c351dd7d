// The firmware's remote specialization (jit/remote/device/): with the boot arguments
// "specd=A:PORT key=HEX device=N" the board asks quasi-specd at A:PORT, over its own
// TCP, for the specialized send path of its benchmark socket (UDP to the gateway's
// discard port) when the console says 'r', or of a TCP connection to the gateway's
// port 5001 when it says 't', streams through the handle, changes a route (and for
// TCP the path MTU) mid-stream, and prints what happened (ports/arm/README.md).
#pragma once

#include "jit/remote/device/remote_client.hpp"
#include "jit/remote/device/verify_tap.hpp"
#include "stack/udp.hpp"

#include <cstddef>
#include <cstdint>

namespace quasi::board {

struct RemoteArgs {
    bool enabled = false;  // specd= given
    SockAddr server;
    uint64_t device_id = 0;
    uint8_t key[remote::kMaxKeyBytes] = {};
    size_t key_len = 0;
};

// Takes "specd=", "key=" and "device=" boot arguments; false if `token` is one of
// them and malformed; `known` tells whether it was one of them.
bool parse_remote_arg(const char* token, RemoteArgs& args, bool& known);

class BoardRemote {
public:
    // Starts the client (no traffic until 'r'); false when the arguments are incomplete.
    bool start(Stack& stack, remote::VerifyTap& tap, const RemoteArgs& args);
    void poll();
    // 'r': asks for the handle of `fd`, waits for the code (at most 5 s of the clock,
    // the stack running), sends 16 + `count` datagrams of 64 B through it (the first
    // 1000 of `count` timed, as 'u' times the generic path; a route added halfway
    // through the rest), prints the handle's figures: request to usable code
    // (usable_us) and, after the route change, to code again (again_us: the same
    // context, from quasi-specd's cache).
    void run(Stack& stack, int fd, int count);
    // 't': connects to `peer`, asks for the connection's handle during the handshake
    // (one full segment per message), prints how long the handshake took
    // (handshake_us) and how long from ESTABLISHED the code took to be usable
    // (usable_us), streams `bytes` of a fixed pattern through it (byte i is the top byte
    // of i * 2654435761 mod 2^32) with a route added at a third and an ICMP
    // "fragmentation needed" (path MTU 1280) at two thirds, closes, prints the figures.
    void run_tcp(Stack& stack, SockAddr peer, size_t bytes);

private:
    remote::RemoteClient* client_ = nullptr;
};

}  // namespace quasi::board
