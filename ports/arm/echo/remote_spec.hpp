// The firmware's remote specialization (jit/remote/device/): with the boot arguments
// "specd=A:PORT key=HEX device=N" the board asks quasi-specd at A:PORT, over its own
// TCP, for the specialized send path of its benchmark socket (UDP to the gateway's
// discard port) when the console says 'r', streams datagrams through the handle and
// prints what happened (ports/arm/README.md).
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
    // the stack running), sends `count` datagrams of 64 B through it, prints the handle's figures.
    void run(Stack& stack, int fd, int count);

private:
    remote::RemoteClient* client_ = nullptr;
};

}  // namespace quasi::board
