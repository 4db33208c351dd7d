// The link quasi-echo and quasi-httpd run on: a tap (--tap NAME) or a DPDK port
// (--dpdk, EAL's arguments after `--`), optionally behind the impairment decorator
// (--impair). One set of options and one way of opening it for both programs.
//
//   AppLinkOptions o;  o.add_to(cli);  parse;  o.check(&error)
//   auto link = AppLink::open("prog", o, &error);         // DPDK: EAL and the port now
//   for each core c < link->cores():                      // DPDK: one per lcore (-l)
//     link->configure(config, c);                         // steering's local ports
//     Stack stack(config, clock, link->shared_pool(c));   // DPDK: the queue's mbufs
//     link->attach(stack, clock, &error, c);              // tap opened, interface, route
//   link->run([&](uint16_t c) { loop: stack.poll(); ...; link->flush_due();
//                                idle: link->idle_wait(clock, max) });  // each core on its lcore
//   link->detach();  then the stacks go;  then link->finish(stdout)
#pragma once

#include "apps/app_dpdk.hpp"
#include "apps/impair_options.hpp"
#include "ports/x86/tap.hpp"
#include "stack/stack.hpp"

#include <CLI/CLI.hpp>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

namespace quasi::app {

struct AppLinkOptions {
    std::string tap;
    bool dpdk = false;
    uint16_t dpdk_port = 0;
    std::string ip_text, gw_text, mac_text;
    std::vector<std::string> impair_specs;
    std::vector<std::string> eal_args;  // after `--`

    // Filled by check():
    Ipv4Addr ip, gateway;
    uint8_t prefix_len = 0;
    MacAddr mac{};  // tap default 02:00:00:00:00:01; DPDK default: the port's
    LinkImpairment impair;

    void add_to(CLI::App& cli);
    // Converts and validates what add_to's options gave; false and a line in *error.
    bool check(std::string* error);
};

// Adds b's counters and drop reasons to a's (the stacks of several cores).
void add_stats(Stats& a, const Stats& b);

class AppLink {
public:
    // DPDK: starts EAL and opens the port (the stack must then use shared_pool());
    // tap: nothing yet (the tap is opened on the stack's own pool by attach()).
    static std::unique_ptr<AppLink> open(const char* program, AppLinkOptions& options, std::string* error);
    // Stacks to run: one per DPDK lcore, one on a tap.
    uint16_t cores() const { return dpdk_ ? dpdk_->queues() : 1; }
    BufferPool* shared_pool(uint16_t core = 0) { return dpdk_ ? &dpdk_->pool(core) : nullptr; }
    void configure(Stack::Config& config, uint16_t core) {
        if (dpdk_) dpdk_->configure(config, core);
    }
    // Opens the tap, adds the interface (and the default route with --gw).
    bool attach(Stack& stack, const Clock& clock, std::string* error, uint16_t core = 0);
    // work(core) for every core, each on its own lcore (DPDK) or here (tap).
    void run(const std::function<void(uint16_t)>& work) {
        if (dpdk_) return dpdk_->run(work);
        work(0);
    }
    const char* name() const { return dpdk_ ? "DPDK port" : options_.tap.c_str(); }

    void flush_due() { options_.impair.flush_due(); }
    // Tap: sleeps until a frame or a due timer (at most max_wait). DPDK: returns at
    // once (the lcore busy-polls, as DPDK applications do).
    void idle_wait(const Clock& clock, TimeNs max_wait);
    // Before the stack goes: prints the decorator's counters, then its held frames
    // return to the stack's pool (the decorator is gone afterwards).
    void detach(std::FILE* out) {
        options_.impair.print(out);
        options_.impair.release();
    }
    // After the stack is gone: the DPDK port's counters; the mbufs still out (0).
    size_t finish(std::FILE* out);

private:
    explicit AppLink(AppLinkOptions& options) : options_(options) {}
    AppLinkOptions& options_;
    std::unique_ptr<TapNetif> tap_;
    std::unique_ptr<DpdkLink> dpdk_;
};

}  // namespace quasi::app
