// The code cache: specialized code shared by every handle whose context has the same
// key, bounded in count and bytes with LRU eviction of code nobody uses.
//
// Each entry counts its users (handles, and an in-flight compile). Only entries with
// no user are evictable, so eviction never frees code a handle may still call; code a
// handle replaced (re-specialization) stays until its last user lets go, then ages
// out like any unused entry (LLVM's ReOptimizeLayer contract; STYLE.md item 10).
//
// Each entry also owns the guard word its code reads at entry. The word means "some
// handle's socket is in exactly this entry's state": a handle that learns of a change
// sets it, a handle that re-extracts this very state clears it.
//
// Not thread-safe: the specializer holds its mutex around every call. An entry's
// `guard` is touched only by the thread that runs the entry's stack; `function` and
// `state` are published with release stores for handles polling an async compile.
#pragma once

#include "context/expected.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace quasi::jit {

enum class EntryState : uint8_t { compiling, ready, failed };

struct CodeEntry {
    std::string key;
    uint32_t guard = 0;  // read by the specialized code; 0 = the state still holds
    std::atomic<void*> function{nullptr};
    std::atomic<EntryState> state{EntryState::compiling};
    Error error;              // when failed
    uint64_t code_id = 0;     // the engine's id, for freeing
    uint64_t serial = 0;      // version number: every compiled code gets a new one
    size_t code_bytes = 0;    // executable bytes
    size_t object_bytes = 0;  // all allocated bytes (what the byte bound counts)
    double compile_ms = 0;

    // Owned by the cache.
    size_t users = 0;
    bool in_map = false;
    std::list<CodeEntry*>::iterator lru_position;
    bool in_lru = false;

    bool ready() const { return state.load(std::memory_order_acquire) == EntryState::ready; }
};

struct CacheLimits {
    size_t max_entries = 256;     // hard: a new context is refused when every entry is in use
    size_t max_bytes = 4u << 20;  // code in use may exceed it; unused code is evicted first
};

struct CacheStats {
    uint64_t hits = 0;
    uint64_t misses = 0;
    uint64_t evictions = 0;
    size_t entries = 0;
    size_t in_use = 0;  // entries with users
    size_t bytes = 0;
};

class CodeCache {
public:
    explicit CodeCache(CacheLimits limits = {}) : limits_(limits) {}
    ~CodeCache();

    // The entry for key with one more user, creating it (state compiling, `created`
    // set) on a miss. Null when the cache is full of entries in use.
    CodeEntry* acquire(std::string_view key, bool& created);
    // One more user of an entry the caller already holds (e.g. an async compile job).
    void add_user(CodeEntry* entry);
    // One user fewer. Returns the entry when it must be destroyed by the caller (it
    // left the map earlier and this was its last user); evictable entries go to the LRU.
    CodeEntry* release(CodeEntry* entry);
    // A compile finished: byte accounting, or removal from the map when it failed.
    void finished(CodeEntry* entry);
    // Entries over the limits with no user, taken out of the cache, oldest first. The
    // caller frees their code and destroys them.
    std::vector<CodeEntry*> evict();

    void set_limits(CacheLimits limits) { limits_ = limits; }
    const CacheLimits& limits() const { return limits_; }
    CacheStats stats() const;

private:
    void erase_from_map(CodeEntry* entry);

    CacheLimits limits_;
    std::unordered_map<std::string_view, std::unique_ptr<CodeEntry>> map_;  // views into entry->key
    std::list<CodeEntry*> lru_;  // ready or failed entries without users, most recently used first
    size_t bytes_ = 0;
    size_t in_use_ = 0;
    uint64_t serial_ = 0;
    uint64_t hits_ = 0;
    uint64_t misses_ = 0;
    uint64_t evictions_ = 0;
};

}  // namespace quasi::jit
