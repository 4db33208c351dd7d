// DPDK's Environment Abstraction Layer for a quasi application: start-up from the
// program's own command line in DPDK's convention (everything after `--` goes to
// rte_eal_init unchanged), one-line errors for the usual mistakes, and a shutdown
// that leaves nothing behind (ports stopped and closed, rte_eal_cleanup, the run
// directory /var/run/dpdk/<file-prefix>/ removed).
//
// One Eal per process: EAL itself is process-global and cannot be started twice.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace quasi::dpdk {

class Eal {
public:
    // Starts EAL with `args` (argv[0] is added). On failure returns null and puts one
    // line (what failed and what to try) in *error. `need_port`: finding no port is an
    // error (false for a program that makes its own, e.g. a net_ring pair).
    static std::unique_ptr<Eal> start(const char* program, const std::vector<std::string>& args,
                                      std::string* error, bool need_port = true);

    Eal(const Eal&) = delete;
    Eal& operator=(const Eal&) = delete;
    // Closes every port (stopped by their DpdkPort, which must be gone first), cleans
    // EAL up and removes its run directory.
    ~Eal();

    // Ports EAL found (vdevs and bound NICs).
    uint16_t port_count() const;
    // The lcores EAL was given (-l), main lcore first.
    std::vector<unsigned> lcores() const;
    // Runs work(i) for i < count at once, work(i) on the i-th of lcores() (work(0) on
    // the calling thread, the main lcore); returns when all have returned.
    void run_on_lcores(uint16_t count, const std::function<void(uint16_t)>& work) const;

private:
    Eal() = default;
    std::string runtime_dir_;
};

}  // namespace quasi::dpdk
