#include "ports/x86/dpdk/eal.hpp"

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>

#include <dirent.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string_view>

namespace quasi::dpdk {

namespace {

bool has_arg(const std::vector<std::string>& args, const char* prefix) {
    for (const std::string& a : args)
        if (a.rfind(prefix, 0) == 0) return true;
    return false;
}

// What rte_eal_init's failure most likely means, from rte_errno and the arguments.
std::string eal_hint(int err, const std::vector<std::string>& args) {
    if (!has_arg(args, "--no-huge"))
        return "no hugepages reserved? add --no-huge -m 256 (or reserve them: "
               "echo 512 > /proc/sys/vm/nr_hugepages)";
    if (err == EACCES) return "permission denied: run as root (or with CAP_NET_RAW/CAP_NET_ADMIN for vdevs)";
    if (err == EALREADY) return "EAL already started in this process";
    if (err == EINVAL) return "bad EAL argument (see the EAL messages above)";
    if (err == ENOMEM) return "out of memory for EAL: raise -m (64 MB is the least that works)";
    return "see the EAL messages above";
}

struct LaunchedWork {
    const std::function<void(uint16_t)>* work = nullptr;
    uint16_t index = 0;
};

int run_launched(void* arg) {
    auto* w = static_cast<LaunchedWork*>(arg);
    (*w->work)(w->index);
    return 0;
}

// The --file-prefix=NAME given to EAL, or "".
std::string file_prefix(const std::vector<std::string>& args) {
    constexpr std::string_view option = "--file-prefix=";
    for (const std::string& a : args)
        if (a.rfind(option, 0) == 0) return a.substr(option.size());
    return "";
}

// Removes the files EAL leaves in its run directory, then the directory itself.
void remove_runtime_dir(const std::string& dir) {
    if (dir.empty()) return;
    if (DIR* d = opendir(dir.c_str())) {
        while (dirent* e = readdir(d)) {
            if (!std::strcmp(e->d_name, ".") || !std::strcmp(e->d_name, "..")) continue;
            unlink((dir + "/" + e->d_name).c_str());
        }
        closedir(d);
    }
    rmdir(dir.c_str());
}

}  // namespace

std::unique_ptr<Eal> Eal::start(const char* program, const std::vector<std::string>& args, std::string* error,
                                bool need_port) {
    std::vector<std::string> owned;
    owned.emplace_back(program);
    owned.insert(owned.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& a : owned) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (rte_eal_init(static_cast<int>(owned.size()), argv.data()) < 0) {
        int err = rte_errno;
        *error = std::string("cannot start DPDK's EAL: ") + rte_strerror(err) + ": " + eal_hint(err, args);
        // EAL may have made its run directory before failing: remove it when it is
        // certainly this run's (named by our --file-prefix), never a shared default.
        std::string dir = rte_eal_get_runtime_dir();
        std::string ours = "/" + file_prefix(args);
        if (ours.size() > 1 && dir.size() > ours.size() && dir.compare(dir.size() - ours.size(), ours.size(), ours) == 0)
            remove_runtime_dir(dir);
        return nullptr;
    }
    std::unique_ptr<Eal> eal(new Eal);
    eal->runtime_dir_ = rte_eal_get_runtime_dir();
    if (need_port && rte_eth_dev_count_avail() == 0) {
        *error = "DPDK found no port: give a vdev (e.g. --vdev=net_af_packet0,iface=veth0 or "
                 "--vdev=net_ring0) or bind a NIC to vfio-pci and drop --no-pci; a vdev that failed to "
                 "probe (e.g. no such iface) is reported by EAL above";
        return nullptr;  // ~Eal cleans up
    }
    return eal;
}

Eal::~Eal() {
    uint16_t port;
    // DpdkPort stopped the ports it started; the rest never ran.
    RTE_ETH_FOREACH_DEV(port) rte_eth_dev_close(port);
    rte_eal_cleanup();
    remove_runtime_dir(runtime_dir_);
}

uint16_t Eal::port_count() const { return rte_eth_dev_count_avail(); }

std::vector<unsigned> Eal::lcores() const {
    std::vector<unsigned> out{rte_get_main_lcore()};
    unsigned lcore;
    RTE_LCORE_FOREACH_WORKER(lcore) out.push_back(lcore);
    return out;
}

}  // namespace quasi::dpdk

namespace quasi::dpdk {

void Eal::run_on_lcores(uint16_t count, const std::function<void(uint16_t)>& work) const {
    std::vector<unsigned> ids = lcores();
    std::vector<LaunchedWork> launched(count);
    for (uint16_t i = 1; i < count && i < ids.size(); ++i) {
        launched[i] = {&work, i};
        rte_eal_remote_launch(run_launched, &launched[i], ids[i]);
    }
    work(0);
    rte_eal_mp_wait_lcore();
}

}  // namespace quasi::dpdk
