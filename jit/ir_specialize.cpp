// The LLVM steps a specialization takes before code generation (ir_specialize.hpp).
#include "jit/ir_specialize.hpp"

#include <llvm/Analysis/ConstantFolding.h>
#include <llvm/Analysis/LoopInfo.h>
#include <llvm/IR/Constants.h>
#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/InstIterator.h>
#include <llvm/IR/IntrinsicInst.h>
#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/Verifier.h>
#include <llvm/Passes/PassBuilder.h>
#include <llvm/Transforms/IPO/Internalize.h>
#include <llvm/Transforms/Scalar/SROA.h>
#include <llvm/Transforms/Utils/Cloning.h>

#include <chrono>
#include <cstring>
#include <set>
#include <vector>

namespace quasi::jit::ir {

llvm::Error fail(const llvm::Twine& message) {
    return llvm::make_error<llvm::StringError>(message, llvm::inconvertibleErrorCode());
}

namespace {

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

constexpr const char* kFoldContext = "ipsccp,globaldce";
constexpr unsigned kOutOfLineInstructions = 300;  // inlined_size: a UDP send is ~600 all told

// ---- layer: the context as a constant, along the LLVM type clang gave it ----

llvm::Expected<llvm::Constant*> constant_from_bytes(llvm::Type* type, const uint8_t* bytes,
                                                    const llvm::DataLayout& layout) {
    llvm::LLVMContext& ctx = type->getContext();
    if (auto* int_type = llvm::dyn_cast<llvm::IntegerType>(type)) {
        uint64_t store = layout.getTypeStoreSize(type);
        if (store > 8) return fail("integer wider than 64 bits in the context");
        uint64_t v = 0;
        std::memcpy(&v, bytes, store);  // little-endian host and target (prune_to_entry checks)
        return llvm::ConstantInt::get(int_type, v & int_type->getBitMask());
    }
    if (auto* ptr_type = llvm::dyn_cast<llvm::PointerType>(type)) {
        // The target's pointer width (4 bytes on Cortex-M): the address the code will
        // use, the host object's in process, the device's for the remote server.
        uint64_t v = 0;
        std::memcpy(&v, bytes, layout.getPointerSize());
        if (v == 0) return llvm::ConstantPointerNull::get(ptr_type);
        return llvm::ConstantExpr::getIntToPtr(llvm::ConstantInt::get(layout.getIntPtrType(ctx), v), ptr_type);
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

}  // namespace

llvm::Error optimize(llvm::Module& m, llvm::TargetMachine* target, Pipeline pipeline, const std::string& passes,
                     double* fold_ms) {
    llvm::LoopAnalysisManager lam;
    llvm::FunctionAnalysisManager fam;
    llvm::CGSCCAnalysisManager cgam;
    llvm::ModuleAnalysisManager mam;
    llvm::PassBuilder pb(target);
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
        auto fold_start = std::chrono::steady_clock::now();
        llvm::ModulePassManager fold;
        if (llvm::Error e = pb.parsePassPipeline(fold, kFoldContext)) return e;
        fold.run(m, mam);
        if (fold_ms)
            *fold_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - fold_start).count();
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
        const char* chosen = !passes.empty()      ? passes.c_str()
                             : asks_full_unroll(m) ? kShortPipelineUnroll
                                                   : kShortPipeline;
        if (llvm::Error e = pb.parsePassPipeline(mpm, chosen)) return e;
    }
    mpm.run(m, mam);
    return llvm::Error::success();
}

llvm::Expected<llvm::StructType*> prune_to_entry(llvm::Module& m, const char* entry_symbol, const char* anchor_symbol,
                                                  size_t context_size, bool unwind_tables) {
    if (!m.getDataLayout().isLittleEndian()) return fail("big-endian targets are not supported");
    auto* anchor = m.getNamedGlobal(anchor_symbol);
    if (!anchor) return fail(llvm::Twine("anchor ") + anchor_symbol + " not in the bitcode");
    auto* type = llvm::dyn_cast<llvm::StructType>(anchor->getValueType());
    if (!type) return fail("the anchor's type is not a struct");
    if (m.getDataLayout().getTypeAllocSize(type) != context_size)
        return fail(llvm::Twine("context layout differs between the bitcode (") +
                    llvm::Twine(m.getDataLayout().getTypeAllocSize(type).getFixedValue()) + " bytes) and its user (" +
                    llvm::Twine(context_size) + ")");
    if (!m.getFunction(entry_symbol)) return fail(llvm::Twine("entry ") + entry_symbol + " missing");
    // The anchor has served: without it (and its llvm.compiler.used entry) no writable
    // data is left in the code, so a handle's code needs no RW page.
    if (auto* used = m.getNamedGlobal("llvm.compiler.used")) used->eraseFromParent();
    anchor->eraseFromParent();

    // Prune once what the entry does not reach, so each request clones little.
    llvm::internalizeModule(m, [&](const llvm::GlobalValue& gv) { return gv.getName() == entry_symbol; });
    for (llvm::Function& f : m) {
        if (!unwind_tables) f.removeFnAttr(llvm::Attribute::UWTable);
        f.addFnAttr(llvm::Attribute::NoUnwind);  // -fno-exceptions code: nothing unwinds through it
    }
    llvm::ModuleAnalysisManager mam;
    llvm::PassBuilder pb;
    pb.registerModuleAnalyses(mam);
    llvm::ModulePassManager mpm;
    if (llvm::Error e = pb.parsePassPipeline(mpm, "globaldce")) return e;
    mpm.run(m, mam);
    return type;
}

llvm::Expected<std::unique_ptr<llvm::Module>> specialize_clone(const llvm::Module& base, llvm::StructType* type,
                                                               const char* entry_symbol, const uint8_t* context,
                                                               const std::string& wrapper_name) {
    llvm::ValueToValueMapTy map;
    std::unique_ptr<llvm::Module> m = llvm::CloneModule(base, map);
    m->setModuleIdentifier(wrapper_name);
    auto init = constant_from_bytes(type, context, m->getDataLayout());
    if (!init) return init.takeError();
    auto* global = new llvm::GlobalVariable(*m, type, /*isConstant=*/true, llvm::GlobalValue::InternalLinkage, *init,
                                            "quasi.context");
    global->setAlignment(llvm::Align(8));
    auto wrapper = add_wrapper(*m, *m->getFunction(entry_symbol), *global, wrapper_name);
    if (!wrapper) return wrapper.takeError();
    llvm::internalizeModule(*m, [&](const llvm::GlobalValue& gv) { return gv.getName() == wrapper_name; });
    // optsize: measured to cost no instruction on the send path and to save ~7% of
    // code bytes (no loop-header padding, shorter encodings).
    for (llvm::Function& f : *m)
        if (!f.isDeclaration()) f.addFnAttr(llvm::Attribute::OptimizeForSize);
    if (llvm::verifyModule(*m, &llvm::errs())) return fail("specialized module does not verify");
    return m;
}

}  // namespace quasi::jit::ir
