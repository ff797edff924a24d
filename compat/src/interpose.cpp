// libc's blocking entry points, defined in front of libc.
//
// This translation unit is the one the link must keep (CMake adds
// -Wl,--undefined=grove_compat_interposers to everything that links grove::compat): an
// executable that defines these names exports them, and the dynamic linker then binds every
// shared library's calls (libcurl's, libstdc++'s nanosleep) to them.
//
// The pass-through path is one relaxed load of the patched set (and, when patched, one
// "in a green thread?" check), then a tail call of the real function: same result, same
// errno, nothing else touched.
#include "coop.hpp"
#include "real.hpp"
#include "state.hpp"

#include <grove/compat.hpp>

#include <cerrno>
#include <cstdarg>
#include <cstdlib>
#include <cstring>

#include <fcntl.h>
#include <sys/ioctl.h>

#define GROVE_EXPORT __attribute__((visibility("default")))
#define GROVE_UNLIKELY(x) __builtin_expect(!!(x), 0)

namespace {
namespace d = grove::compat::detail;
namespace real = grove::compat::detail::real;
namespace coop = grove::compat::detail::coop;
using d::cooperative;
using d::kIo;
using d::patched_any;
using grove::compat::Patch;

constexpr unsigned kSocket = unsigned(Patch::socket);
constexpr unsigned kTime = unsigned(Patch::time);
constexpr unsigned kSelect = unsigned(Patch::select);
constexpr unsigned kDns = unsigned(Patch::dns);

timespec ms_to_timespec(int ms) { return timespec{time_t(ms / 1000), long(ms % 1000) * 1'000'000}; }
}  // namespace

extern "C" {

// The symbol the link keeps on purpose; see above.
extern GROVE_EXPORT const char grove_compat_interposers[];
const char grove_compat_interposers[] = "grove_compat";

// --- reads and writes --------------------------------------------------------------------------

GROVE_EXPORT ssize_t read(int fd, void* buf, size_t n) {
  if (GROVE_UNLIKELY(cooperative(kIo))) return coop::read(fd, buf, n);
  return real::read(fd, buf, n);
}

GROVE_EXPORT ssize_t write(int fd, const void* buf, size_t n) {
  if (GROVE_UNLIKELY(cooperative(kIo))) return coop::write(fd, buf, n);
  return real::write(fd, buf, n);
}

GROVE_EXPORT ssize_t readv(int fd, const struct iovec* iov, int iovcnt) {
  if (GROVE_UNLIKELY(cooperative(kIo))) return coop::readv(fd, iov, iovcnt);
  return real::readv(fd, iov, iovcnt);
}

GROVE_EXPORT ssize_t writev(int fd, const struct iovec* iov, int iovcnt) {
  if (GROVE_UNLIKELY(cooperative(kIo))) return coop::writev(fd, iov, iovcnt);
  return real::writev(fd, iov, iovcnt);
}

GROVE_EXPORT ssize_t recv(int fd, void* buf, size_t n, int flags) {
  if (GROVE_UNLIKELY(cooperative(kSocket)))
    return coop::recvfrom(fd, buf, n, flags, nullptr, nullptr, true);
  return real::recv(fd, buf, n, flags);
}

GROVE_EXPORT ssize_t recvfrom(int fd, void* buf, size_t n, int flags, struct sockaddr* addr,
                              socklen_t* addrlen) {
  if (GROVE_UNLIKELY(cooperative(kSocket)))
    return coop::recvfrom(fd, buf, n, flags, addr, addrlen, false);
  return real::recvfrom(fd, buf, n, flags, addr, addrlen);
}

GROVE_EXPORT ssize_t recvmsg(int fd, struct msghdr* msg, int flags) {
  if (GROVE_UNLIKELY(cooperative(kSocket))) return coop::recvmsg(fd, msg, flags);
  return real::recvmsg(fd, msg, flags);
}

GROVE_EXPORT ssize_t send(int fd, const void* buf, size_t n, int flags) {
  if (GROVE_UNLIKELY(cooperative(kSocket)))
    return coop::sendto(fd, buf, n, flags, nullptr, 0, true);
  return real::send(fd, buf, n, flags);
}

GROVE_EXPORT ssize_t sendto(int fd, const void* buf, size_t n, int flags,
                            const struct sockaddr* addr, socklen_t addrlen) {
  if (GROVE_UNLIKELY(cooperative(kSocket)))
    return coop::sendto(fd, buf, n, flags, addr, addrlen, false);
  return real::sendto(fd, buf, n, flags, addr, addrlen);
}

GROVE_EXPORT ssize_t sendmsg(int fd, const struct msghdr* msg, int flags) {
  if (GROVE_UNLIKELY(cooperative(kSocket))) return coop::sendmsg(fd, msg, flags);
  return real::sendmsg(fd, msg, flags);
}

// _FORTIFY_SOURCE turns calls with a known buffer size into these (libcurl is built so).
GROVE_EXPORT ssize_t __read_chk(int fd, void* buf, size_t n, size_t buflen) {
  if (GROVE_UNLIKELY(cooperative(kIo)) && n <= buflen) return coop::read(fd, buf, n);
  return real::__read_chk(fd, buf, n, buflen);
}

GROVE_EXPORT ssize_t __recv_chk(int fd, void* buf, size_t n, size_t buflen, int flags) {
  if (GROVE_UNLIKELY(cooperative(kSocket)) && n <= buflen)
    return coop::recvfrom(fd, buf, n, flags, nullptr, nullptr, true);
  return real::__recv_chk(fd, buf, n, buflen, flags);
}

GROVE_EXPORT ssize_t __recvfrom_chk(int fd, void* buf, size_t n, size_t buflen, int flags,
                                    struct sockaddr* addr, socklen_t* addrlen) {
  if (GROVE_UNLIKELY(cooperative(kSocket)) && n <= buflen)
    return coop::recvfrom(fd, buf, n, flags, addr, addrlen, false);
  return real::__recvfrom_chk(fd, buf, n, buflen, flags, addr, addrlen);
}

// --- connections ---------------------------------------------------------------------------------

GROVE_EXPORT int accept(int fd, struct sockaddr* addr, socklen_t* addrlen) {
  if (GROVE_UNLIKELY(patched_any(kIo))) return coop::accept4(fd, addr, addrlen, 0, true);
  return real::accept(fd, addr, addrlen);
}

GROVE_EXPORT int accept4(int fd, struct sockaddr* addr, socklen_t* addrlen, int flags) {
  if (GROVE_UNLIKELY(patched_any(kIo))) return coop::accept4(fd, addr, addrlen, flags, false);
  return real::accept4(fd, addr, addrlen, flags);
}

GROVE_EXPORT int connect(int fd, const struct sockaddr* addr, socklen_t addrlen) {
  if (GROVE_UNLIKELY(cooperative(kSocket))) return coop::connect(fd, addr, addrlen);
  return real::connect(fd, addr, addrlen);
}

GROVE_EXPORT int shutdown(int fd, int how) noexcept {
  // Nothing to do: shutdown() makes the fd ready, so green threads waiting on it wake up
  // and see EOF or EPIPE by themselves. Interposed so the contract is explicit.
  return real::shutdown(fd, how);
}

// --- the lives of fds --------------------------------------------------------------------------

GROVE_EXPORT int close(int fd) {
  if (GROVE_UNLIKELY(patched_any(kIo))) return coop::close(fd);
  return real::close(fd);
}

GROVE_EXPORT int dup(int fd) noexcept {
  if (GROVE_UNLIKELY(patched_any(kIo))) return coop::dup(fd);
  return real::dup(fd);
}

GROVE_EXPORT int dup2(int fd, int fd2) noexcept {
  if (GROVE_UNLIKELY(patched_any(kIo))) return coop::dup3(fd, fd2, 0, true);
  return real::dup2(fd, fd2);
}

GROVE_EXPORT int dup3(int fd, int fd2, int flags) noexcept {
  if (GROVE_UNLIKELY(patched_any(kIo))) return coop::dup3(fd, fd2, flags, false);
  return real::dup3(fd, fd2, flags);
}

GROVE_EXPORT int fcntl(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  if (GROVE_UNLIKELY(patched_any(kIo))) return coop::fcntl(fd, cmd, arg, false);
  return real::fcntl(fd, cmd, arg);
}

GROVE_EXPORT int fcntl64(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  if (GROVE_UNLIKELY(patched_any(kIo))) return coop::fcntl(fd, cmd, arg, true);
  return real::fcntl64(fd, cmd, arg);
}

GROVE_EXPORT int ioctl(int fd, unsigned long request, ...) noexcept {
  va_list ap;
  va_start(ap, request);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  if (GROVE_UNLIKELY(patched_any(kIo))) return coop::ioctl(fd, request, arg);
  return real::ioctl(fd, request, arg);
}

GROVE_EXPORT int socket(int domain, int type, int protocol) noexcept {
  if (GROVE_UNLIKELY(patched_any(kIo))) return coop::socket(domain, type, protocol);
  return real::socket(domain, type, protocol);
}

GROVE_EXPORT int socketpair(int domain, int type, int protocol, int* sv) noexcept {
  if (GROVE_UNLIKELY(patched_any(kIo))) return coop::socketpair(domain, type, protocol, sv);
  return real::socketpair(domain, type, protocol, sv);
}

GROVE_EXPORT int pipe(int* fds) noexcept {
  if (GROVE_UNLIKELY(patched_any(kIo))) return coop::pipe2(fds, 0, true);
  return real::pipe(fds);
}

GROVE_EXPORT int pipe2(int* fds, int flags) noexcept {
  if (GROVE_UNLIKELY(patched_any(kIo))) return coop::pipe2(fds, flags, false);
  return real::pipe2(fds, flags);
}

GROVE_EXPORT int setsockopt(int fd, int level, int opt, const void* value, socklen_t len) noexcept {
  if (GROVE_UNLIKELY(patched_any(kIo))) return coop::setsockopt(fd, level, opt, value, len);
  return real::setsockopt(fd, level, opt, value, len);
}

// --- waiting on several fds ----------------------------------------------------------------------

GROVE_EXPORT int poll(struct pollfd* fds, nfds_t n, int timeout) {
  if (GROVE_UNLIKELY(cooperative(kSelect))) {
    timespec ts = ms_to_timespec(timeout);
    return coop::poll(fds, n, timeout < 0 ? nullptr : &ts);
  }
  return real::poll(fds, n, timeout);
}

GROVE_EXPORT int __poll_chk(struct pollfd* fds, nfds_t n, int timeout, size_t fdslen) {
  if (GROVE_UNLIKELY(cooperative(kSelect)) && fdslen / sizeof(*fds) >= n) {
    timespec ts = ms_to_timespec(timeout);
    return coop::poll(fds, n, timeout < 0 ? nullptr : &ts);
  }
  return real::__poll_chk(fds, n, timeout, fdslen);
}

GROVE_EXPORT int ppoll(struct pollfd* fds, nfds_t n, const struct timespec* timeout,
                       const sigset_t* sigmask) {
  if (GROVE_UNLIKELY(cooperative(kSelect)) &&
      (!timeout ||
       (timeout->tv_nsec >= 0 && timeout->tv_nsec < 1'000'000'000 && timeout->tv_sec >= 0))) {
    if (sigmask) coop::warn_sigmask("ppoll");
    return coop::poll(fds, n, timeout);
  }
  return real::ppoll(fds, n, timeout, sigmask);
}

GROVE_EXPORT int __ppoll_chk(struct pollfd* fds, nfds_t n, const struct timespec* timeout,
                             const sigset_t* sigmask, size_t fdslen) {
  if (fdslen / sizeof(*fds) >= n) return ppoll(fds, n, timeout, sigmask);
  return real::__ppoll_chk(fds, n, timeout, sigmask, fdslen);
}

GROVE_EXPORT int select(int n, fd_set* rd, fd_set* wr, fd_set* ex, struct timeval* timeout) {
  if (GROVE_UNLIKELY(cooperative(kSelect))) return coop::select(n, rd, wr, ex, timeout, nullptr);
  return real::select(n, rd, wr, ex, timeout);
}

GROVE_EXPORT int pselect(int n, fd_set* rd, fd_set* wr, fd_set* ex, const struct timespec* timeout,
                         const sigset_t* sigmask) {
  if (GROVE_UNLIKELY(cooperative(kSelect))) {
    if (sigmask) coop::warn_sigmask("pselect");
    if (!timeout) return coop::select(n, rd, wr, ex, nullptr, nullptr);
    return coop::select(n, rd, wr, ex, nullptr, timeout);
  }
  return real::pselect(n, rd, wr, ex, timeout, sigmask);
}

GROVE_EXPORT int epoll_wait(int epfd, struct epoll_event* events, int max, int timeout) {
  if (GROVE_UNLIKELY(cooperative(kSelect)) && max > 0)
    return coop::epoll_wait(epfd, events, max, timeout);
  return real::epoll_wait(epfd, events, max, timeout);
}

GROVE_EXPORT int epoll_pwait(int epfd, struct epoll_event* events, int max, int timeout,
                             const sigset_t* sigmask) {
  if (GROVE_UNLIKELY(cooperative(kSelect)) && max > 0) {
    if (sigmask) coop::warn_sigmask("epoll_pwait");
    return coop::epoll_wait(epfd, events, max, timeout);
  }
  return real::epoll_pwait(epfd, events, max, timeout, sigmask);
}

// --- sleeping ----------------------------------------------------------------------------------

GROVE_EXPORT unsigned sleep(unsigned seconds) {
  if (GROVE_UNLIKELY(cooperative(kTime))) {
    timespec ts{time_t(seconds), 0};
    coop::nanosleep_for(CLOCK_MONOTONIC, 0, &ts, nullptr);
    return 0;
  }
  return real::sleep(seconds);
}

GROVE_EXPORT int usleep(useconds_t usec) {
  if (GROVE_UNLIKELY(cooperative(kTime))) {
    timespec ts{time_t(usec / 1'000'000), long(usec % 1'000'000) * 1000};
    coop::nanosleep_for(CLOCK_MONOTONIC, 0, &ts, nullptr);
    return 0;
  }
  return real::usleep(usec);
}

GROVE_EXPORT int nanosleep(const struct timespec* req, struct timespec* rem) {
  if (GROVE_UNLIKELY(cooperative(kTime))) {
    int err = coop::nanosleep_for(CLOCK_MONOTONIC, 0, req, rem);
    if (err == 0) return 0;
    errno = err;
    return -1;
  }
  return real::nanosleep(req, rem);
}

GROVE_EXPORT int clock_nanosleep(clockid_t clock, int flags, const struct timespec* req,
                                 struct timespec* rem) {
  if (GROVE_UNLIKELY(cooperative(kTime))) return coop::nanosleep_for(clock, flags, req, rem);
  return real::clock_nanosleep(clock, flags, req, rem);
}

// --- name resolution ---------------------------------------------------------------------------

GROVE_EXPORT int getaddrinfo(const char* node, const char* service, const struct addrinfo* hints,
                             struct addrinfo** res) {
  if (GROVE_UNLIKELY(cooperative(kDns)) && res) return coop::getaddrinfo(node, service, hints, res);
  return real::getaddrinfo(node, service, hints, res);
}

GROVE_EXPORT int getnameinfo(const struct sockaddr* addr, socklen_t addrlen, char* host,
                             socklen_t hostlen, char* serv, socklen_t servlen, int flags) {
  if (GROVE_UNLIKELY(cooperative(kDns)))
    return coop::getnameinfo(addr, addrlen, host, hostlen, serv, servlen, flags);
  return real::getnameinfo(addr, addrlen, host, hostlen, serv, servlen, flags);
}

GROVE_EXPORT struct hostent* gethostbyname(const char* name) {
  if (GROVE_UNLIKELY(cooperative(kDns))) return coop::gethostbyname(name, AF_UNSPEC);
  return real::gethostbyname(name);
}

GROVE_EXPORT struct hostent* gethostbyname2(const char* name, int af) {
  if (GROVE_UNLIKELY(cooperative(kDns))) return coop::gethostbyname(name, af);
  return real::gethostbyname2(name, af);
}

GROVE_EXPORT int gethostbyname_r(const char* name, struct hostent* ret, char* buf, size_t buflen,
                                 struct hostent** result, int* h_errnop) {
  if (GROVE_UNLIKELY(cooperative(kDns)) && ret && buf && result)
    return coop::gethostbyname_r(name, AF_UNSPEC, ret, buf, buflen, result, h_errnop);
  return real::gethostbyname_r(name, ret, buf, buflen, result, h_errnop);
}

GROVE_EXPORT int gethostbyname2_r(const char* name, int af, struct hostent* ret, char* buf,
                                  size_t buflen, struct hostent** result, int* h_errnop) {
  if (GROVE_UNLIKELY(cooperative(kDns)) && ret && buf && result)
    return coop::gethostbyname_r(name, af, ret, buf, buflen, result, h_errnop);
  return real::gethostbyname2_r(name, af, ret, buf, buflen, result, h_errnop);
}

}  // extern "C"

// --- the self-check's table: our definitions by hidden aliases, which the dynamic linker
// cannot redirect, so comparing them with dlsym(RTLD_DEFAULT, name) is meaningful. -----------
#define GROVE_COMPAT_LOCAL(name)                      \
  extern "C" decltype(name) grove_compat_local_##name \
      __attribute__((alias(#name), visibility("hidden")));
// The list is kept as written: clang-format 14 wraps it differently on each pass.
// clang-format off
#define GROVE_COMPAT_INTERPOSED_NAMES(X)                                               \
  X(read) X(write) X(readv) X(writev) X(recv)                                          \
  X(recvfrom) X(recvmsg) X(send) X(sendto) X(sendmsg)                                  \
  X(accept) X(accept4) X(connect) X(shutdown) X(close)                                 \
  X(dup) X(dup2) X(dup3) X(fcntl) X(fcntl64)                                           \
  X(ioctl) X(socket) X(socketpair) X(pipe) X(pipe2)                                    \
  X(setsockopt) X(poll) X(ppoll) X(select) X(pselect)                                  \
  X(epoll_wait) X(epoll_pwait) X(sleep) X(usleep) X(nanosleep)                         \
  X(clock_nanosleep) X(getaddrinfo) X(getnameinfo) X(gethostbyname) X(gethostbyname2)  \
  X(gethostbyname_r) X(gethostbyname2_r) X(__read_chk) X(__recv_chk) X(__recvfrom_chk) \
  X(__poll_chk) X(__ppoll_chk)
// clang-format on
GROVE_COMPAT_INTERPOSED_NAMES(GROVE_COMPAT_LOCAL)
#undef GROVE_COMPAT_LOCAL

namespace grove::compat::detail::real {
#define GROVE_COMPAT_ENTRY(name) {#name, reinterpret_cast<void*>(&grove_compat_local_##name)},
const Interposed interposed[] = {GROVE_COMPAT_INTERPOSED_NAMES(GROVE_COMPAT_ENTRY)};
#undef GROVE_COMPAT_ENTRY
const std::size_t interposed_count = sizeof interposed / sizeof interposed[0];
}  // namespace grove::compat::detail::real

// --- GROVE_PATCH ---------------------------------------------------------------------------------
// Read before main(): a program can be patched without a code change, as with gevent's
// `python -m gevent.monkey`.
namespace {
__attribute__((constructor)) void grove_compat_patch_from_environment() {
  const char* env = std::getenv("GROVE_PATCH");
  if (!env || !*env) return;
  try {
    grove::compat::Patch what = grove::compat::parse_patch(env);
    if (what != grove::compat::Patch::none) grove::compat::patch(what);
  } catch (const std::exception& e) {
    grove::compat::warn("compat.bad-grove-patch", std::string("GROVE_PATCH='") + env +
                                                      "' was ignored: " + e.what() +
                                                      ". Set GROVE_PATCH=all, or a list such as "
                                                      "GROVE_PATCH=socket,time.");
  }
}
}  // namespace
