// The programs' command lines through CLI11, with quasi's own value types as options:
// sizes with k/M/G suffixes, ADDR/LEN, ADDR:PORT, IPv4 addresses, MAC addresses. Each
// checks its value when parsed and says what was wrong. Host-only, with exceptions
// (CLI11 reports errors by throwing); the core never sees it.
#pragma once

#include "stack/socket.hpp"

#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>

namespace quasi::app {

// Options added to `app` afterwards keep the last value when repeated, as the
// hand-written loops did (a script may append an option to override one it passed).
void take_last_values(CLI::App& app);

// --name N: decimal, optional k/M/G (powers of 1024), within [lo, hi].
CLI::Option* add_size(CLI::App& app, const std::string& name, uint64_t& out, uint64_t lo, uint64_t hi,
                      const std::string& help);
// --name ADDR/LEN ("198.18.0.2/24").
CLI::Option* add_cidr(CLI::App& app, const std::string& name, Ipv4Addr& addr, uint8_t& prefix_len,
                      const std::string& help);
// --name ADDR:PORT ("198.18.0.1:9").
CLI::Option* add_endpoint(CLI::App& app, const std::string& name, SockAddr& out, const std::string& help);
// --name ADDR ("198.18.0.1").
CLI::Option* add_ipv4(CLI::App& app, const std::string& name, Ipv4Addr& out, const std::string& help);
// --name MAC ("02:00:00:00:00:01").
CLI::Option* add_mac(CLI::App& app, const std::string& name, MacAddr& out, const std::string& help);

// Parses argv: -1 to go on, or the exit status to return: 0 after --help (printed on
// stdout), 2 after a bad command line (the reason and a pointer to --help on stderr).
int parse_command_line(CLI::App& app, int argc, char** argv);

}  // namespace quasi::app
