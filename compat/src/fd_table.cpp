#include "real.hpp"
#include "state.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <dirent.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <termios.h>

namespace grove::compat::detail {

void FdState::set_kind(Kind k) noexcept {
  std::uint32_t old = bits.load(std::memory_order_relaxed);
  while (!bits.compare_exchange_weak(old, (old & ~kKindMask) | std::uint32_t(k),
                                     std::memory_order_relaxed)) {
  }
}

void FdState::set_user_nonblock(bool nb) noexcept {
  std::uint32_t old = bits.load(std::memory_order_relaxed);
  std::uint32_t want;
  do {
    want = (old & ~kUserNb) | kNbKnown | (nb ? kUserNb : 0);
  } while (!bits.compare_exchange_weak(old, want, std::memory_order_relaxed));
}

void FdState::reset(std::uint32_t new_bits) noexcept {
  rcvtimeo_ns.store(0, std::memory_order_relaxed);
  sndtimeo_ns.store(0, std::memory_order_relaxed);
  bits.store(new_bits, std::memory_order_relaxed);
}

void FdState::copy_from(const FdState& other) noexcept {
  rcvtimeo_ns.store(other.rcvtimeo_ns.load(std::memory_order_relaxed), std::memory_order_relaxed);
  sndtimeo_ns.store(other.sndtimeo_ns.load(std::memory_order_relaxed), std::memory_order_relaxed);
  // The duplicate was created by this process after patching: not inherited, whatever the
  // original was. Its O_NONBLOCK is the original's (it lives in the shared description).
  bits.store(other.bits.load(std::memory_order_relaxed) & ~(kInherited | kGroveNb),
             std::memory_order_relaxed);
}

namespace {

constexpr int kChunkBits = 10;
constexpr int kChunkSize = 1 << kChunkBits;
constexpr int kChunks = kMaxTrackedFd / kChunkSize;

// Chunks are allocated on first use and never freed: fd numbers are dense and small, and a
// reader may hold a pointer into a chunk at any time.
std::atomic<FdState*> g_chunks[kChunks];

std::int64_t timeval_ns(const timeval& tv) {
  return std::int64_t(tv.tv_sec) * 1'000'000'000 + std::int64_t(tv.tv_usec) * 1000;
}

std::int64_t socket_timeout(int fd, int opt) {
  timeval tv{};
  socklen_t len = sizeof tv;
  if (::getsockopt(fd, SOL_SOCKET, opt, &tv, &len) != 0) return 0;
  return timeval_ns(tv);
}

}  // namespace

FdState* fd_state(int fd) noexcept {
  if (fd < 0 || fd >= kMaxTrackedFd) return nullptr;
  std::atomic<FdState*>& slot = g_chunks[fd >> kChunkBits];
  FdState* chunk = slot.load(std::memory_order_acquire);
  if (!chunk) {
    // calloc: zero bits mean Kind::unknown, nothing known. (std::atomic of integers is
    // valid when zero-filled on this platform; the chunk is published with release.)
    auto* fresh = static_cast<FdState*>(std::calloc(kChunkSize, sizeof(FdState)));
    if (!fresh) return nullptr;
    if (slot.compare_exchange_strong(chunk, fresh, std::memory_order_acq_rel)) {
      chunk = fresh;
    } else {
      std::free(fresh);
    }
  }
  return &chunk[fd & (kChunkSize - 1)];
}

void classify(int fd, FdState& s) noexcept {
  int saved = errno;
  struct stat st;
  Kind kind = Kind::unknown;
  if (::fstat(fd, &st) == 0) {
    switch (st.st_mode & S_IFMT) {
      case S_IFSOCK: {
        int type = 0;
        socklen_t len = sizeof type;
        if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_STREAM)
          kind = Kind::stream;
        else kind = Kind::socket;
        s.rcvtimeo_ns.store(socket_timeout(fd, SO_RCVTIMEO), std::memory_order_relaxed);
        s.sndtimeo_ns.store(socket_timeout(fd, SO_SNDTIMEO), std::memory_order_relaxed);
        s.set(FdState::kTimeouts);
        break;
      }
      case S_IFIFO: kind = Kind::pollable; break;
      case S_IFCHR: {
        termios t;
        // A tty is shared with the shell and the user at the keyboard: pass through.
        kind = real::ioctl(fd, TCGETS, &t) == 0 ? Kind::passthrough : Kind::pollable;
        break;
      }
      case S_IFREG:
      case S_IFDIR:
      case S_IFBLK:
      case S_IFLNK: kind = Kind::passthrough; break;
      default:
        // Anonymous inodes (eventfd, timerfd, signalfd, epoll, inotify) have no file type
        // and can all be polled.
        kind = Kind::pollable;
        break;
    }
  }
  s.set_kind(kind);
  errno = saved;
}

FdState* classified(int fd, FdState& scratch) noexcept {
  FdState* s = fd_state(fd);
  if (!s) s = &scratch;
  if (s->kind() == Kind::unknown) classify(fd, *s);
  return s;
}

bool user_nonblock(int fd, FdState& s) noexcept {
  std::uint32_t b = s.bits.load(std::memory_order_relaxed);
  if (b & FdState::kNbKnown) return (b & FdState::kUserNb) != 0;
  int saved = errno;
  int fl = real::fcntl(fd, F_GETFL, nullptr);
  errno = saved;
  if (fl < 0) return false;
  bool nb = (fl & O_NONBLOCK) != 0;
  s.set_user_nonblock(nb);
  return nb;
}

void mark_inherited_fds() noexcept {
  int saved = errno;
  if (DIR* d = ::opendir("/proc/self/fd")) {
    int self = ::dirfd(d);
    while (dirent* e = ::readdir(d)) {
      if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
      int fd = std::atoi(e->d_name);
      if (fd == self) continue;
      if (FdState* s = fd_state(fd)) s->reset(FdState::kInherited);
    }
    ::closedir(d);
  } else {
    for (int fd = 0; fd < 4096; ++fd)
      if (real::fcntl(fd, F_GETFD, nullptr) >= 0)
        if (FdState* s = fd_state(fd)) s->reset(FdState::kInherited);
  }
  errno = saved;
}

}  // namespace grove::compat::detail
