// The real libc functions behind grove's interposers, resolved with dlsym(RTLD_NEXT) on first
// use. Each pointer starts at a trampoline that resolves it, stores it and calls it, so the
// steady state is one relaxed load and an indirect tail call. RTLD_NEXT from the executable
// finds the next definition in lookup order: libc's, or a sanitizer runtime's interceptor,
// which then reaches libc. grove's own code must call these, never the plain names (those
// are grove's interposers).
#pragma once

#include <atomic>
#include <cstddef>

#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

// X(name, return type, (parameters), (arguments))
#define GROVE_COMPAT_REAL_FUNCTIONS(X)                                                            \
  X(read, ssize_t, (int fd, void* b, size_t n), (fd, b, n))                                       \
  X(write, ssize_t, (int fd, const void* b, size_t n), (fd, b, n))                                \
  X(readv, ssize_t, (int fd, const struct iovec* v, int c), (fd, v, c))                           \
  X(writev, ssize_t, (int fd, const struct iovec* v, int c), (fd, v, c))                          \
  X(recv, ssize_t, (int fd, void* b, size_t n, int f), (fd, b, n, f))                             \
  X(recvfrom, ssize_t, (int fd, void* b, size_t n, int f, struct sockaddr* a, socklen_t* l),      \
    (fd, b, n, f, a, l))                                                                          \
  X(recvmsg, ssize_t, (int fd, struct msghdr* m, int f), (fd, m, f))                              \
  X(send, ssize_t, (int fd, const void* b, size_t n, int f), (fd, b, n, f))                       \
  X(sendto, ssize_t,                                                                              \
    (int fd, const void* b, size_t n, int f, const struct sockaddr* a, socklen_t l),              \
    (fd, b, n, f, a, l))                                                                          \
  X(sendmsg, ssize_t, (int fd, const struct msghdr* m, int f), (fd, m, f))                        \
  X(accept, int, (int fd, struct sockaddr* a, socklen_t* l), (fd, a, l))                          \
  X(accept4, int, (int fd, struct sockaddr* a, socklen_t* l, int f), (fd, a, l, f))               \
  X(connect, int, (int fd, const struct sockaddr* a, socklen_t l), (fd, a, l))                    \
  X(close, int, (int fd), (fd))                                                                   \
  X(shutdown, int, (int fd, int how), (fd, how))                                                  \
  X(dup, int, (int fd), (fd))                                                                     \
  X(dup2, int, (int fd, int fd2), (fd, fd2))                                                      \
  X(dup3, int, (int fd, int fd2, int f), (fd, fd2, f))                                            \
  X(socket, int, (int d, int t, int p), (d, t, p))                                                \
  X(socketpair, int, (int d, int t, int p, int* sv), (d, t, p, sv))                               \
  X(pipe, int, (int* p), (p))                                                                     \
  X(pipe2, int, (int* p, int f), (p, f))                                                          \
  X(setsockopt, int, (int fd, int l, int o, const void* v, socklen_t n), (fd, l, o, v, n))        \
  X(poll, int, (struct pollfd * f, nfds_t n, int t), (f, n, t))                                   \
  X(ppoll, int, (struct pollfd * f, nfds_t n, const struct timespec* t, const sigset_t* s),       \
    (f, n, t, s))                                                                                 \
  X(select, int, (int n, fd_set* r, fd_set* w, fd_set* e, struct timeval* t), (n, r, w, e, t))    \
  X(pselect, int,                                                                                 \
    (int n, fd_set* r, fd_set* w, fd_set* e, const struct timespec* t, const sigset_t* s),        \
    (n, r, w, e, t, s))                                                                           \
  X(epoll_wait, int, (int fd, struct epoll_event* e, int m, int t), (fd, e, m, t))                \
  X(epoll_pwait, int, (int fd, struct epoll_event* e, int m, int t, const sigset_t* s),           \
    (fd, e, m, t, s))                                                                             \
  X(sleep, unsigned, (unsigned s), (s))                                                           \
  X(usleep, int, (useconds_t u), (u))                                                             \
  X(nanosleep, int, (const struct timespec* r, struct timespec* m), (r, m))                       \
  X(clock_nanosleep, int, (clockid_t c, int f, const struct timespec* r, struct timespec* m),     \
    (c, f, r, m))                                                                                 \
  X(getaddrinfo, int,                                                                             \
    (const char* n, const char* s, const struct addrinfo* h, struct addrinfo** r), (n, s, h, r))  \
  X(getnameinfo, int,                                                                             \
    (const struct sockaddr* a, socklen_t l, char* h, socklen_t hl, char* s, socklen_t sl, int f), \
    (a, l, h, hl, s, sl, f))                                                                      \
  X(gethostbyname, struct hostent*, (const char* n), (n))                                         \
  X(gethostbyname2, struct hostent*, (const char* n, int af), (n, af))                            \
  X(gethostbyname_r, int,                                                                         \
    (const char* n, struct hostent* r, char* b, size_t bl, struct hostent** res, int* e),         \
    (n, r, b, bl, res, e))                                                                        \
  X(gethostbyname2_r, int,                                                                        \
    (const char* n, int af, struct hostent* r, char* b, size_t bl, struct hostent** res, int* e), \
    (n, af, r, b, bl, res, e))                                                                    \
  X(__read_chk, ssize_t, (int fd, void* b, size_t n, size_t bl), (fd, b, n, bl))                  \
  X(__recv_chk, ssize_t, (int fd, void* b, size_t n, size_t bl, int f), (fd, b, n, bl, f))        \
  X(__recvfrom_chk, ssize_t,                                                                      \
    (int fd, void* b, size_t n, size_t bl, int f, struct sockaddr* a, socklen_t* l),              \
    (fd, b, n, bl, f, a, l))                                                                      \
  X(__poll_chk, int, (struct pollfd * f, nfds_t n, int t, size_t fl), (f, n, t, fl))              \
  X(__ppoll_chk, int,                                                                             \
    (struct pollfd * f, nfds_t n, const struct timespec* t, const sigset_t* s, size_t fl),        \
    (f, n, t, s, fl))

namespace grove::compat::detail::real {

#define GROVE_COMPAT_DECLARE_REAL(name, ret, params, args) \
  using name##_fn = ret(*) params;                         \
  extern std::atomic<name##_fn> name##_ptr;                \
  inline ret name params { return name##_ptr.load(std::memory_order_relaxed) args; }
GROVE_COMPAT_REAL_FUNCTIONS(GROVE_COMPAT_DECLARE_REAL)
#undef GROVE_COMPAT_DECLARE_REAL

// The variadic ones: the third argument is forwarded as glibc itself reads it (void*).
using fcntl_fn = int (*)(int, int, ...);
using ioctl_fn = int (*)(int, unsigned long, ...);
extern std::atomic<fcntl_fn> fcntl_ptr;
extern std::atomic<fcntl_fn> fcntl64_ptr;
extern std::atomic<ioctl_fn> ioctl_ptr;
inline int fcntl(int fd, int cmd, void* arg) {
  return fcntl_ptr.load(std::memory_order_relaxed)(fd, cmd, arg);
}
inline int fcntl64(int fd, int cmd, void* arg) {
  return fcntl64_ptr.load(std::memory_order_relaxed)(fd, cmd, arg);
}
inline int ioctl(int fd, unsigned long request, void* arg) {
  return ioctl_ptr.load(std::memory_order_relaxed)(fd, request, arg);
}

// The names grove interposes, for the self-check and the docs.
struct Interposed {
  const char* name;
  void* ours;  // grove's definition, by a local (non-interposable) reference
};
// Filled in by the interposers' translation unit.
extern const Interposed interposed[];
extern const std::size_t interposed_count;

}  // namespace grove::compat::detail::real
