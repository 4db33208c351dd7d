// Quasi-invariants: fields a specialization may freeze.
//
// A QuasiInvariant<T> reads like a T everywhere but has no assignment operator:
// the only way to change it is guarded_write(), which notifies every guard watching
// it. So the compiler rejects an unguarded write (the TypeGuard of the Synthetix
// work), and a specialized handle that froze the old value learns of the change
// before its code can run with it again. The lowest layer of guards/: stack/ declares
// its frozen fields with it.
#pragma once

#include <boost/intrusive/list.hpp>

#include <cstdint>

namespace quasi {

// Implemented by whatever depends on invariants (a specialized handle's guard,
// guards/handle_guard.hpp). `tag` is the one the watcher gave the link it watches
// with, so it knows which invariant changed (the violation's kind).
class InvariantWatcher {
public:
    virtual void invariant_changed(uint8_t tag) = 0;

protected:
    ~InvariantWatcher() = default;
};

// One watcher's subscription to one invariant. Unlinks itself when destroyed, so a
// watcher that goes away never leaves a dangling entry behind.
struct GuardLink : boost::intrusive::list_base_hook<boost::intrusive::link_mode<boost::intrusive::auto_unlink>> {
    InvariantWatcher* watcher = nullptr;
    uint8_t tag = 0;
};

class InvariantBase {
public:
    InvariantBase() = default;
    InvariantBase(const InvariantBase&) = delete;
    InvariantBase& operator=(const InvariantBase&) = delete;
    ~InvariantBase() { notify(); }

    void watch(GuardLink& link, InvariantWatcher& watcher, uint8_t tag = 0) {
        link.unlink();
        link.watcher = &watcher;
        link.tag = tag;
        links_.push_back(link);
    }
    bool watched() const { return !links_.empty(); }

protected:
    void notify() {
        for (GuardLink& link : links_) link.watcher->invariant_changed(link.tag);
    }

private:
    boost::intrusive::list<GuardLink, boost::intrusive::constant_time_size<false>> links_;
};

template <class T>
class QuasiInvariant : public InvariantBase {
public:
    QuasiInvariant() = default;
    explicit QuasiInvariant(const T& initial) : value_(initial) {}

    const T& get() const { return value_; }
    operator const T&() const { return value_; }

    // The one way to change the value; watchers are told whenever it differs.
    void guarded_write(const T& value) {
        if (value == value_) return;
        value_ = value;
        notify();
    }

private:
    T value_{};
};

}  // namespace quasi
