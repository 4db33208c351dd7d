// The replugger: which version of compiled code a handle runs, and when a replaced
// version may go.
//
// Code is versioned (PluggableCode::serial) and counted: a handle holds one use of
// the version it runs and, while a newer one compiles, of that one too. A version is
// given back (CodeOwner::release) only when the handle can no longer call it, on the
// handle's own thread, so code shared by handles on several stacks (threads) is
// freed by its owner only once no handle anywhere holds it (LLVM's ReOptimizeLayer
// contract, STYLE.md item 10). The send path takes no lock and does no atomic
// read-modify-write: it calls function(), a plain member; the counting happens when a
// handle plugs or unplugs, off the data path.
//
// Two ways to replace code:
// - plug(next, keep_running = false): the running version is unplugged at once and
//   the handle runs nothing (the generic path carries the calls) until `next` is
//   ready (fallback_and_respecialize).
// - plug(next, keep_running = true): the running version keeps running (reinforced
//   at egress, guards/reinforce.hpp) until `next` is ready; then poll() swaps them
//   and reports the swap, so the reinforcement for the old version can be retired.
#pragma once

#include "context/expected.hpp"
#include "guards/guard_word.hpp"

#include <atomic>
#include <cstdint>

namespace quasi {

enum class CodeState : uint8_t { compiling, ready, failed };

// One version of compiled code, published by whoever compiles it (jit/): function
// and state with release stores, read here with acquire loads.
struct PluggableCode {
    GuardWord guard;  // read by the code at entry
    std::atomic<void*> function{nullptr};
    std::atomic<CodeState> state{CodeState::compiling};
    Error error;          // when failed
    uint64_t serial = 0;  // version number: every compiled code gets a new one

    bool ready() const { return state.load(std::memory_order_acquire) == CodeState::ready; }
};

// Who gives code out and takes it back (the specializer's cache).
class CodeOwner {
public:
    virtual void release(PluggableCode* code) = 0;

protected:
    ~CodeOwner() = default;
};

class Replugger {
public:
    enum class Poll : uint8_t {
        none,     // nothing changed
        plugged,  // the pending version is ready and now runs (the old one was given back)
        failed,   // the pending version failed to compile and was given back; error() says why
    };

    explicit Replugger(CodeOwner& owner) : owner_(&owner) {}
    Replugger(const Replugger&) = delete;
    Replugger& operator=(const Replugger&) = delete;
    ~Replugger() { unplug(); }

    // Takes over one use of `next` (the caller's).
    void plug(PluggableCode* next, bool keep_running);
    // Installs a pending version whose compile finished (or gives a failed one back).
    Poll poll();
    // Stops calling the running version (a violation); it stays held until replaced.
    void disarm() { function_ = nullptr; }
    // Calls the running version again (a forced violation that changed nothing).
    void rearm();
    // Gives every version back.
    void unplug();

    void* function() const { return function_; }
    PluggableCode* running() const { return running_; }
    PluggableCode* pending() const { return pending_; }
    // The version whose guard word speaks for this handle's context: pending if any.
    PluggableCode* newest() const { return pending_ ? pending_ : running_; }
    uint64_t running_version() const { return function_ && running_ ? running_->serial : 0; }
    const Error& error() const { return error_; }
    uint64_t replugs() const { return replugs_; }

private:
    void give_back(PluggableCode*& code);

    CodeOwner* owner_;
    void* function_ = nullptr;  // the running version's code while it may be called
    PluggableCode* running_ = nullptr;
    PluggableCode* pending_ = nullptr;
    Error error_;
    uint64_t replugs_ = 0;  // versions that started running
};

}  // namespace quasi
