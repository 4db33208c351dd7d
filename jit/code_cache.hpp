// The code cache: specialized code shared by every handle whose context has the same
// key, bounded in count and bytes with LRU eviction of code nobody uses.
//
// Each entry counts its users (handles, and an in-flight compile). Only entries with
// no user are evictable, so eviction never frees code a handle may still call; code a
// handle replaced (re-specialization) stays until its last user lets go, then ages
// out like any unused entry (LLVM's ReOptimizeLayer contract; STYLE.md item 10).
//
// Each entry is one version of code for guards/: its guard word, function and state
// (PluggableCode, guards/replugger.hpp) are what handles plug and check.
//
// Not thread-safe: the specializer holds its mutex around every call. `function` and
// `state` are published with release stores for handles polling an async compile.
#pragma once

#include "context/expected.hpp"
#include "guards/replugger.hpp"

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

using EntryState = CodeState;

struct CodeEntry : PluggableCode {
    std::string key;
    uint64_t code_id = 0;     // the engine's id, for freeing
    size_t code_bytes = 0;    // executable bytes
    size_t object_bytes = 0;  // all allocated bytes (what the byte bound counts)
    double compile_ms = 0;

    // Owned by the cache.
    size_t users = 0;
    bool in_map = false;
    std::list<CodeEntry*>::iterator lru_position;
    bool in_lru = false;
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
