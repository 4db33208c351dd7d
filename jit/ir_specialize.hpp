// The LLVM steps of a specialization that do not depend on where the code runs,
// shared by the in-process engine (jit/engine.cpp) and the remote server
// (jit/remote/server/): prune the parsed bitcode to an entry, clone it with the
// context as an internal constant and a wrapper, optimize. LLVM types in the
// interface: include this only from jit/'s LLVM translation units.
#pragma once

#include "jit/engine.hpp"

#include <llvm/IR/DerivedTypes.h>
#include <llvm/IR/Module.h>
#include <llvm/Support/Error.h>
#include <llvm/Target/TargetMachine.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace quasi::jit::ir {

llvm::Error fail(const llvm::Twine& message);

// Prepares a freshly parsed module to be cloned per request: checks the entry and
// the anchor (whose struct type is the context's; its size in the module's data
// layout must be `context_size`), drops the anchor, internalizes all but the entry
// and deletes what it does not reach, marks every function nounwind (and drops
// uwtable unless `unwind_tables`). Returns the context type.
llvm::Expected<llvm::StructType*> prune_to_entry(llvm::Module& m, const char* entry_symbol, const char* anchor_symbol,
                                                  size_t context_size, bool unwind_tables);

// A clone of `base` with `context` (bytes in the module's target layout, the size of
// `type`) as an internal constant global, a wrapper `wrapper_name` that calls the
// entry with it and takes the entry's other arguments, everything else internal.
// Pointers in the context become constant addresses of the target.
llvm::Expected<std::unique_ptr<llvm::Module>> specialize_clone(const llvm::Module& base, llvm::StructType* type,
                                                               const char* entry_symbol, const uint8_t* context,
                                                               const std::string& wrapper_name);

// Optimizes a specialized module for `target` (cost models): the default O2
// pipeline or the short one (ir_specialize.cpp); `passes`, if not empty, replaces
// the short pipeline's function part (QUASI_JIT_PASSES). `fold_ms`, if given, gets
// the time of the short pipeline's first step (the context folded through the call
// graph), part of the whole; quasi-specd reports it per phase.
llvm::Error optimize(llvm::Module& m, llvm::TargetMachine* target, Pipeline pipeline, const std::string& passes,
                     double* fold_ms = nullptr);

}  // namespace quasi::jit::ir
