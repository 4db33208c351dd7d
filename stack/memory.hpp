// Where the stack's per-connection memory comes from, and the pools that hand it out.
//
// MemorySource is the seam (STYLE.md 11: memory owned visibly): every TCP socket,
// TIME-WAIT record, connection-table bucket array, descriptor chunk and byte ring is
// taken from one, so a port decides where memory lives. The default draws from the
// heap (operator new, nothrow); a bare-metal board passes one that carves a static
// arena and returns nullptr once it is spent, and sets its pools not to grow after
// start-up (SlabPool::Config::grow = false, everything preallocated).
//
// SlabPool<T> is a slab allocator (Bonwick 1994): objects live in chunks of one
// aligned block each; a chunk knows its free slots and its use count, chunks with a
// free slot sit on a list, and an object finds its chunk by masking its address. So
// allocate and free are O(1), the pool grows a chunk at a time up to max_objects, and
// a chunk that empties goes back to the source (beyond the preallocated ones): memory
// follows the connections in use, not the worst case.
#pragma once

#include <boost/intrusive/list.hpp>

#include <cstddef>
#include <cstdint>
#include <new>
#include <utility>

namespace quasi {

class MemorySource {
public:
    // `bytes` aligned to `align` (a power of two), or nullptr.
    virtual void* allocate(size_t bytes, size_t align) = 0;
    virtual void deallocate(void* p, size_t bytes, size_t align) = 0;

protected:
    ~MemorySource() = default;
};

// operator new / delete with alignment, never throwing.
MemorySource& heap_memory();

// A MemorySource in front of another that keeps freed blocks of one size for the next
// request of that size: a TCP connection's first ring chunks and RACK's send times are
// all 2 KiB, taken and given back several times per connection (rings are freed when
// they empty, stack/tcp_buffers.hpp), and a general-purpose allocator spends hundreds
// of instructions on each (glibc: its bins, not its per-thread cache, at this size).
// A cached block costs a pointer swap. The cache holds at most max_blocks; trim(),
// called periodically, gives back the blocks that lay unused since its last call, so
// memory still follows the connections in use once churn stops.
class BlockCache final : public MemorySource {
public:
    BlockCache(MemorySource& source, size_t block_bytes, size_t max_blocks)
        : source_(source), block_bytes_(block_bytes), max_blocks_(max_blocks) {}
    BlockCache(const BlockCache&) = delete;
    BlockCache& operator=(const BlockCache&) = delete;
    ~BlockCache() { release_all(); }

    void* allocate(size_t bytes, size_t align) override {
        if (bytes != block_bytes_ || align > kAlign) return source_.allocate(bytes, align);
        if (!free_) return source_.allocate(block_bytes_, kAlign);
        FreeBlock* b = free_;
        free_ = b->next;
        if (--count_ < low_) low_ = count_;
        return b;
    }
    void deallocate(void* p, size_t bytes, size_t align) override {
        if (bytes != block_bytes_ || align > kAlign) return source_.deallocate(p, bytes, align);
        if (count_ == max_blocks_) return source_.deallocate(p, block_bytes_, kAlign);
        free_ = new (p) FreeBlock{free_};
        ++count_;
    }
    // Gives back as many blocks as the cache never dipped below since the last call.
    void trim() {
        for (size_t n = low_; n > 0 && free_; --n) {
            FreeBlock* b = free_;
            free_ = b->next;
            --count_;
            source_.deallocate(b, block_bytes_, kAlign);
        }
        low_ = count_;
    }
    void release_all() {
        low_ = count_;
        trim();
    }
    size_t bytes() const { return count_ * block_bytes_; }  // held in the cache, not in use
    size_t blocks() const { return count_; }

private:
    static constexpr size_t kAlign = alignof(std::max_align_t);
    struct FreeBlock {
        FreeBlock* next;
    };
    MemorySource& source_;
    size_t block_bytes_;
    size_t max_blocks_;
    FreeBlock* free_ = nullptr;
    size_t count_ = 0;
    size_t low_ = 0;  // the fewest blocks held since the last trim()
};

template <class T>
class SlabPool {
public:
    struct Config {
        size_t max_objects = 0;   // hard cap; allocate() returns nullptr beyond it
        size_t preallocate = 0;   // objects whose chunks are taken at construction and kept
        bool grow = true;         // false: only the preallocated chunks (no allocation after start)
        size_t chunk_bytes = 16 * 1024;  // a power of two; the chunk's alignment too
    };

    SlabPool(const Config& config, MemorySource& source) : config_(config), source_(source) {
        // Layout of a chunk: the header, a bitmap of live slots (for for_each), the slots.
        for (;;) {
            per_chunk_ = (config_.chunk_bytes - sizeof(Chunk)) / sizeof(Slot);
            while (per_chunk_ > 0 && slots_offset(per_chunk_) + per_chunk_ * sizeof(Slot) > config_.chunk_bytes)
                --per_chunk_;
            if (per_chunk_ >= 4) break;
            config_.chunk_bytes <<= 1;
        }
        slots_offset_ = slots_offset(per_chunk_);
        while (capacity_ < config_.preallocate && capacity_ < config_.max_objects)
            if (!add_chunk(true)) break;
    }
    SlabPool(const SlabPool&) = delete;
    SlabPool& operator=(const SlabPool&) = delete;
    // Every object must have been freed.
    ~SlabPool() {
        partial_.clear_and_dispose([this](Chunk* c) { release_chunk(c); });
        full_.clear_and_dispose([this](Chunk* c) { release_chunk(c); });
    }

    // A new T(args...), or nullptr at the cap or when the source has no memory left.
    template <class... Args>
    T* allocate(Args&&... args) {
        if (in_use_ >= config_.max_objects) return nullptr;
        if (partial_.empty() && !add_chunk(false)) return nullptr;
        Chunk& c = partial_.front();
        Slot* slot = c.free;
        c.free = slot->next;
        if (++c.used == per_chunk_) full_.splice(full_.end(), partial_, partial_.iterator_to(c));
        ++in_use_;
        c.mark(index_in(c, slot), true);
        return new (slot->storage) T(std::forward<Args>(args)...);
    }

    void free(T* object) {
        object->~T();
        Slot* slot = reinterpret_cast<Slot*>(object);
        Chunk& c = chunk_of(slot);
        c.mark(index_in(c, slot), false);
        slot->next = c.free;
        c.free = slot;
        if (c.used-- == per_chunk_) partial_.splice(partial_.begin(), full_, full_.iterator_to(c));
        --in_use_;
        // An empty grown chunk goes back to the source, unless it is the only one with
        // room (keeping it saves a release and a take when one connection comes and goes).
        if (c.used == 0 && !c.preallocated && partial_.size() > 1) {
            partial_.erase(partial_.iterator_to(c));
            release_chunk(&c);
        }
    }

    // The smallest chunk (a power of two, up to `largest`) that holds `objects`: what a
    // pool that never grows uses, so a board's 16 records take 2 KiB, not 16.
    static constexpr size_t chunk_bytes_for(size_t objects, size_t largest = 16 * 1024) {
        size_t bytes = 512;
        while (bytes < largest && slots_offset(objects) + objects * sizeof(Slot) > bytes) bytes <<= 1;
        return bytes;
    }

    size_t in_use() const { return in_use_; }
    size_t capacity() const { return capacity_; }  // objects the chunks held now can take
    size_t bytes() const { return chunks_ * config_.chunk_bytes; }  // memory held from the source
    size_t max_objects() const { return config_.max_objects; }

    // Calls f(T&) for every live object (a scan of the chunks: not for the data path).
    template <class F>
    void for_each(F&& f) {
        for (auto* list : {&partial_, &full_})
            for (Chunk& c : *list)
                for (size_t i = 0; i < per_chunk_; ++i)
                    if (c.live(i)) f(*reinterpret_cast<T*>(slots_of(c)[i].storage));
    }

private:
    union Slot {
        Slot* next;
        alignas(T) unsigned char storage[sizeof(T)];
    };
    struct Chunk : boost::intrusive::list_base_hook<> {
        Slot* free = nullptr;
        size_t used = 0;
        bool preallocated = false;
        uint64_t* bitmap() { return reinterpret_cast<uint64_t*>(this + 1); }
        bool live(size_t i) { return (bitmap()[i / 64] >> (i % 64)) & 1; }
        void mark(size_t i, bool on) {
            if (on) bitmap()[i / 64] |= uint64_t{1} << (i % 64);
            else bitmap()[i / 64] &= ~(uint64_t{1} << (i % 64));
        }
    };
    static constexpr size_t slots_offset(size_t slots) {
        size_t end = sizeof(Chunk) + (slots + 63) / 64 * sizeof(uint64_t);
        return (end + alignof(Slot) - 1) / alignof(Slot) * alignof(Slot);
    }
    Slot* slots_of(Chunk& c) { return reinterpret_cast<Slot*>(reinterpret_cast<unsigned char*>(&c) + slots_offset_); }
    size_t index_in(Chunk& c, Slot* slot) { return static_cast<size_t>(slot - slots_of(c)); }
    using ChunkList = boost::intrusive::list<Chunk, boost::intrusive::constant_time_size<true>>;

    Chunk& chunk_of(Slot* slot) {
        auto address = reinterpret_cast<uintptr_t>(slot) & ~uintptr_t(config_.chunk_bytes - 1);
        return *reinterpret_cast<Chunk*>(address);
    }

    bool add_chunk(bool preallocating) {
        if (!preallocating && !config_.grow) return false;
        void* block = source_.allocate(config_.chunk_bytes, config_.chunk_bytes);
        if (!block) return false;
        Chunk* c = new (block) Chunk();
        c->preallocated = preallocating;
        for (size_t w = 0; w < (per_chunk_ + 63) / 64; ++w) c->bitmap()[w] = 0;
        Slot* slots = slots_of(*c);
        for (size_t i = per_chunk_; i-- > 0;) {
            slots[i].next = c->free;
            c->free = &slots[i];
        }
        partial_.push_back(*c);
        ++chunks_;
        capacity_ += per_chunk_;
        return true;
    }

    void release_chunk(Chunk* c) {
        c->~Chunk();
        source_.deallocate(c, config_.chunk_bytes, config_.chunk_bytes);
        --chunks_;
        capacity_ -= per_chunk_;
    }

    Config config_;
    MemorySource& source_;
    size_t per_chunk_ = 0;
    size_t slots_offset_ = 0;
    size_t in_use_ = 0;
    size_t capacity_ = 0;
    size_t chunks_ = 0;
    ChunkList partial_;  // chunks with a free slot, the one to take from first
    ChunkList full_;
};

}  // namespace quasi
