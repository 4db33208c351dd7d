// Specialization for another machine (target_compiler.hpp). One of the few LLVM
// translation units: the IR steps are jit/ir_specialize.cpp's, shared with the
// in-process engine; this adds the target's code generation and the link for the
// device's addresses with JITLink.
//
// The link: JITLink builds a LinkGraph from the object and asks its memory manager
// where each segment goes. ORC's MapperJITLinkMemoryManager lays the segments out
// contiguously and asks a MemoryMapper to reserve the range and later to
// "initialize" it, as it does for a process across a pipe (SharedMemoryMapper).
// DeviceMapper below reserves the device's code buffer instead, gives JITLink a local
// working copy to relocate, and on initialize keeps the finished bytes: the image
// the device copies to that address. Nothing is mapped or run here.
#include "jit/remote/server/target_compiler.hpp"

#include "jit/entry_points.hpp"
#include "jit/ir_specialize.hpp"

#include <llvm/Bitcode/BitcodeReader.h>
#include <llvm/ExecutionEngine/JITLink/JITLink.h>
#include <llvm/ExecutionEngine/JITLink/aarch32.h>
#include <llvm/ExecutionEngine/Orc/MapperJITLinkMemoryManager.h>
#include <llvm/ExecutionEngine/Orc/MemoryMapper.h>
#include <llvm/IR/LegacyPassManager.h>
#include <llvm/IR/LLVMContext.h>
#include <llvm/MC/TargetRegistry.h>
#include <llvm/Support/MemoryBuffer.h>
#include <llvm/Support/TargetSelect.h>
#include <llvm/Target/TargetMachine.h>
#include <llvm/Target/TargetOptions.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>

#define QUASI_REMOTE_BITCODE(id, path)                                    \
    extern "C" const uint8_t quasi_remote_bitcode_##id##_##path##_start[]; \
    extern "C" const uint8_t quasi_remote_bitcode_##id##_##path##_end[];
QUASI_REMOTE_BITCODE(x86_64_linux_gnu, udp)
QUASI_REMOTE_BITCODE(x86_64_linux_gnu, tcp)
QUASI_REMOTE_BITCODE(aarch64_linux_gnu, udp)
QUASI_REMOTE_BITCODE(aarch64_linux_gnu, tcp)
QUASI_REMOTE_BITCODE(thumbv7m_none_eabi, udp)
QUASI_REMOTE_BITCODE(thumbv7m_none_eabi, tcp)
#undef QUASI_REMOTE_BITCODE

namespace quasi::jit::remote {

namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

std::span<const uint8_t> span_of(const uint8_t* start, const uint8_t* end) {
    return {start, static_cast<size_t>(end - start)};
}

struct TargetInfo {
    std::string_view triple;
    const char* cpu;
    bool soft_float;
    // Position-independent on the Linux targets (a code buffer anywhere in a 64-bit
    // address space: RIP/ADRP-relative references reach its constants); static on
    // the board (MOVW/MOVT absolute addresses, no GOT).
    llvm::Reloc::Model reloc;
    std::span<const uint8_t> udp;
    std::span<const uint8_t> tcp;
};

#define QUASI_REMOTE_SPANS(id)                                                                 \
    span_of(quasi_remote_bitcode_##id##_udp_start, quasi_remote_bitcode_##id##_udp_end),        \
        span_of(quasi_remote_bitcode_##id##_tcp_start, quasi_remote_bitcode_##id##_tcp_end)
const TargetInfo& target_info(size_t i) {
    static const std::array<TargetInfo, 3> targets{{
        {"x86_64-linux-gnu", "x86-64", false, llvm::Reloc::PIC_, QUASI_REMOTE_SPANS(x86_64_linux_gnu)},
        {"aarch64-linux-gnu", "generic", false, llvm::Reloc::PIC_, QUASI_REMOTE_SPANS(aarch64_linux_gnu)},
        {"thumbv7m-none-eabi", "cortex-m3", true, llvm::Reloc::Static, QUASI_REMOTE_SPANS(thumbv7m_none_eabi)},
    }};
    return targets[i];
}
#undef QUASI_REMOTE_SPANS

constexpr std::array<std::string_view, 3> kTargets{"x86_64-linux-gnu", "aarch64-linux-gnu", "thumbv7m-none-eabi"};

// Segments start at multiples of this in the image (MapperJITLinkMemoryManager
// aligns each to the mapper's "page"): the device holds the image in one region of
// its own protection, so no page per segment is needed; 16 covers every section
// alignment the three targets' code and constants ask for (a larger one fails the
// link with JITLink's message).
constexpr unsigned kSegmentGranule = 16;
// A shared LLVMContext never frees constants and types: re-parse now and then.
constexpr unsigned kRecycleContextAfter = 256;
constexpr uint64_t kWarmUpCapacity = 64 << 10;  // room for any warm-up image

// ---- the device's code buffer as JITLink's memory ----

struct ImageCapture {
    std::vector<uint8_t> image;
    size_t code_bytes = 0;
    bool too_large = false;
};

class DeviceMapper final : public llvm::orc::MemoryMapper {
public:
    DeviceMapper(uint64_t base, uint64_t capacity, ImageCapture& out) : base_(base), capacity_(capacity), out_(out) {}

    unsigned int getPageSize() override { return kSegmentGranule; }

    void reserve(size_t bytes, OnReservedFunction on_reserved) override {
        if (bytes > capacity_) {
            out_.too_large = true;
            return on_reserved(ir::fail(llvm::Twine("the code needs ") + llvm::Twine(bytes) +
                                        " bytes; the device's code buffer holds " + llvm::Twine(capacity_)));
        }
        out_.image.assign(bytes, 0);
        on_reserved(llvm::orc::ExecutorAddrRange(llvm::orc::ExecutorAddr(base_), llvm::orc::ExecutorAddrDiff(bytes)));
    }

    // JITLink writes and relocates the segments here, in the image itself.
    char* prepare(llvm::orc::ExecutorAddr address, size_t) override {
        return reinterpret_cast<char*>(out_.image.data() + (address.getValue() - base_));
    }

    void initialize(AllocInfo& info, OnInitializedFunction on_initialized) override {
        // Finalize actions (unwind registration, initializers) would have to run on
        // the device: the specialized code has none, and gets none.
        if (!info.Actions.empty()) return on_initialized(ir::fail("the code asks for finalize actions on the device"));
        size_t end = 0;
        for (const AllocInfo::SegInfo& segment : info.Segments) {
            end = std::max<size_t>(end, segment.Offset + segment.ContentSize + segment.ZeroFillSize);
            if (unsigned(segment.AG.getMemProt()) & unsigned(llvm::orc::MemProt::Exec))
                out_.code_bytes += segment.ContentSize;
        }
        out_.image.resize(info.MappingBase.getValue() - base_ + end);
        on_initialized(info.MappingBase);
    }
    void deinitialize(llvm::ArrayRef<llvm::orc::ExecutorAddr>, OnDeinitializedFunction done) override {
        done(llvm::Error::success());
    }
    void release(llvm::ArrayRef<llvm::orc::ExecutorAddr>, OnReleasedFunction done) override {
        done(llvm::Error::success());
    }

private:
    uint64_t base_;
    uint64_t capacity_;
    ImageCapture& out_;
};

// What a block points to, by name: its edges' targets, through anonymous ones (a
// stub's GOT entry) to the named symbol behind them.
std::string block_key(const llvm::jitlink::Block& block, int depth = 0) {
    std::string key;
    for (const llvm::jitlink::Edge& e : block.edges()) {
        const llvm::jitlink::Symbol& target = e.getTarget();
        if (target.hasName()) key += target.getName().str();
        else if (target.isDefined() && depth < 2) key += block_key(target.getBlock(), depth + 1);
        key += ',';
    }
    return key;
}

// JITLink's layout (BasicLayout) orders a segment's blocks by section, address and
// size; the entries it makes itself (the GOT's, the stubs') all sit at address 0
// with one size, so they came out in the order of a set of pointers: two links of
// one object gave images differing in that order. Sections whose blocks share one
// address get them ordered by what they point to, so a link's bytes depend only on
// the object and the addresses.
llvm::Error order_synthetic_blocks(llvm::jitlink::LinkGraph& graph) {
    for (llvm::jitlink::Section& section : graph.sections()) {
        std::vector<std::pair<std::string, llvm::jitlink::Block*>> keyed;
        for (llvm::jitlink::Block* b : section.blocks()) keyed.emplace_back(block_key(*b), b);
        if (keyed.size() < 2 || std::any_of(keyed.begin(), keyed.end(), [&](const auto& k) {
                return k.second->getAddress() != keyed.front().second->getAddress();
            }))
            continue;
        std::sort(keyed.begin(), keyed.end(), [](const auto& a, const auto& b) {
            if (a.second->getSize() != b.second->getSize()) return a.second->getSize() < b.second->getSize();
            return a.first < b.first;
        });
        // Addresses before allocation only order the blocks: allocation assigns them.
        llvm::orc::ExecutorAddr at = keyed.front().second->getAddress();
        for (auto& [key, block] : keyed) {
            block->setAddress(at);
            at += block->getSize() + block->getAlignment();
        }
    }
    return llvm::Error::success();
}

struct LinkOutcome {
    std::optional<std::string> error;
    bool unknown_symbol = false;
    std::optional<uint64_t> entry;
    bool thumb = false;
    llvm::jitlink::JITLinkMemoryManager::FinalizedAlloc alloc;
};

// What JITLink asks of its caller: memory, the addresses of external symbols (the
// device's table, nothing else), and where the outcome goes.
class DeviceLinkContext final : public llvm::jitlink::JITLinkContext {
public:
    DeviceLinkContext(llvm::jitlink::JITLinkMemoryManager& memory, std::span<const DeviceSymbol> symbols,
                      LinkOutcome& outcome)
        : JITLinkContext(nullptr), memory_(memory), symbols_(symbols), outcome_(outcome) {}

    llvm::jitlink::JITLinkMemoryManager& getMemoryManager() override { return memory_; }

    // After the target's own passes, which build the GOT and stubs (PostPrune).
    llvm::Error modifyPassConfig(llvm::jitlink::LinkGraph&, llvm::jitlink::PassConfiguration& config) override {
        config.PostPrunePasses.push_back(order_synthetic_blocks);
        return llvm::Error::success();
    }

    void notifyFailed(llvm::Error error) override {
        if (!outcome_.error) outcome_.error = llvm::toString(std::move(error));
        else llvm::consumeError(std::move(error));
    }

    void lookup(const LookupMap& wanted, std::unique_ptr<llvm::jitlink::JITLinkAsyncLookupContinuation> next) override {
        llvm::jitlink::AsyncLookupResult found;
        std::string missing;
        for (const auto& [name, flags] : wanted) {
            auto it = std::find_if(symbols_.begin(), symbols_.end(),
                                   [&](const DeviceSymbol& s) { return s.name == std::string_view(name); });
            if (it != symbols_.end()) {
                found[name] = llvm::orc::ExecutorSymbolDef(llvm::orc::ExecutorAddr(it->address),
                                                           llvm::JITSymbolFlags::Exported | llvm::JITSymbolFlags::Callable);
            } else if (flags != llvm::jitlink::SymbolLookupFlags::WeaklyReferencedSymbol) {
                missing += missing.empty() ? "" : ", ";
                missing += name.str();
            }
        }
        if (!missing.empty()) {
            outcome_.unknown_symbol = true;
            return next->run(ir::fail("the code calls " + missing + ", which the device's symbol table does not name"));
        }
        next->run(std::move(found));
    }

    llvm::Error notifyResolved(llvm::jitlink::LinkGraph& graph) override {
        for (llvm::jitlink::Symbol* symbol : graph.defined_symbols()) {
            if (!symbol->hasName() || symbol->getName() != kRemoteEntrySymbol) continue;
            outcome_.entry = symbol->getAddress().getValue();
            outcome_.thumb = (graph.getTargetTriple().isThumb() || graph.getTargetTriple().isARM()) &&
                             llvm::jitlink::aarch32::hasTargetFlags(*symbol, llvm::jitlink::aarch32::ThumbSymbol);
            return llvm::Error::success();
        }
        return ir::fail("the entry is not in the linked code");
    }

    void notifyFinalized(llvm::jitlink::JITLinkMemoryManager::FinalizedAlloc alloc) override {
        outcome_.alloc = std::move(alloc);
    }

private:
    llvm::jitlink::JITLinkMemoryManager& memory_;
    std::span<const DeviceSymbol> symbols_;
    LinkOutcome& outcome_;
};

struct PathBase {
    std::unique_ptr<llvm::Module> module;
    llvm::StructType* context_type = nullptr;
    size_t context_size = 0;
    std::vector<uint32_t> layout_words;
};

const char* entry_symbol(SendPath path) {
    return path == SendPath::udp ? "quasi_udp_send_frozen" : "quasi_tcp_send_frozen";
}
const char* anchor_symbol(SendPath path) {
    return path == SendPath::udp ? "quasi_udp_frozen_context_anchor" : "quasi_tcp_frozen_context_anchor";
}

}  // namespace

std::span<const std::string_view> supported_targets() { return kTargets; }

struct TargetCompiler::Impl {
    const TargetInfo* info = nullptr;
    std::string triple;
    std::unique_ptr<llvm::TargetMachine> machine;
    std::unique_ptr<llvm::LLVMContext> context;
    PathBase udp;  // destroyed before the context (declared after it)
    PathBase tcp;
    unsigned uses = 0;

    PathBase& base(SendPath path) { return path == SendPath::udp ? udp : tcp; }
    llvm::Error load(SendPath path, PathBase& out);
    llvm::Error load_all();
    llvm::Expected<std::vector<uint8_t>> emit_object(llvm::Module& m);
};

llvm::Error TargetCompiler::Impl::load(SendPath path, PathBase& out) {
    std::span<const uint8_t> bitcode = path == SendPath::udp ? info->udp : info->tcp;
    llvm::StringRef bytes(reinterpret_cast<const char*>(bitcode.data()), bitcode.size());
    auto parsed = llvm::parseBitcodeFile(llvm::MemoryBufferRef(bytes, triple), *context);
    if (!parsed) return parsed.takeError();
    std::unique_ptr<llvm::Module> m = std::move(*parsed);
    // The bitcode was compiled for this target: its layout must be the machine's.
    if (m->getDataLayout() != machine->createDataLayout())
        return ir::fail("the " + triple + " bitcode's data layout is not its target machine's");
    auto* anchor = m->getNamedGlobal(anchor_symbol(path));
    auto* type = anchor ? llvm::dyn_cast<llvm::StructType>(anchor->getValueType()) : nullptr;
    if (!type) return ir::fail(llvm::Twine("no context anchor ") + anchor_symbol(path) + " in the bitcode");
    const llvm::StructLayout* layout = m->getDataLayout().getStructLayout(type);
    out.context_size = layout->getSizeInBytes();
    out.layout_words.assign(1, uint32_t(out.context_size));
    for (unsigned i = 0; i < type->getNumElements(); ++i)
        out.layout_words.push_back(uint32_t(layout->getElementOffset(i)));
    auto pruned = ir::prune_to_entry(*m, entry_symbol(path), anchor_symbol(path), out.context_size, false);
    if (!pruned) return pruned.takeError();
    out.context_type = *pruned;
    out.module = std::move(m);
    return llvm::Error::success();
}

llvm::Error TargetCompiler::Impl::load_all() {
    udp = {};
    tcp = {};
    context = std::make_unique<llvm::LLVMContext>();
    if (llvm::Error e = load(SendPath::udp, udp)) return e;
    return load(SendPath::tcp, tcp);
}

llvm::Expected<std::vector<uint8_t>> TargetCompiler::Impl::emit_object(llvm::Module& m) {
    llvm::SmallVector<char, 0> buffer;
    llvm::raw_svector_ostream out(buffer);
    llvm::legacy::PassManager passes;
    if (machine->addPassesToEmitFile(passes, out, nullptr, llvm::CodeGenFileType::ObjectFile))
        return ir::fail("the " + triple + " target cannot emit objects");
    passes.run(m);
    return std::vector<uint8_t>(buffer.begin(), buffer.end());
}

TargetCompiler::TargetCompiler(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TargetCompiler::~TargetCompiler() = default;

Expected<std::unique_ptr<TargetCompiler>> TargetCompiler::create(std::string_view triple) {
    static const bool targets_ready = [] {
        llvm::InitializeAllTargetInfos();
        llvm::InitializeAllTargets();
        llvm::InitializeAllTargetMCs();
        llvm::InitializeAllAsmPrinters();
        return true;
    }();
    (void)targets_ready;
    auto known = std::find(kTargets.begin(), kTargets.end(), triple);
    if (known == kTargets.end()) return make_error(ENOENT, "no bitcode for target '" + std::string(triple) + "'");
    auto impl = std::make_unique<Impl>();
    impl->info = &target_info(size_t(known - kTargets.begin()));
    impl->triple = std::string(triple);
    std::string error;
    const llvm::Target* target = llvm::TargetRegistry::lookupTarget(impl->triple, error);
    if (!target) return make_error(ENOSYS, "LLVM has no " + impl->triple + " backend: " + error);
    llvm::TargetOptions options;
    if (impl->info->soft_float) options.FloatABIType = llvm::FloatABI::Soft;  // not stored in bitcode (notes)
    impl->machine.reset(target->createTargetMachine(impl->triple, impl->info->cpu, "", options, impl->info->reloc,
                                                    std::nullopt, llvm::CodeGenOptLevel::Less));
    if (!impl->machine) return make_error(ENOSYS, "no target machine for " + impl->triple);
    if (llvm::Error e = impl->load_all())
        return make_error(EINVAL, impl->triple + " bitcode: " + llvm::toString(std::move(e)));
    return std::unique_ptr<TargetCompiler>(new TargetCompiler(std::move(impl)));
}

const std::string& TargetCompiler::triple() const { return impl_->triple; }
unsigned TargetCompiler::pointer_bytes() const { return impl_->machine->createDataLayout().getPointerSize(); }
size_t TargetCompiler::context_size(SendPath path) const { return impl_->base(path).context_size; }
std::span<const uint32_t> TargetCompiler::layout_words(SendPath path) const { return impl_->base(path).layout_words; }

Expected<CompiledObject> TargetCompiler::compile(SendPath path, std::span<const uint8_t> context) {
    auto start = Clock::now();
    CompiledObject out;
    if (++impl_->uses > kRecycleContextAfter) {
        impl_->uses = 1;
        if (llvm::Error e = impl_->load_all()) return make_error(EINVAL, llvm::toString(std::move(e)));
        out.reload_ms = ms_since(start);
    }
    PathBase& base = impl_->base(path);
    if (context.size() != base.context_size)
        return make_error(EINVAL, "context of " + std::to_string(context.size()) + " bytes; " + impl_->triple +
                                      " lays it out in " + std::to_string(base.context_size));
    auto phase = Clock::now();
    auto m = ir::specialize_clone(*base.module, base.context_type, entry_symbol(path), context.data(),
                                  kRemoteEntrySymbol);
    if (!m) return make_error(EINVAL, llvm::toString(m.takeError()));
    out.clone_ms = ms_since(phase);
    phase = Clock::now();
    if (llvm::Error e = ir::optimize(**m, impl_->machine.get(), Pipeline::short_pipeline, "", &out.fold_ms))
        return make_error(EINVAL, "optimize: " + llvm::toString(std::move(e)));
    out.optimize_ms = ms_since(phase);
    phase = Clock::now();
    auto object = impl_->emit_object(**m);
    if (!object) return make_error(EINVAL, "code generation: " + llvm::toString(object.takeError()));
    out.codegen_ms = ms_since(phase);
    out.object = std::move(*object);
    out.total_ms = ms_since(start);
    return out;
}

Expected<double> TargetCompiler::warm_up() {
    auto start = Clock::now();
    for (SendPath path : {SendPath::udp, SendPath::tcp}) {
        // Zeros, with every pointer member at a made-up non-null address, so the code
        // that uses them is generated rather than folded away as a null dereference.
        PathBase& base = impl_->base(path);
        std::vector<uint8_t> context(base.context_size, 0);
        const llvm::DataLayout layout = impl_->machine->createDataLayout();
        const llvm::StructLayout* members = layout.getStructLayout(base.context_type);
        for (unsigned i = 0; i < base.context_type->getNumElements(); ++i) {
            if (!base.context_type->getElementType(i)->isPointerTy()) continue;
            const uint64_t address = 0x20000000u + 0x100u * i;
            std::memcpy(&context[members->getElementOffset(i)], &address, layout.getPointerSize());
        }
        auto object = compile(path, context);
        if (!object) return std::move(object).error();
        // And a link (JITLink's first use costs ~1 ms more than later ones), against
        // the host functions the in-process engine names, at made-up addresses; the
        // board's code also calls libgcc's 64-bit division. A failure here only
        // leaves the link cold.
        std::vector<DeviceSymbol> symbols;
        uint64_t next = 0x1001;
        for (const HostSymbol& s : (path == SendPath::udp ? udp_entry_point() : tcp_entry_point()).host_symbols)
            symbols.push_back({s.name, next += 0x100});
        symbols.push_back({"__udivdi3", next += 0x100});
        (void)link(*object, 0x20300000, kWarmUpCapacity, symbols);
    }
    return ms_since(start);
}

Expected<LinkedImage> TargetCompiler::link(const CompiledObject& object, uint64_t code_address, uint64_t capacity,
                                           std::span<const DeviceSymbol> symbols) {
    return link_image(object, pointer_bytes(), code_address, capacity, symbols);
}

Expected<LinkedImage> link_image(const CompiledObject& object, unsigned pointer_bytes, uint64_t code_address,
                                 uint64_t capacity, std::span<const DeviceSymbol> symbols) {
    auto start = Clock::now();
    const uint64_t limit = pointer_bytes == 8 ? ~uint64_t(0) : 0xFFFFFFFFull;
    if (code_address == 0 || code_address > limit || capacity > limit - code_address)
        return make_error(EINVAL, "code buffer outside the target's address space");
    for (const DeviceSymbol& s : symbols)
        if (s.address > limit) return make_error(EINVAL, "symbol " + std::string(s.name) + " outside the address space");

    llvm::StringRef bytes(reinterpret_cast<const char*>(object.object.data()), object.object.size());
    auto graph = llvm::jitlink::createLinkGraphFromObject(llvm::MemoryBufferRef(bytes, kRemoteEntrySymbol));
    if (!graph) return make_error(EINVAL, "object: " + llvm::toString(graph.takeError()));
    ImageCapture capture;
    LinkOutcome outcome;
    llvm::orc::MapperJITLinkMemoryManager memory(kSegmentGranule,
                                                 std::make_unique<DeviceMapper>(code_address, capacity, capture));
    // Every step completes synchronously: the mapper answers at once.
    llvm::jitlink::link(std::move(*graph), std::make_unique<DeviceLinkContext>(memory, symbols, outcome));
    if (outcome.alloc) {
        std::vector<llvm::jitlink::JITLinkMemoryManager::FinalizedAlloc> done;
        done.push_back(std::move(outcome.alloc));
        memory.deallocate(std::move(done), [](llvm::Error e) { llvm::consumeError(std::move(e)); });
    }
    if (outcome.error) {
        int code = outcome.unknown_symbol ? ENOENT : capture.too_large ? EFBIG : EINVAL;
        return make_error(code, "link: " + *outcome.error);
    }
    if (!outcome.entry) return make_error(EINVAL, "link: no entry");
    LinkedImage image;
    image.bytes = std::move(capture.image);
    image.entry_offset = uint32_t(*outcome.entry - code_address);
    image.thumb = outcome.thumb;
    image.code_bytes = capture.code_bytes;
    image.link_ms = ms_since(start);
    return image;
}

}  // namespace quasi::jit::remote
