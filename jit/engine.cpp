// The JIT engine (see engine.hpp for the layers). With jit/ir_specialize.cpp and
// the remote server's linker, one of the few translation units that include LLVM's
// headers: keep them few, they cost ~1 GB and ~20 s each to compile. Inside, errors
// are llvm::Expected / llvm::Error; they become quasi::Error (errno code + message)
// at the class boundary.
#include "jit/engine.hpp"
#include "jit/ir_specialize.hpp"

#include <llvm/Bitcode/BitcodeReader.h>
#include <llvm/ExecutionEngine/Orc/DebugUtils.h>
#include <llvm/ExecutionEngine/Orc/IRTransformLayer.h>
#include <llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h>
#include <llvm/ExecutionEngine/Orc/LLJIT.h>
#include <llvm/ExecutionEngine/Orc/ObjectTransformLayer.h>
#include <llvm/ExecutionEngine/Orc/ThreadSafeModule.h>
#include <llvm/IR/Constants.h>
#include <llvm/IR/DerivedTypes.h>
#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/Module.h>
#include <llvm/Object/ELFObjectFile.h>
#include <llvm/Object/ObjectFile.h>
#include <llvm/Support/CommandLine.h>
#include <llvm/Support/MemoryBuffer.h>
#include <llvm/Support/StringSaver.h>
#include <llvm/Support/TargetSelect.h>
#include <llvm/Target/TargetMachine.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <set>
#include <unordered_map>

namespace quasi::jit {

const char* name(Pipeline p) { return p == Pipeline::default_o2 ? "O2" : "short"; }

namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

constexpr const char* kPipelineFlag = "quasi.pipeline";
// A shared LLVMContext never frees constants and types: re-parse into a fresh one now
// and then (notes, "Pitfalls").
constexpr unsigned kRecycleContextAfter = 256;

Error to_quasi(llvm::Error error, int code, const char* what) {
    return make_error(code, std::string(what) + ": " + llvm::toString(std::move(error)));
}

// ---- layer: account the object's bytes, optionally dump it ----

struct ObjectSizes {
    size_t code = 0;
    size_t allocated = 0;
};

llvm::Expected<ObjectSizes> measure_object(const llvm::MemoryBuffer& object) {
    auto file = llvm::object::ObjectFile::createObjectFile(object.getMemBufferRef());
    if (!file) return file.takeError();
    ObjectSizes sizes;
    for (const llvm::object::SectionRef& section : (*file)->sections()) {
        uint64_t flags = llvm::object::ELFSectionRef(section).getFlags();
        if (!(flags & llvm::ELF::SHF_ALLOC)) continue;
        sizes.allocated += section.getSize();
        if (section.isText()) sizes.code += section.getSize();
    }
    return sizes;
}

struct Base {
    llvm::orc::ThreadSafeContext context;
    std::unique_ptr<llvm::Module> module;  // destroyed before its context (declared after it)
    llvm::StructType* context_type = nullptr;
    unsigned uses = 0;
};

}  // namespace

struct Engine::Impl {
    EngineOptions options;
    std::unique_ptr<llvm::orc::LLJIT> jit;
    std::unique_ptr<llvm::TargetMachine> target;  // for the optimizer's cost models
    std::map<const EntryPoint*, Base> bases;
    std::set<std::string> host_symbols_defined;
    std::unordered_map<uint64_t, llvm::orc::ResourceTrackerSP> trackers;
    uint64_t next_id = 1;
    // Filled by the transforms while this thread's lookup materializes a module.
    double optimize_ms = 0;
    ObjectSizes object_sizes;

    llvm::Error optimize(llvm::Module& m);
    llvm::Expected<Base*> base_for(const EntryPoint& entry);
    llvm::Error load_base(const EntryPoint& entry, Base& base);
    llvm::Error define_host_symbols(const EntryPoint& entry);
    llvm::Expected<CompiledCode> compile(const EntryPoint& entry, const void* context, Pipeline pipeline);
};

llvm::Error Engine::Impl::optimize(llvm::Module& m) {
    auto start = Clock::now();
    auto* flag = llvm::mdconst::extract_or_null<llvm::ConstantInt>(m.getModuleFlag(kPipelineFlag));
    Pipeline pipeline = flag && flag->getZExtValue() == uint64_t(Pipeline::default_o2) ? Pipeline::default_o2
                                                                                      : Pipeline::short_pipeline;
    if (!options.dump_dir.empty()) {  // the IR as specialization built it, for `opt` experiments
        std::error_code ec;
        llvm::raw_fd_ostream out(options.dump_dir + "/" + m.getModuleIdentifier() + ".pre.ll", ec);
        if (!ec) m.print(out, nullptr);
    }
    if (llvm::Error e = ir::optimize(m, target.get(), pipeline, options.passes)) return e;
    optimize_ms = ms_since(start);
    if (!options.dump_dir.empty()) {  // the optimized IR beside the dumped object
        std::error_code ec;
        llvm::raw_fd_ostream out(options.dump_dir + "/" + m.getModuleIdentifier() + ".ll", ec);
        if (!ec) m.print(out, nullptr);
    }
    return llvm::Error::success();
}

llvm::Expected<Base*> Engine::Impl::base_for(const EntryPoint& entry) {
    auto it = bases.find(&entry);
    if (it != bases.end() && it->second.uses < kRecycleContextAfter) return &it->second;
    if (it != bases.end()) bases.erase(it);  // modules in flight keep the old context alive

    Base base{llvm::orc::ThreadSafeContext(std::make_unique<llvm::LLVMContext>()), nullptr, nullptr, 0};
    if (llvm::Error e = load_base(entry, base)) return e;
    auto [pos, inserted] = bases.emplace(&entry, std::move(base));
    return &pos->second;
}

llvm::Error Engine::Impl::load_base(const EntryPoint& entry, Base& base) {
    auto lock = base.context.getLock();
    llvm::LLVMContext& ctx = *base.context.getContext();
    llvm::StringRef bytes(reinterpret_cast<const char*>(entry.bitcode.data()), entry.bitcode.size());
    auto parsed = llvm::parseBitcodeFile(llvm::MemoryBufferRef(bytes, entry.name), ctx);
    if (!parsed) return parsed.takeError();
    std::unique_ptr<llvm::Module> m = std::move(*parsed);
    m->setDataLayout(jit->getDataLayout());
    m->setTargetTriple(jit->getTargetTriple().str());

    auto type = ir::prune_to_entry(*m, entry.entry_symbol, entry.anchor_symbol, entry.context_size,
                                   options.unwind_tables);
    if (!type) return type.takeError();
    base.module = std::move(m);
    base.context_type = *type;
    return llvm::Error::success();
}

llvm::Error Engine::Impl::define_host_symbols(const EntryPoint& entry) {
    llvm::orc::SymbolMap symbols;
    for (const HostSymbol& s : entry.host_symbols) {
        if (!host_symbols_defined.insert(s.name).second) continue;
        symbols[jit->mangleAndIntern(s.name)] = llvm::orc::ExecutorSymbolDef(
            llvm::orc::ExecutorAddr::fromPtr(s.address), llvm::JITSymbolFlags::Exported | llvm::JITSymbolFlags::Callable);
    }
    if (symbols.empty()) return llvm::Error::success();
    return jit->getMainJITDylib().define(llvm::orc::absoluteSymbols(std::move(symbols)));
}

llvm::Expected<CompiledCode> Engine::Impl::compile(const EntryPoint& entry, const void* context, Pipeline pipeline) {
    auto start = Clock::now();
    if (llvm::Error e = define_host_symbols(entry)) return e;
    auto base = base_for(entry);
    if (!base) return base.takeError();
    ++(*base)->uses;

    uint64_t id = next_id++;
    std::string wrapper_name = std::string("quasi_") + entry.name + "_spec_" + std::to_string(id);
    std::unique_ptr<llvm::Module> m;
    {
        auto lock = (*base)->context.getLock();
        auto clone = ir::specialize_clone(*(*base)->module, (*base)->context_type, entry.entry_symbol,
                                          static_cast<const uint8_t*>(context), wrapper_name);
        if (!clone) return clone.takeError();
        m = std::move(*clone);
        m->addModuleFlag(llvm::Module::Warning, kPipelineFlag, uint32_t(pipeline));
    }

    double build_ms = ms_since(start);
    optimize_ms = 0;
    object_sizes = {};
    llvm::orc::ResourceTrackerSP tracker = jit->getMainJITDylib().createResourceTracker();
    if (llvm::Error e = jit->addIRModule(tracker, llvm::orc::ThreadSafeModule(std::move(m), (*base)->context)))
        return e;
    auto address = jit->lookup(wrapper_name);
    if (!address) {
        llvm::consumeError(tracker->remove());
        return address.takeError();
    }
    trackers.emplace(id, tracker);
    CompiledCode code;
    code.function = address->toPtr<void*>();
    code.id = id;
    code.code_bytes = object_sizes.code;
    code.object_bytes = object_sizes.allocated;
    code.build_ms = build_ms;
    code.optimize_ms = optimize_ms;
    code.total_ms = ms_since(start);
    return code;
}

Engine::Engine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Engine::~Engine() {
    for (auto& [id, tracker] : impl_->trackers) llvm::consumeError(tracker->remove());
}

Expected<std::unique_ptr<Engine>> Engine::create(const EngineOptions& options) {
    static const bool targets_ready = [] {
        llvm::InitializeNativeTarget();
        llvm::InitializeNativeTargetAsmPrinter();
        return true;
    }();
    (void)targets_ready;
    if (!options.llvm_args.empty()) {
        static const bool args_parsed = [&] {
            llvm::SmallVector<const char*, 8> argv{"quasi-jit"};
            llvm::BumpPtrAllocator strings;
            llvm::StringSaver saver(strings);
            llvm::cl::TokenizeGNUCommandLine(options.llvm_args, saver, argv);
            return llvm::cl::ParseCommandLineOptions(int(argv.size()), argv.data(), "", &llvm::errs());
        }();
        if (!args_parsed) return make_error(EINVAL, "QUASI_JIT_LLVM_ARGS: not understood: " + options.llvm_args);
    }
    auto impl = std::make_unique<Impl>();
    impl->options = options;
    auto jtmb = llvm::orc::JITTargetMachineBuilder::detectHost();
    if (!jtmb) return to_quasi(jtmb.takeError(), ENOSYS, "no host target");
    if (options.fast_codegen) jtmb->setCodeGenOptLevel(llvm::CodeGenOptLevel::Less);
    auto target = jtmb->createTargetMachine();
    if (!target) return to_quasi(target.takeError(), ENOSYS, "no target machine");
    impl->target = std::move(*target);
    // Only the explicit host-symbol tables are visible to JIT code: a missing symbol
    // fails the link loudly instead of binding to whatever the process happens to hold.
    auto jit = llvm::orc::LLJITBuilder()
                   .setJITTargetMachineBuilder(std::move(*jtmb))
                   .setLinkProcessSymbolsByDefault(false)
                   // No static initializers or TLS in specialized code: no platform runtime.
                   .setPlatformSetUp(llvm::orc::setUpInactivePlatform)
                   .create();
    if (!jit) return to_quasi(jit.takeError(), ENOSYS, "cannot create the JIT");
    impl->jit = std::move(*jit);
    if (!impl->jit->getDataLayout().isLittleEndian()) return make_error(ENOSYS, "big-endian hosts are not supported");

    Impl* self = impl.get();
    impl->jit->getIRTransformLayer().setTransform(
        [self](llvm::orc::ThreadSafeModule tsm,
               const llvm::orc::MaterializationResponsibility&) -> llvm::Expected<llvm::orc::ThreadSafeModule> {
            if (llvm::Error e = tsm.withModuleDo([self](llvm::Module& m) { return self->optimize(m); }))
                return e;
            return tsm;
        });
    impl->jit->getObjTransformLayer().setTransform(
        [self](std::unique_ptr<llvm::MemoryBuffer> object) -> llvm::Expected<std::unique_ptr<llvm::MemoryBuffer>> {
            auto sizes = measure_object(*object);
            if (!sizes) return sizes.takeError();
            self->object_sizes = *sizes;
            if (self->options.dump_dir.empty()) return object;
            return llvm::orc::DumpObjects(self->options.dump_dir)(std::move(object));
        });
    return std::unique_ptr<Engine>(new Engine(std::move(impl)));
}

Expected<CompiledCode> Engine::compile(const EntryPoint& entry, const void* context, Pipeline pipeline) {
    auto code = impl_->compile(entry, context, pipeline);
    if (!code) return to_quasi(code.takeError(), EINVAL, "specialization failed");
    return *code;
}

void Engine::free(uint64_t id) {
    auto it = impl_->trackers.find(id);
    if (it == impl_->trackers.end()) return;
    llvm::consumeError(it->second->remove());
    impl_->trackers.erase(it);
}

void Engine::set_dump_dir(std::string dir) { impl_->options.dump_dir = std::move(dir); }

size_t Engine::live() const { return impl_->trackers.size(); }

}  // namespace quasi::jit
