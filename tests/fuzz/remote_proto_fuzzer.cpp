// libFuzzer target for the remote protocol's decoders (jit/remote/proto/messages.hpp).
//
// Input: [selector][message bytes]. Selector bits 0-1 pick the decoder (spec request,
// spec reply, stats request, stats reply); bit 2 reseals the message first (its
// length field and MAC recomputed under the test key), so mutations reach the field
// checks behind the MAC; without it they exercise the MAC and header checks.
// Checked: no decoder reads out of bounds (ASan), a refused message leaves nothing
// behind in the output, and whatever decodes re-encodes to exactly its bytes.
#include "tests/remote/proto_samples.hpp"

#include <vector>

namespace {

using namespace quasi::remote;

[[noreturn]] void fail(const char* what) {
    __builtin_trap();
    (void)what;
}

// Touches every byte a view names, so ASan sees any view past the input.
uint32_t touch(std::span<const uint8_t> b) {
    uint32_t s = 0;
    for (uint8_t x : b) s += x;
    return s;
}
uint32_t touch(std::string_view s) { return touch({reinterpret_cast<const uint8_t*>(s.data()), s.size()}); }

volatile uint32_t g_sink;

template <class M>
void check(const std::vector<uint8_t>& message) {
    M m;
    ProtoError e = decode(message, test::kKey, m);
    if (e != ProtoError::ok) {
        if (m.device_id != 0 || m.nonce != 0) fail("a refused message left fields behind");
        return;
    }
    std::vector<uint8_t> again = test::encoded(m);
    if (again != message) fail("decode then encode changed the bytes");
}

void touch_views(const SpecRequest& r) {
    uint32_t s = touch(r.target) + touch(r.context);
    for (const Symbol& sym : r.symbol_table()) s += touch(sym.name);
    g_sink = s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1 || size > kMaxMessageBytes + 2) return 0;
    uint8_t selector = data[0];
    std::vector<uint8_t> message(data + 1, data + size);
    if (selector & 4) test::reseal(message);
    Header h;
    (void)peek_header(message, h);
    (void)message_length(message);
    switch (selector & 3) {
        case 0: {
            check<SpecRequest>(message);
            SpecRequest r;
            if (decode(message, test::kKey, r) == ProtoError::ok) {
                touch_views(r);
                (void)symbol_table_hash(r.symbol_table());
            }
            break;
        }
        case 1: {
            check<SpecReply>(message);
            SpecReply r;
            if (decode(message, test::kKey, r) == ProtoError::ok) {
                if (r.status == Status::ok && r.entry_offset >= r.code.size()) fail("entry offset outside the code");
                g_sink = touch(r.code) + touch(r.message) + touch(r.target);
            }
            break;
        }
        case 2: check<StatsRequest>(message); break;
        default: {
            check<StatsReply>(message);
            StatsReply r;
            if (decode(message, test::kKey, r) == ProtoError::ok)
                for (const Stat& s : r.entries()) g_sink = touch(s.name);
            break;
        }
    }
    return 0;
}
