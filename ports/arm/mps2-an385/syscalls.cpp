// The newlib-nano system calls the board's C and C++ runtime can reach: output to
// the UART, the heap from the linker script's region (counted: the firmware proves
// it stops growing after start-up), exit through semihosting. Everything else
// answers as a system without files or processes would.
#include "ports/arm/mps2-an385/syscalls.hpp"
#include "ports/arm/mps2-an385/board.hpp"

#include <sys/stat.h>
#include <sys/time.h>
#include <cerrno>

extern "C" {
extern char __heap_start, __heap_end;
}

namespace quasi::board {
namespace {
char* g_break = &__heap_start;
SbrkStats g_sbrk;
}  // namespace

const SbrkStats& sbrk_stats() {
    return g_sbrk;
}
size_t heap_region_size() {
    return static_cast<size_t>(&__heap_end - &__heap_start);
}
}  // namespace quasi::board

extern "C" {

void* _sbrk(ptrdiff_t increment) {
    using namespace quasi::board;
    if (increment > &__heap_end - g_break || increment < &__heap_start - g_break) {
        errno = ENOMEM;
        return reinterpret_cast<void*>(-1);
    }
    char* previous = g_break;
    g_break += increment;
    ++g_sbrk.calls;
    g_sbrk.top = static_cast<size_t>(g_break - &__heap_start);
    return previous;
}

int _write(int fd, const char* data, int len) {
    if (fd != 1 && fd != 2) {
        errno = EBADF;
        return -1;
    }
    quasi::board::console_write(data, static_cast<size_t>(len));
    return len;
}

int _read(int, char*, int) {
    errno = EAGAIN;
    return -1;
}

int _close(int) {
    return -1;
}
int _lseek(int, int, int) {
    return 0;
}
int _isatty(int fd) {
    return fd <= 2;
}
int _fstat(int, struct stat* st) {
    st->st_mode = S_IFCHR;
    return 0;
}
int _getpid() {
    return 1;
}
int _kill(int, int) {
    errno = EINVAL;
    return -1;
}
// No file system and no wall clock (GoogleTest on the board reaches these).
int _open(const char*, int, ...) {
    errno = ENOENT;
    return -1;
}
int _stat(const char*, struct stat*) {
    errno = ENOENT;
    return -1;
}
int _unlink(const char*) {
    errno = ENOENT;
    return -1;
}
int mkdir(const char*, mode_t) {
    errno = ENOSYS;
    return -1;
}
int _gettimeofday(struct timeval*, void*) {
    errno = ENOSYS;
    return -1;
}
[[noreturn]] void _exit(int code) {
    quasi::board::semihosting_exit(code);
}

}  // extern "C"
