#include "guards/replugger.hpp"

namespace quasi {

void Replugger::give_back(PluggableCode*& code) {
    if (!code) return;
    PluggableCode* c = code;
    code = nullptr;
    owner_->release(c);
}

void Replugger::plug(PluggableCode* next, bool keep_running) {
    if (next == running_ || next == pending_) {  // already held: the caller's use is one too many
        owner_->release(next);
        if (next == running_) give_back(pending_);
        poll();
        return;
    }
    give_back(pending_);
    if (!keep_running || !function_) {
        function_ = nullptr;
        give_back(running_);
        running_ = next;
    } else {
        pending_ = next;
    }
    poll();
}

Replugger::Poll Replugger::poll() {
    if (pending_) {
        CodeState state = pending_->state.load(std::memory_order_acquire);
        if (state == CodeState::compiling) return Poll::none;
        if (state == CodeState::failed) {
            error_ = pending_->error;
            give_back(pending_);
            return Poll::failed;
        }
        function_ = nullptr;
        give_back(running_);
        running_ = pending_;
        pending_ = nullptr;
    } else if (function_ || !running_) {
        return Poll::none;
    }
    CodeState state = running_->state.load(std::memory_order_acquire);
    if (state == CodeState::compiling) return Poll::none;
    if (state == CodeState::failed) {
        error_ = running_->error;
        give_back(running_);
        return Poll::failed;
    }
    function_ = running_->function.load(std::memory_order_acquire);
    ++replugs_;
    return Poll::plugged;
}

void Replugger::rearm() {
    if (running_ && running_->ready()) function_ = running_->function.load(std::memory_order_acquire);
}

void Replugger::unplug() {
    function_ = nullptr;
    give_back(pending_);
    give_back(running_);
}

}  // namespace quasi
