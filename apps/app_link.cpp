#include "apps/app_link.hpp"

#include "apps/app_common.hpp"

#include <cerrno>
#include <cstring>

namespace quasi::app {

void split_eal_args(int argc, char** argv, std::vector<char*>& app, std::vector<std::string>& eal) {
    int i = 0;
    for (; i < argc; ++i) {
        if (i > 0 && !std::strcmp(argv[i], "--")) break;
        app.push_back(argv[i]);
    }
    for (++i; i < argc; ++i) eal.emplace_back(argv[i]);
}

void AppLinkOptions::add_to(CLI::App& cli) {
    auto* tap_option = cli.add_option("--tap", tap, "run on this existing tap device (tests create it in a namespace)");
    auto* dpdk_option = cli.add_flag("--dpdk", dpdk,
                                     "run on a DPDK port; EAL's arguments follow `--`, e.g. -- -l 1 --no-huge --no-pci "
                                     "-m 256 --no-shconf --vdev=net_af_packet0,iface=veth0");
    tap_option->excludes(dpdk_option);
    cli.add_option("--dpdk-port", dpdk_port, "the DPDK port id to use")->capture_default_str();
    cli.add_option("--ip", ip_text, "our address and prefix length, e.g. 198.18.0.2/24")->required();
    cli.add_option("--gw", gw_text, "default gateway");
    cli.add_option("--mac", mac_text, "our MAC (tap default 02:00:00:00:00:01; DPDK default: the port's)");
    cli.add_option("--impair", impair_specs,
                   "impair the link both ways, e.g. loss=0.01,delay=20ms,reorder=0.1,seed=3 (apps/impair_options.hpp)");
}

bool AppLinkOptions::check(std::string* error) {
    if (tap.empty() == !dpdk) return *error = "give one of --tap NAME or --dpdk", false;
    if (!parse_cidr(ip_text.c_str(), ip, prefix_len) || prefix_len == 0)
        return *error = "--ip: not ADDR/LEN: '" + ip_text + "'", false;
    if (!gw_text.empty() && !parse_ipv4(gw_text.c_str(), gateway))
        return *error = "--gw: not an IPv4 address: '" + gw_text + "'", false;
    if (!mac_text.empty() && !parse_mac(mac_text.c_str(), mac)) return *error = "--mac: not a MAC: '" + mac_text + "'", false;
    if (mac_text.empty() && !dpdk) mac = MacAddr{{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}};
    for (const std::string& spec : impair_specs)
        if (!impair.parse(spec.c_str())) return *error = "--impair: bad spec", false;
    if (dpdk && eal_args.empty())
        return *error = "--dpdk needs EAL's arguments after `--` (e.g. -- -l 1 --no-huge --no-pci -m 256 "
                        "--no-shconf --vdev=net_af_packet0,iface=veth0)",
               false;
    return true;
}

std::unique_ptr<AppLink> AppLink::open(const char* program, AppLinkOptions& options, std::string* error) {
    std::unique_ptr<AppLink> link(new AppLink(options));
    if (options.dpdk) {
        DpdkLinkConfig config{.eal_args = options.eal_args, .port_id = options.dpdk_port};
        config.mac = options.mac;
        link->dpdk_ = open_dpdk_link(program, config, error);
        if (!link->dpdk_) return nullptr;
        // One decorator holds one link's state: it cannot sit under several cores.
        if (link->dpdk_->queues() > 1 && options.impair.requested())
            return *error = "--impair works on one lcore only (give EAL one, e.g. -l 1)", nullptr;
    }
    return link;
}

bool AppLink::attach(Stack& stack, const Clock& clock, std::string* error, uint16_t core) {
    Netif* device;
    if (dpdk_) {
        device = &dpdk_->netif(core);
    } else {
        int err = 0;
        tap_ = TapNetif::open(options_.tap.c_str(), stack.pool(), TapNetif::Config{.mac = options_.mac}, &err);
        if (!tap_) {
            *error = "cannot open tap '" + options_.tap + "': " + std::strerror(err) + " (" +
                     TapNetif::open_error_hint(err) + ")";
            return false;
        }
        device = tap_.get();
    }
    Netif& link = options_.impair.wrap(*device, stack.pool(), clock);
    if (int rc = stack.add_interface(link, options_.ip, options_.prefix_len); rc < 0)
        return *error = std::string("cannot add interface: ") + std::strerror(-rc), false;
    if (!options_.gateway.is_unspecified()) {
        if (int rc = stack.add_route(Ipv4Addr{}, 0, options_.gateway); rc < 0)
            return *error = std::string("cannot add default route: ") + std::strerror(-rc), false;
    }
    return true;
}

void AppLink::idle_wait(const Clock& clock, TimeNs max_wait) {
    if (tap_) options_.impair.idle_wait(tap_->fd(), clock, max_wait);
}

void add_stats(Stats& a, const Stats& b) {
    for (size_t i = 0; i < kDropReasonCount; ++i) a.drops[i] += b.drops[i];
    for (size_t i = 0; i < kCounterCount; ++i) a.counters[i] += b.counters[i];
}

size_t AppLink::finish(std::FILE* out) {
    return dpdk_ ? dpdk_->finish(out) : 0;
}

}  // namespace quasi::app
