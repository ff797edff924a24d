#include "real.hpp"

#include <grove/compat.hpp>

#include <cerrno>
#include <cstdarg>
#include <cstdlib>
#include <cstring>

#include <dlfcn.h>
#include <sys/syscall.h>

namespace grove::compat::detail::real {
namespace {

// When dlsym cannot find the next definition (a fully static link, or a call that arrives
// before the dynamic linker can answer), the plain fd calls still work through syscall().
long sys(long n, long a = 0, long b = 0, long c = 0, long d = 0, long e = 0, long f = 0) {
  return ::syscall(n, a, b, c, d, e, f);
}
#define L(x) reinterpret_cast<long>(x)
ssize_t sys_read(int fd, void* b, size_t n) { return sys(SYS_read, fd, L(b), long(n)); }
ssize_t sys_write(int fd, const void* b, size_t n) { return sys(SYS_write, fd, L(b), long(n)); }
ssize_t sys_readv(int fd, const iovec* v, int c) { return sys(SYS_readv, fd, L(v), c); }
ssize_t sys_writev(int fd, const iovec* v, int c) { return sys(SYS_writev, fd, L(v), c); }
int sys_close(int fd) { return int(sys(SYS_close, fd)); }
ssize_t sys_recv(int fd, void* b, size_t n, int f) {
  return sys(SYS_recvfrom, fd, L(b), long(n), f, 0, 0);
}
ssize_t sys_send(int fd, const void* b, size_t n, int f) {
  return sys(SYS_sendto, fd, L(b), long(n), f, 0, 0);
}
ssize_t sys_recvmsg(int fd, msghdr* m, int f) { return sys(SYS_recvmsg, fd, L(m), f); }
ssize_t sys_sendmsg(int fd, const msghdr* m, int f) { return sys(SYS_sendmsg, fd, L(m), f); }
int sys_accept4(int fd, sockaddr* a, socklen_t* l, int f) {
  return int(sys(SYS_accept4, fd, L(a), L(l), f));
}
int sys_connect(int fd, const sockaddr* a, socklen_t l) {
  return int(sys(SYS_connect, fd, L(a), long(l)));
}
int sys_shutdown(int fd, int how) { return int(sys(SYS_shutdown, fd, how)); }
int sys_dup(int fd) { return int(sys(SYS_dup, fd)); }
int sys_dup3(int fd, int fd2, int f) { return int(sys(SYS_dup3, fd, fd2, f)); }
int sys_fcntl(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  return int(sys(SYS_fcntl, fd, cmd, L(arg)));
}
int sys_ioctl(int fd, unsigned long req, ...) {
  va_list ap;
  va_start(ap, req);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  return int(sys(SYS_ioctl, fd, long(req), L(arg)));
}
#undef L

void* fallback(const char* name) {
  struct Entry {
    const char* name;
    void* fn;
  };
  static const Entry table[] = {
      {"read", reinterpret_cast<void*>(&sys_read)},
      {"write", reinterpret_cast<void*>(&sys_write)},
      {"readv", reinterpret_cast<void*>(&sys_readv)},
      {"writev", reinterpret_cast<void*>(&sys_writev)},
      {"close", reinterpret_cast<void*>(&sys_close)},
      {"recv", reinterpret_cast<void*>(&sys_recv)},
      {"send", reinterpret_cast<void*>(&sys_send)},
      {"recvmsg", reinterpret_cast<void*>(&sys_recvmsg)},
      {"sendmsg", reinterpret_cast<void*>(&sys_sendmsg)},
      {"accept4", reinterpret_cast<void*>(&sys_accept4)},
      {"connect", reinterpret_cast<void*>(&sys_connect)},
      {"shutdown", reinterpret_cast<void*>(&sys_shutdown)},
      {"dup", reinterpret_cast<void*>(&sys_dup)},
      {"dup3", reinterpret_cast<void*>(&sys_dup3)},
      {"fcntl", reinterpret_cast<void*>(&sys_fcntl)},
      {"fcntl64", reinterpret_cast<void*>(&sys_fcntl)},
      {"ioctl", reinterpret_cast<void*>(&sys_ioctl)},
  };
  for (const Entry& e : table)
    if (std::strcmp(e.name, name) == 0) return e.fn;
  return nullptr;
}

[[noreturn]] void missing(const char* name) {
  static const char head[] = "grove: compat: cannot find the real '";
  static const char tail[] =
      "' after grove's definition (dlsym(RTLD_NEXT) failed). grove_compat must be linked "
      "into a dynamically linked executable; see docs/compat.md.\n";
  sys_write(2, head, sizeof head - 1);
  sys_write(2, name, std::strlen(name));
  sys_write(2, tail, sizeof tail - 1);
  std::abort();
}

void* lookup(const char* name) noexcept {
  // Pass-through must leave errno exactly as libc does; dlsym may touch it.
  int saved = errno;
  void* p = ::dlsym(RTLD_NEXT, name);
  if (!p) p = fallback(name);
  errno = saved;
  if (!p) missing(name);
  return p;
}

}  // namespace

#define GROVE_COMPAT_DEFINE_REAL(name, ret, params, args)            \
  namespace {                                                        \
  ret name##_first params {                                          \
    auto grove_real_fn = reinterpret_cast<name##_fn>(lookup(#name)); \
    name##_ptr.store(grove_real_fn, std::memory_order_relaxed);      \
    return grove_real_fn args;                                       \
  }                                                                  \
  }                                                                  \
  std::atomic<name##_fn> name##_ptr{&name##_first};
GROVE_COMPAT_REAL_FUNCTIONS(GROVE_COMPAT_DEFINE_REAL)
#undef GROVE_COMPAT_DEFINE_REAL

namespace {
int fcntl_first(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  auto p = reinterpret_cast<fcntl_fn>(lookup("fcntl"));
  fcntl_ptr.store(p, std::memory_order_relaxed);
  return p(fd, cmd, arg);
}
int fcntl64_first(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  auto p = reinterpret_cast<fcntl_fn>(lookup("fcntl64"));
  fcntl64_ptr.store(p, std::memory_order_relaxed);
  return p(fd, cmd, arg);
}
int ioctl_first(int fd, unsigned long req, ...) {
  va_list ap;
  va_start(ap, req);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  auto p = reinterpret_cast<ioctl_fn>(lookup("ioctl"));
  ioctl_ptr.store(p, std::memory_order_relaxed);
  return p(fd, req, arg);
}
}  // namespace
std::atomic<fcntl_fn> fcntl_ptr{&fcntl_first};
std::atomic<fcntl_fn> fcntl64_ptr{&fcntl64_first};
std::atomic<ioctl_fn> ioctl_ptr{&ioctl_first};

}  // namespace grove::compat::detail::real

// --- grove::compat::original -------------------------------------------------------------
namespace grove::compat::original {
namespace r = detail::real;
ssize_t read(int fd, void* buf, size_t n) { return r::read(fd, buf, n); }
ssize_t write(int fd, const void* buf, size_t n) { return r::write(fd, buf, n); }
ssize_t readv(int fd, const iovec* iov, int c) { return r::readv(fd, iov, c); }
ssize_t writev(int fd, const iovec* iov, int c) { return r::writev(fd, iov, c); }
ssize_t recv(int fd, void* buf, size_t n, int f) { return r::recv(fd, buf, n, f); }
ssize_t recvfrom(int fd, void* buf, size_t n, int f, sockaddr* a, socklen_t* l) {
  return r::recvfrom(fd, buf, n, f, a, l);
}
ssize_t recvmsg(int fd, msghdr* m, int f) { return r::recvmsg(fd, m, f); }
ssize_t send(int fd, const void* buf, size_t n, int f) { return r::send(fd, buf, n, f); }
ssize_t sendto(int fd, const void* buf, size_t n, int f, const sockaddr* a, socklen_t l) {
  return r::sendto(fd, buf, n, f, a, l);
}
ssize_t sendmsg(int fd, const msghdr* m, int f) { return r::sendmsg(fd, m, f); }
int accept(int fd, sockaddr* a, socklen_t* l) { return r::accept(fd, a, l); }
int accept4(int fd, sockaddr* a, socklen_t* l, int f) { return r::accept4(fd, a, l, f); }
int connect(int fd, const sockaddr* a, socklen_t l) { return r::connect(fd, a, l); }
int close(int fd) { return r::close(fd); }
int shutdown(int fd, int how) { return r::shutdown(fd, how); }
int dup(int fd) { return r::dup(fd); }
int dup2(int fd, int fd2) { return r::dup2(fd, fd2); }
int dup3(int fd, int fd2, int f) { return r::dup3(fd, fd2, f); }
int fcntl(int fd, int cmd, long arg) { return r::fcntl(fd, cmd, reinterpret_cast<void*>(arg)); }
int ioctl(int fd, unsigned long req, void* arg) { return r::ioctl(fd, req, arg); }
int poll(pollfd* fds, nfds_t n, int t) { return r::poll(fds, n, t); }
int ppoll(pollfd* fds, nfds_t n, const timespec* t, const sigset_t* s) {
  return r::ppoll(fds, n, t, s);
}
int select(int n, fd_set* rd, fd_set* wr, fd_set* ex, timeval* t) {
  return r::select(n, rd, wr, ex, t);
}
int pselect(int n, fd_set* rd, fd_set* wr, fd_set* ex, const timespec* t, const sigset_t* s) {
  return r::pselect(n, rd, wr, ex, t, s);
}
unsigned sleep(unsigned s) { return r::sleep(s); }
int usleep(useconds_t u) { return r::usleep(u); }
int nanosleep(const timespec* req, timespec* rem) { return r::nanosleep(req, rem); }
int clock_nanosleep(clockid_t c, int f, const timespec* req, timespec* rem) {
  return r::clock_nanosleep(c, f, req, rem);
}
int getaddrinfo(const char* node, const char* service, const addrinfo* hints, addrinfo** res) {
  return r::getaddrinfo(node, service, hints, res);
}
int getnameinfo(const sockaddr* a, socklen_t l, char* h, socklen_t hl, char* s, socklen_t sl,
                int f) {
  return r::getnameinfo(a, l, h, hl, s, sl, f);
}
hostent* gethostbyname(const char* name) { return r::gethostbyname(name); }
int gethostbyname_r(const char* name, hostent* ret, char* buf, size_t len, hostent** result,
                    int* h_errnop) {
  return r::gethostbyname_r(name, ret, buf, len, result, h_errnop);
}
}  // namespace grove::compat::original
