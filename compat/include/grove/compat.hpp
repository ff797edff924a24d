// grove::compat — gevent's monkey.patch_all() for C and C++.
//
// grove_compat defines libc's blocking entry points (read, recv, connect, poll, nanosleep,
// getaddrinfo, ...) in the executable, in front of libc. Until something is patched they
// are pure pass-through: one relaxed load of the patched set, then the libc function. After
// patch_all() (or GROVE_PATCH=all in the environment), a call made *from a green thread*
// waits on that thread's hub instead of blocking the OS thread, so unmodified blocking code
// and libraries (libcurl's easy API, a hand-written blocking client) run concurrently in
// green threads. Called from anywhere else (the main thread, the hub itself, a thread-pool
// worker), every call is still exactly the libc call: same result, same errno.
//
//   int main() {
//     grove::compat::patch_all();          // once, at start-up, before creating threads
//     grove::green::spawn([] { curl_easy_perform(easy); });   // no longer holds the hub
//   }
//
// Rules while patched, inside a green thread:
//   - sockets are driven with MSG_DONTWAIT and pipes/FIFOs/eventfds with RWF_NOWAIT, so grove
//     never changes an fd's O_NONBLOCK flag (the one exception: connect() on a blocking socket
//     this process created sets it for the duration of the connect() call only). An fd the
//     process inherited, stdin and stdout included, is never touched;
//   - an fd the user made non-blocking (fcntl, ioctl FIONBIO, SOCK_NONBLOCK) keeps returning
//     EAGAIN: those calls pass straight through;
//   - SO_RCVTIMEO / SO_SNDTIMEO are honoured: after the timeout the call fails with EAGAIN
//     (connect: EINPROGRESS), after a partial transfer it returns the partial count, as libc;
//   - regular files, directories, block devices and ttys pass through;
//   - errno is the caller's: other green threads running while one waits never leak theirs;
//   - a wait is restarted after a signal handler runs (SA_RESTART semantics): a patched call
//     never fails with EINTR because of the hub;
//   - close() (and dup2/dup3 over an open fd) wakes every green thread of this OS thread that
//     waits on the fd with EBADF before the fd is closed;
//   - green exceptions (grove::green::Timeout, GreenletExit from kill) propagate out of the
//     patched call, as in gevent. C code in between must be unwindable (Debian builds C with
//     unwind tables) and may leak what it held at that moment.
// See docs/compat.md for the full table, the linking rules and what cannot be reached.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>

namespace grove::compat {

// What can be patched; gevent's module names where they apply.
enum class Patch : unsigned {
  none = 0,
  time = 1u << 0,    // sleep, usleep, nanosleep, clock_nanosleep (relative and TIMER_ABSTIME)
  socket = 1u << 1,  // sockets: read/write/readv/writev, recv*/send*, accept/accept4, connect
  os = 1u << 2,      // pipes, FIFOs, eventfds, non-tty character devices: read/write/readv/writev
  select = 1u << 3,  // poll, ppoll, select, pselect, epoll_wait, epoll_pwait
  dns = 1u << 4,     // getaddrinfo, getnameinfo, gethostbyname(2)(_r): on the thread pool
  all = (1u << 5) - 1,
};
constexpr Patch operator|(Patch a, Patch b) { return Patch(unsigned(a) | unsigned(b)); }
constexpr Patch operator&(Patch a, Patch b) { return Patch(unsigned(a) & unsigned(b)); }
constexpr Patch operator~(Patch a) { return Patch(~unsigned(a) & unsigned(Patch::all)); }
constexpr Patch& operator|=(Patch& a, Patch b) { return a = a | b; }

// Switches the entry points in `what` from pass-through to cooperative, at run time.
// Patching is a union and never undone; patching again with a different set than the first
// call warns (call it once, at start-up). Call it from the main thread before other threads
// exist: a thread already blocked inside libc stays blocked (a warning says so). Runs the
// self-check (below) and warns if the process does not resolve the entry points to grove.
void patch(Patch what);
void patch_all();
// Whether every part of `what` is patched.
bool is_patched(Patch what) noexcept;
// The union of everything patched so far.
Patch patched() noexcept;

// "time,socket", "all" or "none". parse_patch accepts those names separated by commas or
// spaces (case-insensitive, as in GROVE_PATCH) and throws std::invalid_argument naming the
// valid ones otherwise.
std::string to_string(Patch what);
Patch parse_patch(std::string_view names);

// --- self-check -----------------------------------------------------------------------
// Whether the dynamic linker resolves each interposed name to grove's definition. Static
// linking, -Wl,--exclude-libs, hidden visibility or an archive member the linker dropped
// make the process call libc directly, and nothing would be cooperative. patch() runs this
// and warns with the fix; it is public so that a program or test can assert on it.
struct SelfCheck {
  bool ok = true;
  std::vector<std::string> not_interposed;  // names that resolve elsewhere (libc, a preload)
  std::string fix;                          // how to link, when !ok
};
SelfCheck self_check();

// --- warnings -------------------------------------------------------------------------
// Unsupported combinations found at run time. Each warning has a stable id and is emitted
// once per process (the first text wins); every message names the fix. Layers above compat
// (the server, the framework) add their own through warn().
struct Warning {
  std::string id;       // e.g. "compat.patch-after-threads"
  std::string message;  // one paragraph, ends with what to do instead
};
using WarningSink = std::function<void(const Warning&)>;

// Records the warning and hands it to the sink, unless a warning with this id was already
// emitted. Returns whether it was emitted now. Thread-safe; the sink is called without
// grove's locks held, in the order the warnings were queued.
bool warn(std::string id, std::string message);
// Every warning emitted so far, in order.
std::vector<Warning> warnings();
// Replaces the sink and returns the previous one. The default sink (also restored by
// passing an empty function) hands the warning to grove's diagnostic sink
// (grove/diagnostics.hpp, source "compat"), whose default writes "grove: warning: <message>"
// to stderr; grove::set_diagnostic_handler sees these with every other layer's reports.
WarningSink set_warning_sink(WarningSink sink);

// --- the real calls ---------------------------------------------------------------------
// libc's functions (or the next interposer in the lookup order, e.g. a sanitizer's), never
// grove's: for code that must block the OS thread on purpose.
namespace original {
ssize_t read(int fd, void* buf, size_t n);
ssize_t write(int fd, const void* buf, size_t n);
ssize_t readv(int fd, const struct iovec* iov, int iovcnt);
ssize_t writev(int fd, const struct iovec* iov, int iovcnt);
ssize_t recv(int fd, void* buf, size_t n, int flags);
ssize_t recvfrom(int fd, void* buf, size_t n, int flags, struct sockaddr* addr, socklen_t* addrlen);
ssize_t recvmsg(int fd, struct msghdr* msg, int flags);
ssize_t send(int fd, const void* buf, size_t n, int flags);
ssize_t sendto(int fd, const void* buf, size_t n, int flags, const struct sockaddr* addr,
               socklen_t addrlen);
ssize_t sendmsg(int fd, const struct msghdr* msg, int flags);
int accept(int fd, struct sockaddr* addr, socklen_t* addrlen);
int accept4(int fd, struct sockaddr* addr, socklen_t* addrlen, int flags);
int connect(int fd, const struct sockaddr* addr, socklen_t addrlen);
int close(int fd);
int shutdown(int fd, int how);
int dup(int fd);
int dup2(int fd, int fd2);
int dup3(int fd, int fd2, int flags);
int fcntl(int fd, int cmd, long arg = 0);
int ioctl(int fd, unsigned long request, void* arg);
int poll(struct pollfd* fds, nfds_t nfds, int timeout);
int ppoll(struct pollfd* fds, nfds_t nfds, const struct timespec* timeout, const sigset_t* sigmask);
int select(int nfds, fd_set* readfds, fd_set* writefds, fd_set* exceptfds, struct timeval* timeout);
int pselect(int nfds, fd_set* readfds, fd_set* writefds, fd_set* exceptfds,
            const struct timespec* timeout, const sigset_t* sigmask);
unsigned sleep(unsigned seconds);
int usleep(useconds_t usec);
int nanosleep(const struct timespec* req, struct timespec* rem);
int clock_nanosleep(clockid_t clock, int flags, const struct timespec* req, struct timespec* rem);
int getaddrinfo(const char* node, const char* service, const struct addrinfo* hints,
                struct addrinfo** res);
int getnameinfo(const struct sockaddr* addr, socklen_t addrlen, char* host, socklen_t hostlen,
                char* serv, socklen_t servlen, int flags);
struct hostent* gethostbyname(const char* name);
int gethostbyname_r(const char* name, struct hostent* ret, char* buf, size_t buflen,
                    struct hostent** result, int* h_errnop);
}  // namespace original

}  // namespace grove::compat
