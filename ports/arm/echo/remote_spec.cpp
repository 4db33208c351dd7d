#include "ports/arm/echo/remote_spec.hpp"

#include "jit/remote/device/exec_region.hpp"
#include "ports/arm/mps2-an385/board.hpp"
#include "ports/arm/mps2-an385/config.hpp"
#include "stack/socket.hpp"
#include "stack/stack.hpp"

#include <cerrno>
#include <cstring>
#include <new>

namespace quasi::board {

namespace {

// The code buffer: data SSRAM, which the Cortex-M3 executes (no MPU programmed here;
// the default memory map makes 0x20000000-0x3FFFFFFF executable).
alignas(16) uint8_t g_code_region[kRemoteCodeBytes];

// After writing code: the writes complete before the instructions are fetched
// (ARMv7-M: DSB then ISB; the M3 has no caches to maintain).
void sync_code(void*, size_t) { __asm volatile("dsb\n\tisb" ::: "memory"); }

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

bool parse_server(const char* text, SockAddr& out) {
    const char* colon = std::strchr(text, ':');
    char ip[16];
    if (!colon || static_cast<size_t>(colon - text) >= sizeof ip) return false;
    std::memcpy(ip, text, static_cast<size_t>(colon - text));
    ip[colon - text] = '\0';
    unsigned port = 0;
    const char* p = colon + 1;
    for (; *p >= '0' && *p <= '9' && port <= 65535; ++p) port = port * 10 + static_cast<unsigned>(*p - '0');
    if (*p || port == 0 || port > 65535) return false;
    out.port = static_cast<uint16_t>(port);
    return parse_ipv4(ip, out.addr);
}

void put_figure(const char* key, uint64_t value) {
    console_put(" ");
    console_put(key);
    console_put(" ");
    console_put_u64(value);
}

}  // namespace

bool parse_remote_arg(const char* token, RemoteArgs& args, bool& known) {
    known = true;
    if (!std::strncmp(token, "specd=", 6)) {
        args.enabled = parse_server(token + 6, args.server);
        return args.enabled;
    }
    if (!std::strncmp(token, "device=", 7)) {
        uint64_t v = 0;
        const char* p = token + 7;
        for (; *p >= '0' && *p <= '9'; ++p) v = v * 10 + static_cast<uint64_t>(*p - '0');
        args.device_id = v;
        return *p == '\0' && p != token + 7;
    }
    if (!std::strncmp(token, "key=", 4)) {
        const char* hex = token + 4;
        size_t n = std::strlen(hex);
        if (n % 2 || n / 2 < remote::kMinKeyBytes || n / 2 > remote::kMaxKeyBytes) return false;
        for (size_t i = 0; i < n / 2; ++i) {
            int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);
            if (hi < 0 || lo < 0) return false;
            args.key[i] = static_cast<uint8_t>(hi << 4 | lo);
        }
        args.key_len = n / 2;
        return true;
    }
    known = false;
    return true;
}

bool BoardRemote::start(Stack& stack, remote::VerifyTap& tap, const RemoteArgs& args) {
    if (!args.enabled || args.key_len == 0) return false;
    static remote::PlainExecRegion region(g_code_region, &sync_code);
    remote::RemoteConfig config;
    config.device_id = args.device_id;
    config.key = {args.key, args.key_len};
    config.server = args.server;
    config.code_capacity = kRemoteCodeCapacity;
    // Static storage: the client holds its message buffers (2 x 24 KiB); placed once at start-up.
    alignas(remote::RemoteClient) static uint8_t storage[sizeof(remote::RemoteClient)];
    client_ = new (storage) remote::RemoteClient(stack, region, &tap, config);
    return true;
}

void BoardRemote::poll() {
    if (client_) client_->poll();
}

void BoardRemote::run(Stack& stack, int fd, int count) {
    if (!client_) {
        console_put("quasi-board: remote: no specd= key= device= boot arguments\n");
        return;
    }
    static const uint8_t payload[64] = {};
    const TimeNs asked = stack.now();
    int h = client_->specialize_send(fd, {.message_size = sizeof payload});
    // The next hop's MAC unknown yet: one datagram through the generic path resolves it.
    for (int tries = 0; h == -EHOSTUNREACH && tries < 100; ++tries) {
        if (tries == 0) send(stack, fd, payload, sizeof payload);
        for (TimeNs t = stack.now(); stack.now() - t < 10 * kMillisecond;) stack.poll();
        h = client_->specialize_send(fd, {.message_size = sizeof payload});
    }
    if (h < 0) {
        console_put("quasi-board: remote: no handle, errno ");
        console_put_u64(static_cast<uint64_t>(-h));
        console_put("\n");
        return;
    }
    // Wait for the code, the stack and the client running (and the datagrams
    // meanwhile going out through the generic path, as an application's would).
    TimeNs usable = 0;
    while (stack.now() - asked < 5 * kSecond) {
        stack.poll();
        client_->poll();
        if (client_->info(h).specialized) {
            usable = stack.now();
            break;
        }
    }
    for (int i = 0; i < count; ++i) {
        client_->send(h, payload, sizeof payload);
        stack.poll();
        client_->poll();
    }
    remote::RemoteHandleInfo info = client_->info(h);
    console_put("quasi-board: remote:");
    put_figure("specialized", info.specialized);
    put_figure("installs", info.installs);
    put_figure("requests", info.requests);
    put_figure("specialized_sends", info.specialized_sends);
    put_figure("verified_sends", info.verified_sends);
    put_figure("generic_sends", info.generic_sends);
    put_figure("verify_failed", info.verify_failed);
    put_figure("status", static_cast<uint64_t>(info.last_status));
    put_figure("code_bytes", info.code_bytes);
    put_figure("usable_us", usable ? (usable - asked) / kMicrosecond : 0);
    console_put("\n");
    client_->release(h);
}

}  // namespace quasi::board
