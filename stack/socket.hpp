// The BSD-like socket API. Every call is non-blocking (the stack runs to completion
// inside Stack::poll and never waits): results are byte counts, descriptors or 0,
// and failures are negative errno values (-EAGAIN, -ECONNREFUSED, ...), as in the
// Linux kernel's own socket calls.
#pragma once

#include "stack/memory.hpp"
#include "stack/udp.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <sys/types.h>

namespace quasi {

class Stack;
struct TcpSocket;

// Values as on Linux, so ported code reads naturally.
constexpr int kAfInet = 2;
constexpr int kSockStream = 1;
constexpr int kSockDgram = 2;

constexpr int kSolSocket = 1;
constexpr int kIpProtoIp = 0;
constexpr int kSoBroadcast = 6;
constexpr int kSoRcvbuf = 8;
constexpr int kSoNoCheck = 11;
constexpr int kSoError = 4;
constexpr int kIpTos = 1;
constexpr int kIpTtl = 2;
constexpr int kIpMtuDiscover = 10;  // values: kPmtuDiscDont (never DF), kPmtuDiscDo (always DF)
constexpr int kPmtuDiscDont = 0;
constexpr int kPmtuDiscDo = 2;

constexpr int kSoKeepalive = 9;
constexpr int kSoLinger = 13;     // value: Linger
constexpr int kSoSndbuf = 7;
constexpr int kIpProtoTcp = 6;
constexpr int kTcpNodelay = 1;
constexpr int kTcpMaxseg = 2;
constexpr int kTcpKeepidle = 4;   // seconds
constexpr int kTcpKeepintvl = 5;  // seconds
constexpr int kTcpKeepcnt = 6;
constexpr int kTcpUserTimeout = 18;  // milliseconds (RFC 5482)
constexpr int kTcpCongestion = 13;   // value: int, 0 NewReno, 1 CUBIC (Linux takes a name)

// SO_LINGER, as close() applies it to a TCP connection. Off (the default): close()
// returns at once and the connection sends what is queued, then its FIN, in the
// background. {1, 0}: abortive close, a RST at once and the queued data discarded.
// {1, T > 0}: close() still returns at once (nothing in this API blocks, where a
// blocking Linux close() would wait up to T), the queued data and the FIN go out as
// usual, and if they are not all acknowledged T seconds after the close the
// connection is reset (RST sent, buffers freed; Counter::tcp_linger_timeouts).
// Closing with unread received data always resets (RFC 2525 2.17).
struct Linger {
    int onoff = 0;
    int seconds = 0;
};

constexpr int kShutRd = 0;
constexpr int kShutWr = 1;
constexpr int kShutRdwr = 2;

constexpr int kMsgPeek = 0x2;
constexpr int kMsgDontWait = 0x40;  // accepted for portability: every call is non-blocking

int socket(Stack& stack, int domain, int type, int protocol = 0);
int bind(Stack& stack, int fd, SockAddr local);
int connect(Stack& stack, int fd, SockAddr remote);
ssize_t sendto(Stack& stack, int fd, const void* data, size_t len, int flags, const SockAddr* dst);
ssize_t send(Stack& stack, int fd, const void* data, size_t len, int flags = 0);
ssize_t recvfrom(Stack& stack, int fd, void* data, size_t len, int flags, SockAddr* from);
ssize_t recv(Stack& stack, int fd, void* data, size_t len, int flags = 0);
int close(Stack& stack, int fd);
// TCP: passive open, accept a connection (returns its descriptor; `peer` optional), half-close.
int listen(Stack& stack, int fd, int backlog);
int accept(Stack& stack, int fd, SockAddr* peer);
int shutdown(Stack& stack, int fd, int how);
int setsockopt(Stack& stack, int fd, int level, int name, const void* value, size_t len);
int getsockopt(Stack& stack, int fd, int level, int name, void* value, size_t* len);
int getsockname(Stack& stack, int fd, SockAddr* out);
int getpeername(Stack& stack, int fd, SockAddr* out);

struct PollFd {
    int fd = -1;
    uint16_t events = 0;   // events:: bits wanted
    uint16_t revents = 0;  // filled in
};
// Readiness right now (no waiting: drive Stack::poll in between). Returns how many
// entries have revents set; a bad descriptor reports events::err as poll(2)'s POLLNVAL would.
int poll(Stack& stack, PollFd* fds, size_t count);
// The callback form: `callback` runs inside Stack::poll whenever fd's readiness may
// have changed (data arrived, an error was reported). nullptr removes it.
int set_ready_callback(Stack& stack, int fd, ReadyCallback callback, void* user);

// The descriptor table: descriptors are small integers naming sockets of any kind.
// Entries come in chunks of kChunk from a MemorySource, taken as descriptors are
// needed (up to `size`) or all at construction when `grow` is off; free ones form a
// list, so allocate and release are O(1) at any size (the most recently released
// descriptor is reused first, not the lowest as POSIX would). A table smaller than a
// chunk takes only its size (a board's 32 descriptors are 32 entries, not 1024).
class DescriptorTable {
public:
    enum class Kind : uint8_t { free, udp, tcp };
    struct Entry {
        Kind kind = Kind::free;
        int next_free = -1;  // while free: the next free descriptor
        UdpSocket* udp = nullptr;
        TcpSocket* tcp = nullptr;
    };
    static constexpr size_t kChunk = 1024;

    DescriptorTable(size_t size, MemorySource& memory, bool grow = true);
    ~DescriptorTable();
    DescriptorTable(const DescriptorTable&) = delete;
    DescriptorTable& operator=(const DescriptorTable&) = delete;

    int allocate(UdpSocket* s);  // fd or -EMFILE
    int allocate(TcpSocket* s);
    void release(int fd);
    Entry* get(int fd) {
        if (fd < 0 || static_cast<size_t>(fd) >= taken_) return nullptr;
        Entry& e = chunks_[size_t(fd) / kChunk][size_t(fd) % kChunk];
        return e.kind != Kind::free ? &e : nullptr;
    }
    UdpSocket* udp(int fd) {
        Entry* e = get(fd);
        return e && e->kind == Kind::udp ? e->udp : nullptr;
    }
    TcpSocket* tcp(int fd) {
        Entry* e = get(fd);
        return e && e->kind == Kind::tcp ? e->tcp : nullptr;
    }
    size_t bytes() const { return taken_ * sizeof(Entry) + chunk_count_ * sizeof(Entry*); }

private:
    int take_entry(Entry value);
    bool add_chunk();

    size_t size_;
    MemorySource& memory_;
    bool grow_;
    size_t chunk_entries_;  // entries per chunk: kChunk, or size when smaller
    size_t chunk_count_;
    Entry** chunks_;
    size_t taken_ = 0;  // descriptors covered by the chunks held
    int free_head_ = -1;
};

}  // namespace quasi
