// Writes the seed corpus of remote_proto_fuzzer (corpus/remote/): each sample
// message of tests/remote/proto_samples.hpp, sealed and resealed.
#include "tests/remote/proto_samples.hpp"

#include <cstdio>
#include <string>

using namespace quasi::remote;

namespace {
void write(const std::string& dir, const char* name, uint8_t selector, const std::vector<uint8_t>& m) {
    std::string path = dir + "/" + name;
    FILE* f = std::fopen(path.c_str(), "wb");
    if (!f) {
        std::perror(path.c_str());
        std::exit(1);
    }
    std::fputc(selector, f);
    std::fwrite(m.data(), 1, m.size(), f);
    std::fclose(f);
}
}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    std::string dir = argv[1];
    test::Samples s;
    SpecReply err = s.reply();
    err.status = Status::bad_context;
    err.message = "context size 60, target struct 64";
    err.code = {};
    err.entry_offset = 0;
    write(dir, "spec_request", 0, test::encoded(s.request()));
    write(dir, "spec_request_resealed", 4, test::encoded(s.request()));
    write(dir, "spec_reply", 1, test::encoded(s.reply()));
    write(dir, "spec_reply_resealed", 5, test::encoded(s.reply()));
    write(dir, "spec_reply_error_resealed", 5, test::encoded(err));
    write(dir, "stats_request_resealed", 6, test::encoded(StatsRequest{.device_id = 1, .nonce = 2}));
    write(dir, "stats_reply_resealed", 7, test::encoded(s.stats_reply()));
    return 0;
}
