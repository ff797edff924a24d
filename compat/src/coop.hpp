// The cooperative implementations behind the interposers. Each is entered only when the
// relevant part is patched; each checks in_green() itself where the interposer did not.
#pragma once

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

namespace grove::compat::detail::coop {

// In a green thread (interposer checked).
ssize_t read(int fd, void* buf, size_t n);
ssize_t write(int fd, const void* buf, size_t n);
ssize_t readv(int fd, const iovec* iov, int iovcnt);
ssize_t writev(int fd, const iovec* iov, int iovcnt);
ssize_t recvfrom(int fd, void* buf, size_t n, int flags, sockaddr* addr, socklen_t* len,
                 bool plain_recv);
ssize_t recvmsg(int fd, msghdr* msg, int flags);
ssize_t sendto(int fd, const void* buf, size_t n, int flags, const sockaddr* addr, socklen_t len,
               bool plain_send);
ssize_t sendmsg(int fd, const msghdr* msg, int flags);
int connect(int fd, const sockaddr* addr, socklen_t len);
int poll(pollfd* fds, nfds_t n, const timespec* timeout);
int select(int n, fd_set* r, fd_set* w, fd_set* e, timeval* tv, const timespec* ts);
int epoll_wait(int epfd, epoll_event* events, int max, int timeout_ms);
int nanosleep_for(clockid_t clock, int flags, const timespec* req, timespec* rem);
int getaddrinfo(const char* node, const char* service, const addrinfo* hints, addrinfo** res);
int getnameinfo(const sockaddr* a, socklen_t l, char* h, socklen_t hl, char* s, socklen_t sl,
                int f);
int gethostbyname_r(const char* name, int af, hostent* ret, char* buf, size_t len, hostent** result,
                    int* h_errnop);
hostent* gethostbyname(const char* name, int af);

// Whenever socket or os is patched (in a green thread or not): track, and wake waiters.
int accept4(int fd, sockaddr* addr, socklen_t* len, int flags, bool plain_accept);
int close(int fd);
int dup(int fd);
int dup3(int fd, int fd2, int flags, bool plain_dup2);
int fcntl(int fd, int cmd, void* arg, bool is64);
int ioctl(int fd, unsigned long request, void* arg);
int socket(int domain, int type, int protocol);
int socketpair(int domain, int type, int protocol, int* sv);
int pipe2(int* fds, int flags, bool plain_pipe);
int setsockopt(int fd, int level, int opt, const void* value, socklen_t len);

// The one-time warning that a signal mask given to ppoll/pselect/epoll_pwait is ignored.
void warn_sigmask(const char* call);
// A one-time warning for something the patch cannot do (id "compat.<what>").
void unsupported(const char* what, const char* message);

}  // namespace grove::compat::detail::coop
