// The server's cache of compiled objects, bounded in bytes, least recently used out
// first, shared by every device and thread.
//
// What it holds is the specialized path before linking: it depends on the target and
// the context only (target_compiler.hpp), so a device asking again for the same
// context, at another code-buffer slot or after its firmware's host functions moved,
// costs a link (~0.1 ms) and no compile. The key is the target, the send path and
// the context's bytes (every pointer in it included: devices share an entry when
// they run the same image with the same memory layout).
#pragma once

#include "jit/remote/server/target_compiler.hpp"

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

namespace quasi::jit::remote {

class ObjectCache {
public:
    // Bookkeeping charged per entry beside its key and object bytes.
    static constexpr size_t kEntryOverhead = 128;

    explicit ObjectCache(size_t max_bytes) : max_bytes_(max_bytes) {}

    static std::string key(std::string_view triple, SendPath path, std::span<const uint8_t> context);

    std::shared_ptr<const CompiledObject> find(const std::string& key);
    // Entries larger than the whole budget are not kept.
    void insert(const std::string& key, std::shared_ptr<const CompiledObject> object);

    size_t bytes() const;
    size_t entries() const;
    uint64_t evictions() const;

private:
    struct Entry {
        std::string key;
        std::shared_ptr<const CompiledObject> object;
        size_t bytes;
    };
    size_t max_bytes_;
    mutable std::mutex mutex_;
    std::list<Entry> lru_;  // most recently used first
    std::unordered_map<std::string_view, std::list<Entry>::iterator> index_;  // views into lru_'s keys
    size_t bytes_ = 0;
    uint64_t evictions_ = 0;
};

}  // namespace quasi::jit::remote
