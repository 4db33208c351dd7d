// Specialization for another machine (DESIGN.md, "Remote specialization"): the
// frozen send paths' bitcode for a device's target, specialized for a context in that
// target's layout, compiled to a relocatable object, then linked by JITLink for the
// device's code address and host-function addresses. No LLVM type appears here.
//
//   compile(): the context (target layout) as a constant -> optimize -> object
//              (depends on the context only: the server caches it)
//   link():    JITLink places the object at the device's code address through a
//              memory manager whose addresses are the device's, resolves
//              the calls against the device's symbol table, and hands back the
//              finished bytes, which the device copies there as they are.
// One TargetCompiler per thread: it is not thread-safe.
#pragma once

#include "context/expected.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace quasi::jit::remote {

enum class SendPath : uint8_t { udp = 1, tcp = 2 };  // the protocol's numbering

// The targets with bitcode in this build, as LLVM triples: x86_64-linux-gnu,
// aarch64-linux-gnu, thumbv7m-none-eabi (the Cortex-M3 board).
std::span<const std::string_view> supported_targets();

struct DeviceSymbol {
    std::string_view name;
    uint64_t address = 0;  // on the device (Thumb functions with bit 0 set)
};

// The specialized path for one context, not yet placed anywhere, with where its
// compile's time went (quasi-specd's log and stats report the phases).
struct CompiledObject {
    std::vector<uint8_t> object;  // relocatable ELF for the target
    size_t code_bytes = 0;        // executable sections
    double reload_ms = 0;         // the bitcode parsed again (a recycled LLVMContext; usually 0)
    double clone_ms = 0;          // the resident module cloned, the context made a constant
    double fold_ms = 0;           // the context folded through the call graph (part of optimize_ms)
    double optimize_ms = 0;       // the IR pipeline
    double codegen_ms = 0;        // the target's object emitted
    double total_ms = 0;          // all of the above
};

// The image to copy to the device's code address.
struct LinkedImage {
    std::vector<uint8_t> bytes;
    uint32_t entry_offset = 0;  // the entry's first instruction (Thumb: without the Thumb bit)
    bool thumb = false;         // the entry is Thumb code: call code_address + entry_offset + 1
    size_t code_bytes = 0;      // executable part of bytes (stubs included)
    double link_ms = 0;
};

class TargetCompiler {
public:
    // ENOENT: no bitcode for `triple` in this build.
    static Expected<std::unique_ptr<TargetCompiler>> create(std::string_view triple);
    ~TargetCompiler();
    TargetCompiler(const TargetCompiler&) = delete;
    TargetCompiler& operator=(const TargetCompiler&) = delete;

    const std::string& triple() const;
    unsigned pointer_bytes() const;
    // The frozen context of `path` as this target lays it out: its size, and the
    // words of its layout tag (size, then each member's offset, in declaration
    // order), read from the target bitcode's struct type under the target's data layout.
    size_t context_size(SendPath path) const;
    std::span<const uint32_t> layout_words(SendPath path) const;

    // EINVAL: the context's size differs from the target's; the rest: LLVM's message.
    Expected<CompiledObject> compile(SendPath path, std::span<const uint8_t> context);
    // Compiles and links each path once for a made-up context and device and throws
    // the code away, so the first real request does not pay LLVM's one-time work in
    // this compiler (the target's subtarget and code generator tables, the pass
    // pipelines' first construction) nor JITLink's first use. Returns the time taken.
    Expected<double> warm_up();
    // link_image() for this target.
    Expected<LinkedImage> link(const CompiledObject& object, uint64_t code_address, uint64_t capacity,
                               std::span<const DeviceSymbol> symbols);

private:
    struct Impl;
    explicit TargetCompiler(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

// Links a compiled object (any TargetCompiler's; it names its target) for a device
// whose pointers are `pointer_bytes` wide. Needs no TargetCompiler: thread-safe.
// ENOENT: the code calls a function the table does not name (the message says
// which); EFBIG: the image does not fit `capacity` bytes at `code_address`; EINVAL:
// an address that does not fit the target's pointers.
Expected<LinkedImage> link_image(const CompiledObject& object, unsigned pointer_bytes, uint64_t code_address,
                                 uint64_t capacity, std::span<const DeviceSymbol> symbols);

// Names of the entry function in every compiled object (the wrapper around the
// frozen path's C entry).
inline constexpr const char* kRemoteEntrySymbol = "quasi_remote_entry";

}  // namespace quasi::jit::remote
