// Contexts and symbol tables of made-up devices of every target the server serves
// (tests/remote/): the frozen context's fields before its pointers, laid out alike
// on every target (udp_context.hpp, tcp_context.hpp), copied from a real freeze on
// this machine, and made-up device addresses for the pointers. The code compiled
// from them is linked and compared, not run.
#pragma once

#include "jit/entry_points.hpp"
#include "jit/remote/server/target_compiler.hpp"

#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <vector>

namespace quasi::test {

template <class T>
std::span<const uint8_t> bytes_of(const T& value) {
    return {reinterpret_cast<const uint8_t*>(&value), sizeof value};
}

inline bool is_board(std::string_view triple) { return triple == "thumbv7m-none-eabi"; }

// `real`: this machine's frozen context of `path`; `pointer_base`: where the made-up
// pointers start (another base, another context).
inline std::vector<uint8_t> device_context(const jit::remote::TargetCompiler& compiler, jit::remote::SendPath path,
                                           std::span<const uint8_t> real, uint64_t pointer_base = 0x20010000) {
    using jit::remote::SendPath;
    const bool board = is_board(compiler.triple());
    std::vector<uint8_t> context(compiler.context_size(path), 0);
    const uint32_t first_pointer = path == SendPath::tcp ? 48 : board ? 36 : 40;
    std::memcpy(context.data(), real.data(), path == SendPath::udp ? 36 : 48);
    auto words = compiler.layout_words(path);
    for (size_t i = 1; i < words.size(); ++i) {
        if (words[i] < first_pointer) continue;
        uint64_t address = pointer_base + i * 0x100;
        std::memcpy(&context[words[i]], &address, compiler.pointer_bytes());
    }
    return context;
}

// The host functions the path's code may call, at made-up device addresses.
inline std::vector<jit::remote::DeviceSymbol> device_symbols(std::string_view triple, jit::remote::SendPath path) {
    const bool board = is_board(triple);
    std::vector<jit::remote::DeviceSymbol> symbols;
    uint64_t next = board ? 0x1001 : 0x400000;  // Thumb functions have bit 0 set
    for (const jit::HostSymbol& s :
         (path == jit::remote::SendPath::udp ? jit::udp_entry_point() : jit::tcp_entry_point()).host_symbols)
        symbols.push_back({s.name, next += 0x100});
    // libgcc's 64-bit division (TCP's time arithmetic on a 32-bit core): the board
    // must name it in its table too.
    if (board) symbols.push_back({"__udivdi3", next += 0x100});
    return symbols;
}

inline uint64_t device_code_address(std::string_view triple) { return is_board(triple) ? 0x20300000 : 0x7f0000100000; }

}  // namespace quasi::test
