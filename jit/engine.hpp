// The JIT engine: one ORC LLJIT per process and the layers a specialization goes
// through. No LLVM type appears here (LLVM stays inside engine.cpp).
//
//   parse the entry point's bitcode once (pruned to what the entry reaches)
//   -> clone it per request
//   -> the context as an internal constant global (built along the LLVM struct type)
//   -> a wrapper taking the entry's arguments minus the context, calling the entry
//   -> internalize all but the wrapper
//   -> IR transform layer: optimize (default O2 or the short pipeline)
//   -> object transform layer: account code bytes, optionally dump the object
//   -> link with its own ResourceTracker, look the wrapper up.
// Not thread-safe: the specializer serializes every call.
#pragma once

#include "context/expected.hpp"
#include "jit/entry_points.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace quasi::jit {

enum class Pipeline : uint8_t {
    short_pipeline,  // fold the context, inline, scalar cleanup, globaldce (engine.cpp; ~2x faster, code ~O2)
    default_o2,      // PassBuilder::buildPerModuleDefaultPipeline(O2)
};
const char* name(Pipeline p);

struct EngineOptions {
    std::string dump_dir;         // non-empty: every linked object is written there (DumpObjects)
    bool unwind_tables = false;   // .eh_frame for JIT code: costs a page and registration per handle
    // CodeGenOptLevel::Less instead of Default (QUASI_JIT_CODEGEN=default|less): measured
    // ~15% less compile time with the same instructions per send and code bytes (UDP
    // and TCP handles; quasi-bench-spec), so it is the default.
    bool fast_codegen = true;
    // Experiments (QUASI_JIT_PASSES, QUASI_JIT_LLVM_ARGS): a pass pipeline in `opt`
    // syntax instead of the short one, and LLVM command-line options (set once per
    // process, at engine creation).
    std::string passes;
    std::string llvm_args;
};

struct CompiledCode {
    void* function = nullptr;
    uint64_t id = 0;          // for free()
    size_t code_bytes = 0;    // executable sections of the object
    size_t object_bytes = 0;  // all allocated sections (code, constants, unwind)
    double build_ms = 0;      // clone, context constant, wrapper, internalize
    double optimize_ms = 0;
    double total_ms = 0;      // request to function pointer (the rest: code generation and linking)
};

class Engine {
public:
    static Expected<std::unique_ptr<Engine>> create(const EngineOptions& options);
    ~Engine();
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;

    // Specializes `entry` for the context at `context` (entry.context_size bytes; host
    // pointers in it are baked into the code: in-process use only).
    Expected<CompiledCode> compile(const EntryPoint& entry, const void* context, Pipeline pipeline);
    // Frees the code and everything the JIT holds for it.
    void free(uint64_t id);
    void set_dump_dir(std::string dir);
    size_t live() const;

private:
    struct Impl;
    explicit Engine(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace quasi::jit
