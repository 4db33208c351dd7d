// An intrusive hash table (Boost.Intrusive unordered_set, STYLE.md 11) whose bucket
// array comes from a MemorySource and follows the load: doubled when the elements
// outnumber the buckets, halved when they fall below an eighth (never below the
// initial size). With `grow` off the initial array is all there is (a board's fixed
// table); lookups then simply walk longer chains.
#pragma once

#include "stack/memory.hpp"

#include <boost/intrusive/unordered_set.hpp>

#include <cstddef>
#include <new>

namespace quasi {

template <class Set>
class HashTable {
public:
    using value_type = typename Set::value_type;
    using key_type = typename Set::key_type;
    using iterator = typename Set::iterator;

    // initial_buckets is rounded up to a power of two (at least 16).
    HashTable(MemorySource& source, size_t initial_buckets, size_t max_buckets, bool grow)
        : source_(source),
          initial_(round_up(initial_buckets)),
          max_(grow ? round_up(max_buckets < initial_buckets ? initial_buckets : max_buckets) : initial_),
          buckets_(take(initial_)),
          count_(buckets_ ? initial_ : 0),
          set_(typename Set::bucket_traits(buckets_ ? buckets_ : &fallback_, buckets_ ? count_ : 1)) {}
    HashTable(const HashTable&) = delete;
    HashTable& operator=(const HashTable&) = delete;
    ~HashTable() { set_.clear(); }

    iterator find(const key_type& key) { return set_.find(key); }
    iterator end() { return set_.end(); }
    iterator begin() { return set_.begin(); }
    void insert(value_type& v) {
        set_.insert(v);
        if (set_.size() > count_ && count_ < max_) resize(count_ ? count_ * 2 : initial_);
    }
    void erase(value_type& v) {
        set_.erase(set_.iterator_to(v));
        if (count_ > initial_ && set_.size() < count_ / 8) resize(count_ / 2);
    }
    void clear() { set_.clear(); }
    size_t size() const { return set_.size(); }
    size_t bucket_count() const { return count_; }
    size_t bytes() const { return buckets_ ? count_ * sizeof(Bucket) : 0; }

private:
    using Bucket = typename Set::bucket_type;

    static size_t round_up(size_t n) {
        size_t p = 16;
        while (p < n) p <<= 1;
        return p;
    }
    Bucket* take(size_t n) {
        void* p = source_.allocate(n * sizeof(Bucket), alignof(Bucket));
        if (!p) return nullptr;
        Bucket* b = static_cast<Bucket*>(p);
        for (size_t i = 0; i < n; ++i) new (&b[i]) Bucket();
        return b;
    }
    void give_back(Bucket* b, size_t n) {
        if (!b) return;
        for (size_t i = 0; i < n; ++i) b[i].~Bucket();
        source_.deallocate(b, n * sizeof(Bucket), alignof(Bucket));
    }
    // Out of memory for a new array: the old one stays (longer chains, still correct).
    void resize(size_t n) {
        Bucket* fresh = take(n);
        if (!fresh) return;
        set_.rehash(typename Set::bucket_traits(fresh, n));
        give_back(buckets_, count_);
        buckets_ = fresh;
        count_ = n;
    }

    MemorySource& source_;
    size_t initial_;
    size_t max_;
    Bucket* buckets_;
    size_t count_;
    Bucket fallback_;  // a one-bucket table when even the first array could not be had
    // Gives the array back after set_ is gone (members die in reverse order).
    struct Releaser {
        HashTable* table;
        ~Releaser() { table->give_back(table->buckets_, table->count_); }
    } releaser_{this};
    Set set_;
};

}  // namespace quasi
