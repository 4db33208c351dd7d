#include "apps/cli_options.hpp"

#include "apps/app_common.hpp"

namespace quasi::app {

namespace {

// An option taking one string, handed to `parse`, which returns false for a bad value.
template <class Parse>
CLI::Option* add_parsed(CLI::App& app, const std::string& name, const std::string& type, const std::string& help,
                        const std::string& expected, Parse parse) {
    return app
        .add_option_function<std::string>(
            name,
            [name, expected, parse](const std::string& value) {
                if (!parse(value)) throw CLI::ValidationError(name, "'" + value + "' is not " + expected);
            },
            help)
        ->type_name(type);
}

}  // namespace

void take_last_values(CLI::App& app) {
    app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
}

CLI::Option* add_size(CLI::App& app, const std::string& name, uint64_t& out, uint64_t lo, uint64_t hi,
                      const std::string& help) {
    std::string expected = "a number in [" + std::to_string(lo) + ", " + std::to_string(hi) + "] (k/M/G: x1024)";
    return add_parsed(app, name, "N", help, expected,
                      [&out, lo, hi](const std::string& v) {
                          uint64_t n = 0;
                          if (!parse_size(v.c_str(), n) || n < lo || n > hi) return false;
                          out = n;
                          return true;
                      })
        ->default_str(std::to_string(out));
}

CLI::Option* add_cidr(CLI::App& app, const std::string& name, Ipv4Addr& addr, uint8_t& prefix_len,
                      const std::string& help) {
    return add_parsed(app, name, "ADDR/LEN", help, "an IPv4 address and prefix length",
                      [&addr, &prefix_len](const std::string& v) { return parse_cidr(v.c_str(), addr, prefix_len); });
}

CLI::Option* add_endpoint(CLI::App& app, const std::string& name, SockAddr& out, const std::string& help) {
    return add_parsed(app, name, "ADDR:PORT", help, "an IPv4 address and a port 1-65535",
                      [&out](const std::string& v) { return parse_endpoint(v.c_str(), out); });
}

CLI::Option* add_ipv4(CLI::App& app, const std::string& name, Ipv4Addr& out, const std::string& help) {
    return add_parsed(app, name, "ADDR", help, "an IPv4 address",
                      [&out](const std::string& v) { return parse_ipv4(v.c_str(), out); });
}

CLI::Option* add_mac(CLI::App& app, const std::string& name, MacAddr& out, const std::string& help) {
    return add_parsed(app, name, "MAC", help, "a MAC address (six hex bytes separated by ':')",
                      [&out](const std::string& v) { return parse_mac(v.c_str(), out); });
}

int parse_command_line(CLI::App& app, int argc, char** argv) {
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        app.exit(e);  // the reason and "Run with --help for more information."
        return 2;
    }
    return -1;
}

}  // namespace quasi::app
