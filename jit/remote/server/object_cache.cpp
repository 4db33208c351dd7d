#include "jit/remote/server/object_cache.hpp"

namespace quasi::jit::remote {

std::string ObjectCache::key(std::string_view triple, SendPath path, std::span<const uint8_t> context) {
    std::string k(triple);
    k.push_back('\0');
    k.push_back(static_cast<char>(path));
    k.append(reinterpret_cast<const char*>(context.data()), context.size());
    return k;
}

std::shared_ptr<const CompiledObject> ObjectCache::find(const std::string& key) {
    std::lock_guard lock(mutex_);
    auto it = index_.find(key);
    if (it == index_.end()) return nullptr;
    lru_.splice(lru_.begin(), lru_, it->second);
    return it->second->object;
}

void ObjectCache::insert(const std::string& key, std::shared_ptr<const CompiledObject> object) {
    const size_t bytes = key.size() + object->object.size() + kEntryOverhead;
    if (bytes > max_bytes_) return;
    std::lock_guard lock(mutex_);
    if (index_.count(key)) return;  // two compiles of one context raced: keep the first
    lru_.push_front(Entry{key, std::move(object), bytes});
    index_.emplace(lru_.front().key, lru_.begin());
    bytes_ += bytes;
    while (bytes_ > max_bytes_) {
        Entry& last = lru_.back();
        bytes_ -= last.bytes;
        index_.erase(last.key);
        lru_.pop_back();
        ++evictions_;
    }
}

size_t ObjectCache::bytes() const {
    std::lock_guard lock(mutex_);
    return bytes_;
}

size_t ObjectCache::entries() const {
    std::lock_guard lock(mutex_);
    return lru_.size();
}

uint64_t ObjectCache::evictions() const {
    std::lock_guard lock(mutex_);
    return evictions_;
}

}  // namespace quasi::jit::remote
