// The JIT engine (see engine.hpp for the layers). The one translation unit of the
// project that includes LLVM's ORC headers: keep it that way, they cost ~1 GB and
// ~20 s to compile. Inside, errors are llvm::Expected / llvm::Error; they become
// quasi::Error (errno code + message) at the class boundary.
#include "jit/engine.hpp"

#include <llvm/Bitcode/BitcodeReader.h>
#include <llvm/ExecutionEngine/Orc/DebugUtils.h>
#include <llvm/ExecutionEngine/Orc/IRTransformLayer.h>
#include <llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h>
#include <llvm/ExecutionEngine/Orc/LLJIT.h>
#include <llvm/ExecutionEngine/Orc/ObjectTransformLayer.h>
#include <llvm/ExecutionEngine/Orc/ThreadSafeModule.h>
#include <llvm/IR/Constants.h>
#include <llvm/IR/DerivedTypes.h>
#include <llvm/Analysis/ConstantFolding.h>
#include <llvm/Analysis/LoopInfo.h>
#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/InstIterator.h>
#include <llvm/IR/IntrinsicInst.h>
#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/Module.h>
#include <llvm/IR/Verifier.h>
#include <llvm/Object/ELFObjectFile.h>
#include <llvm/Object/ObjectFile.h>
#include <llvm/Passes/PassBuilder.h>
#include <llvm/Support/CommandLine.h>
#include <llvm/Support/MemoryBuffer.h>
#include <llvm/Support/StringSaver.h>
#include <llvm/Support/TargetSelect.h>
#include <llvm/Target/TargetMachine.h>
#include <llvm/Transforms/IPO/Internalize.h>
#include <llvm/Transforms/Scalar/SROA.h>
#include <llvm/Transforms/Utils/Cloning.h>

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

// The short pipeline. The notes' ("ipsccp,globalopt,cgscc(inline,function(...)),
// globaldce") runs the whole function pipeline over every callee before inlining it,
// although clang already optimized them: wasted work. Here the context's constants
// are first propagated through the call graph (kFoldContext: what they make dead,
// such as TCP's general loop under a declared message size, goes), then every
// function is inlined into the wrapper (they are internal and not recursive), except
// a large one that still has several callers (TCP's segment emitter, three call
// sites in its output loop: one copy each would double the code and the code
// generation time; the first ipsccp handed it the constant context all the same).
// The function pipeline then runs once over what is left. gvn propagates equalities
// (a declared message size becomes a constant length after prepare()'s check);
// quasi-constant-copies (below) plus sroa turn copied MAC addresses into immediates.
// Only a module with loops whose source asked to be unrolled (a TCP message's
// segments, QUASI_UNROLL_FULL) gets loop-unroll-full, and a second instcombine to
// clean up after it. Measured with callgrind over warm UDP specializations
// (quasi-bench-spec --warm-probe): a second ipsccp after inlining, dse, and the
// second instcombine cost 1.0, 4.3 and 4.0 M instructions per compile (-13% all
// told) and changed no instruction of the UDP send and 3 of a 3040-instruction TCP
// send; unrolling costs 4.8 M where there is nothing to unroll.
constexpr const char* kShortPipeline =
    "always-inline,globaldce,"
    "function(sroa,early-cse,quasi-constant-copies,sroa,instcombine,simplifycfg,sccp,gvn,adce,simplifycfg),"
    "globaldce";
constexpr const char* kShortPipelineUnroll =
    "always-inline,globaldce,"
    "function(sroa,early-cse,quasi-constant-copies,sroa,instcombine,simplifycfg,sccp,gvn,loop(loop-unroll-full),"
    "instcombine,adce,simplifycfg),"
    "globaldce";

constexpr const char* kPipelineFlag = "quasi.pipeline";
constexpr const char* kFoldContext = "ipsccp,globaldce";
constexpr unsigned kOutOfLineInstructions = 300;  // inlined_size: a UDP send is ~600 all told
// A shared LLVMContext never frees constants and types: re-parse into a fresh one now
// and then (notes, "Pitfalls").
constexpr unsigned kRecycleContextAfter = 256;

llvm::Error fail(const llvm::Twine& message) {
    return llvm::make_error<llvm::StringError>(message, llvm::inconvertibleErrorCode());
}

Error to_quasi(llvm::Error error, int code, const char* what) {
    return make_error(code, std::string(what) + ": " + llvm::toString(std::move(error)));
}

// ---- layer: the context as a constant, along the LLVM type clang gave it ----

llvm::Expected<llvm::Constant*> constant_from_bytes(llvm::Type* type, const uint8_t* bytes,
                                                    const llvm::DataLayout& layout) {
    llvm::LLVMContext& ctx = type->getContext();
    if (auto* int_type = llvm::dyn_cast<llvm::IntegerType>(type)) {
        uint64_t store = layout.getTypeStoreSize(type);
        if (store > 8) return fail("integer wider than 64 bits in the context");
        uint64_t v = 0;
        std::memcpy(&v, bytes, store);  // little-endian host (checked at engine creation)
        return llvm::ConstantInt::get(int_type, v & int_type->getBitMask());
    }
    if (auto* ptr_type = llvm::dyn_cast<llvm::PointerType>(type)) {
        uint64_t v = 0;
        std::memcpy(&v, bytes, sizeof v);
        if (v == 0) return llvm::ConstantPointerNull::get(ptr_type);
        // In-process: the host object's address is the code's constant.
        return llvm::ConstantExpr::getIntToPtr(llvm::ConstantInt::get(llvm::Type::getInt64Ty(ctx), v), ptr_type);
    }
    if (auto* array_type = llvm::dyn_cast<llvm::ArrayType>(type)) {
        llvm::Type* element = array_type->getElementType();
        uint64_t stride = layout.getTypeAllocSize(element);
        std::vector<llvm::Constant*> elements;
        for (uint64_t i = 0; i < array_type->getNumElements(); ++i) {
            auto c = constant_from_bytes(element, bytes + i * stride, layout);
            if (!c) return c.takeError();
            elements.push_back(*c);
        }
        return llvm::ConstantArray::get(array_type, elements);
    }
    if (auto* struct_type = llvm::dyn_cast<llvm::StructType>(type)) {
        const llvm::StructLayout* sl = layout.getStructLayout(struct_type);
        std::vector<llvm::Constant*> elements;
        for (unsigned i = 0; i < struct_type->getNumElements(); ++i) {
            auto c = constant_from_bytes(struct_type->getElementType(i), bytes + sl->getElementOffset(i), layout);
            if (!c) return c.takeError();
            elements.push_back(*c);
        }
        return llvm::ConstantStruct::get(struct_type, elements);
    }
    std::string text;
    llvm::raw_string_ostream os(text);
    type->print(os);
    return fail("unsupported type in the context: " + os.str());
}

// ---- layer: the wrapper that calls the entry with the constant ----

llvm::Expected<llvm::Function*> add_wrapper(llvm::Module& m, llvm::Function& entry, llvm::GlobalVariable& context,
                                            const std::string& name) {
    llvm::FunctionType* entry_type = entry.getFunctionType();
    if (entry_type->getNumParams() < 1) return fail("entry takes no context argument");
    std::vector<llvm::Type*> params(entry_type->param_begin() + 1, entry_type->param_end());
    auto* type = llvm::FunctionType::get(entry_type->getReturnType(), params, false);
    auto* wrapper = llvm::Function::Create(type, llvm::GlobalValue::ExternalLinkage, name, m);
    // target-cpu / target-features and the rest: without them the inliner refuses
    // to inline the entry (incompatible subtargets).
    for (const llvm::Attribute& a : entry.getAttributes().getFnAttrs()) {
        if (a.isStringAttribute() || a.getKindAsEnum() == llvm::Attribute::NoUnwind ||
            a.getKindAsEnum() == llvm::Attribute::UWTable)
            wrapper->addFnAttr(a);
    }
    llvm::IRBuilder<> b(llvm::BasicBlock::Create(m.getContext(), "entry", wrapper));
    std::vector<llvm::Value*> args{&context};
    for (llvm::Argument& a : wrapper->args()) args.push_back(&a);
    llvm::CallInst* call = b.CreateCall(&entry, args);
    if (type->getReturnType()->isVoidTy())
        b.CreateRetVoid();
    else
        b.CreateRet(call);
    return wrapper;
}

// ---- layer: account the object's bytes, optionally dump it ----

// ---- layer: small copies out of the context become immediate stores ----
//
// MacAddr::store_to copies 6 bytes with memcpy; with the context a constant, the
// source is known, but instcombine only turns power-of-two copies into loads and
// stores. Copies of up to 16 bytes from a constant global become one integer store
// of the folded bytes, so no read-only copy of the context survives in the code.
bool lower_constant_copies(llvm::Function& f) {
    const llvm::DataLayout& layout = f.getParent()->getDataLayout();
    std::vector<llvm::MemCpyInst*> copies;
    for (llvm::Instruction& i : llvm::instructions(f))
        if (auto* copy = llvm::dyn_cast<llvm::MemCpyInst>(&i)) copies.push_back(copy);
    bool changed = false;
    for (llvm::MemCpyInst* copy : copies) {
        auto* length = llvm::dyn_cast<llvm::ConstantInt>(copy->getLength());
        auto* source = llvm::dyn_cast<llvm::Constant>(copy->getSource());
        if (!length || !source || length->getZExtValue() == 0 || length->getZExtValue() > 16 || copy->isVolatile())
            continue;
        auto* type = llvm::IntegerType::get(f.getContext(), unsigned(length->getZExtValue() * 8));
        llvm::Constant* bytes = llvm::ConstantFoldLoadFromConstPtr(source, type, layout);
        if (!bytes) continue;
        llvm::IRBuilder<> b(copy);
        b.CreateAlignedStore(bytes, copy->getDest(), copy->getDestAlign().valueOrOne());
        copy->eraseFromParent();
        changed = true;
    }
    return changed;
}

// Instructions of f once every module-local function it calls is inlined into it.
unsigned inlined_size(const llvm::Function& f, std::set<const llvm::Function*>& seen) {
    if (!seen.insert(&f).second) return 0;
    unsigned size = f.getInstructionCount();
    for (const llvm::Instruction& i : llvm::instructions(f))
        if (auto* call = llvm::dyn_cast<llvm::CallBase>(&i))
            if (const llvm::Function* callee = call->getCalledFunction())
                if (!callee->isDeclaration() && callee->hasLocalLinkage()) size += inlined_size(*callee, seen);
    return size;
}
unsigned inlined_size(const llvm::Function& f) {
    std::set<const llvm::Function*> seen;
    return inlined_size(f, seen);
}

// Whether a loop of m carries "llvm.loop.unroll.full" (clang's `#pragma clang loop
// unroll(full)`, QUASI_UNROLL_FULL).
bool asks_full_unroll(const llvm::Module& m) {
    for (const llvm::Function& f : m)
        for (const llvm::BasicBlock& bb : f)
            if (const llvm::Instruction* term = bb.getTerminator())
                if (llvm::MDNode* loop = term->getMetadata(llvm::LLVMContext::MD_loop))
                    if (llvm::findOptionMDForLoopID(loop, "llvm.loop.unroll.full")) return true;
    return false;
}

struct LowerConstantCopies : llvm::PassInfoMixin<LowerConstantCopies> {
    llvm::PreservedAnalyses run(llvm::Function& f, llvm::FunctionAnalysisManager&) {
        return lower_constant_copies(f) ? llvm::PreservedAnalyses::none() : llvm::PreservedAnalyses::all();
    }
};
constexpr const char* kLowerConstantCopies = "quasi-constant-copies";

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
    llvm::LoopAnalysisManager lam;
    llvm::FunctionAnalysisManager fam;
    llvm::CGSCCAnalysisManager cgam;
    llvm::ModuleAnalysisManager mam;
    llvm::PassBuilder pb(target.get());
    pb.registerModuleAnalyses(mam);
    pb.registerCGSCCAnalyses(cgam);
    pb.registerFunctionAnalyses(fam);
    pb.registerLoopAnalyses(lam);
    pb.crossRegisterProxies(lam, fam, cgam, mam);
    pb.registerPipelineParsingCallback(
        [](llvm::StringRef name, llvm::FunctionPassManager& fpm, llvm::ArrayRef<llvm::PassBuilder::PipelineElement>) {
            if (name != kLowerConstantCopies) return false;
            fpm.addPass(LowerConstantCopies());
            return true;
        });
    pb.registerPeepholeEPCallback([](llvm::FunctionPassManager& fpm, llvm::OptimizationLevel) {
        fpm.addPass(LowerConstantCopies());
        fpm.addPass(llvm::SROAPass(llvm::SROAOptions::ModifyCFG));
    });
    llvm::ModulePassManager mpm;
    if (pipeline == Pipeline::default_o2) {
        mpm = pb.buildPerModuleDefaultPipeline(llvm::OptimizationLevel::O2);
    } else {
        // First the context's constants through the call graph and what they make
        // dead (branches on options, whole paths such as TCP's general loop under a
        // declared message size), so the inlining decision below sees real callers.
        llvm::ModulePassManager fold;
        if (llvm::Error e = pb.parsePassPipeline(fold, kFoldContext)) return e;
        fold.run(m, mam);
        for (llvm::Function& f : m) {
            if (f.isDeclaration() || !f.hasLocalLinkage()) continue;  // the wrapper stays
            // A large function still called from several places stays out of line: a
            // copy per caller multiplies code and code generation time (TCP's segment
            // emitter has three callers in its output loop); ipsccp below propagates
            // the constant context into it all the same.
            if (f.getNumUses() > 1 && inlined_size(f) > kOutOfLineInstructions) continue;
            f.removeFnAttr(llvm::Attribute::NoInline);
            f.addFnAttr(llvm::Attribute::AlwaysInline);
        }
        const char* passes = !options.passes.empty() ? options.passes.c_str()
                             : asks_full_unroll(m)    ? kShortPipelineUnroll
                                                      : kShortPipeline;
        if (llvm::Error e = pb.parsePassPipeline(mpm, passes)) return e;
    }
    mpm.run(m, mam);
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

    auto* anchor = m->getNamedGlobal(entry.anchor_symbol);
    if (!anchor) return fail(llvm::Twine("anchor ") + entry.anchor_symbol + " not in the bitcode");
    auto* type = llvm::dyn_cast<llvm::StructType>(anchor->getValueType());
    if (!type) return fail("the anchor's type is not a struct");
    if (m->getDataLayout().getTypeAllocSize(type) != entry.context_size)
        return fail("context layout differs between the bitcode and the host (rebuild both)");
    if (!m->getFunction(entry.entry_symbol)) return fail(llvm::Twine("entry ") + entry.entry_symbol + " missing");
    // The anchor has served: without it (and its llvm.compiler.used entry) no writable
    // data is left in the code, so a handle's code needs no RW page.
    if (auto* used = m->getNamedGlobal("llvm.compiler.used")) used->eraseFromParent();
    anchor->eraseFromParent();

    // Prune once what the entry does not reach, so each request clones little.
    llvm::internalizeModule(*m, [&](const llvm::GlobalValue& gv) { return gv.getName() == entry.entry_symbol; });
    for (llvm::Function& f : *m) {
        if (!options.unwind_tables) f.removeFnAttr(llvm::Attribute::UWTable);
        f.addFnAttr(llvm::Attribute::NoUnwind);  // -fno-exceptions code: nothing unwinds through it
    }
    {
        llvm::ModuleAnalysisManager mam;
        llvm::PassBuilder pb;
        pb.registerModuleAnalyses(mam);
        llvm::ModulePassManager mpm;
        if (llvm::Error e = pb.parsePassPipeline(mpm, "globaldce")) return e;
        mpm.run(*m, mam);
    }
    base.module = std::move(m);
    base.context_type = type;
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
        llvm::ValueToValueMapTy map;
        m = llvm::CloneModule(*(*base)->module, map);
        m->setModuleIdentifier(wrapper_name);
        auto init = constant_from_bytes((*base)->context_type, static_cast<const uint8_t*>(context), m->getDataLayout());
        if (!init) return init.takeError();
        auto* global = new llvm::GlobalVariable(*m, (*base)->context_type, /*isConstant=*/true,
                                                llvm::GlobalValue::InternalLinkage, *init, "quasi.context");
        global->setAlignment(llvm::Align(8));
        auto wrapper = add_wrapper(*m, *m->getFunction(entry.entry_symbol), *global, wrapper_name);
        if (!wrapper) return wrapper.takeError();
        llvm::internalizeModule(*m, [&](const llvm::GlobalValue& gv) { return gv.getName() == wrapper_name; });
        // optsize: measured to cost no instruction on the send path and to save ~7% of
        // code bytes (no loop-header padding, shorter encodings).
        for (llvm::Function& f : *m)
            if (!f.isDeclaration()) f.addFnAttr(llvm::Attribute::OptimizeForSize);
        m->addModuleFlag(llvm::Module::Warning, kPipelineFlag, uint32_t(pipeline));
        if (llvm::verifyModule(*m, &llvm::errs())) return fail("specialized module does not verify");
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
