// fd readiness: logical watchers multiplexed per fd, interest changes batched until the
// next poll so that a stop/start pair within one iteration costs no system call.
//
// Registrations are persistent where the engine allows it (Poller::lazy_removal()): interest
// that drops stays registered until the engine reports an event nobody wants, and then the
// registration is fitted to the watchers (libev does the same inside). A green thread's or
// a coroutine's wait on a socket it waited on before therefore costs no registration call:
// the steady state of a keep-alive connection or a database client is recv/send alone.
// The last watcher of a socket leaves its registration behind too, since a watch() of the
// same fd comes next in a wait loop that makes a watcher per wait (aio::wait_readable); the
// fstat that watch() makes anyway tells whether the number still names that socket.
#include "core_loop.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <string>
#include <system_error>

namespace grove::detail {

namespace {
constexpr Events kReadWrite = Events::read | Events::write;

struct stat check_pollable(int fd) {
  const std::string what = "grove: watch(fd=" + std::to_string(fd) + ")";
  struct stat st;
  if (fd < 0 || ::fstat(fd, &st) != 0)
    throw std::system_error(EBADF, std::generic_category(),
                            what +
                                ": not an open file descriptor; open it first and keep "
                                "it open while it is watched");
  if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode))
    throw std::invalid_argument(
        what +
        ": regular files and directories are always ready and cannot be polled; "
        "do the blocking read on a worker thread instead");
  return st;
}
}  // namespace

CoreLoop::FdState& CoreLoop::fd_state(int fd) {
  if (std::size_t(fd) >= fds_.size()) fds_.resize(std::size_t(fd) + 1);
  return fds_[std::size_t(fd)];
}

// Checks fd once per file: a second watcher on an fd that has one needs no fstat (the
// contract asks for close_fd/forget_fd, or closing the watchers, before the fd is closed).
// A registration left behind for another file under this number (closed and reused behind
// the loop's back) is dropped, so the engine learns about the new file.
void CoreLoop::adopt_file(int fd) {
  if (fd >= 0 && std::size_t(fd) < fds_.size() && !fds_[std::size_t(fd)].watchers.empty()) return;
  const struct stat file = check_pollable(fd);
  FdState& st = fd_state(fd);
  const auto dev = std::uint64_t(file.st_dev), ino = std::uint64_t(file.st_ino);
  if (st.registered != Events::none && (st.dev != dev || st.ino != ino)) drop_registration(fd, st);
  st.dev = dev;
  st.ino = ino;
  st.socket = S_ISSOCK(file.st_mode);
}

void CoreLoop::drop_registration(int fd, FdState& st) {
  poller_->close(fd);
  st.registered = Events::none;
  st.narrow = false;
}

IoWatcher CoreLoop::watch(int fd, Events events, IoCallback cb) {
  adopt_file(fd);
  auto* w = new IoNode;
  w->loop = this;
  w->fd = fd;
  w->events = events & kReadWrite;
  w->cb = std::move(cb);
  w->retain();  // the fd list's reference
  fd_state(fd).watchers.push_back(w);
  IoWatcher handle{Ref<IoNode>(w)};
  start(w);
  return handle;
}

void CoreLoop::mark_dirty(int fd) {
  FdState& st = fds_[std::size_t(fd)];
  if (!st.dirty) {
    st.dirty = true;
    dirty_fds_.push_back(fd);
  }
}

void CoreLoop::start(IoNode* w) {
  if (!w->attached)
    throw std::logic_error(
        "grove: IoWatcher::start() on a closed watcher; create a new one "
        "with EventLoop::watch()");
  if (w->active) return;
  w->active = true;
  count(true, w->referenced, +1);
  mark_dirty(w->fd);
}

void CoreLoop::stop(IoNode* w) {
  if (!w->active) return;
  w->active = false;
  count(true, w->referenced, -1);
  mark_dirty(w->fd);
}

void CoreLoop::set_io_events(IoNode* w, Events events) {
  w->events = events & kReadWrite;
  if (w->active) mark_dirty(w->fd);
}

void CoreLoop::set_ref(IoNode* w, bool referenced) {
  if (w->referenced == referenced) return;
  count(w->active, w->referenced, -1);
  w->referenced = referenced;
  count(w->active, w->referenced, +1);
}

void CoreLoop::close(IoNode* w) {
  if (!w->attached) return;
  stop(w);
  w->attached = false;
  FdState& st = fds_[std::size_t(w->fd)];
  for (auto& slot : st.watchers)
    if (slot == w) {
      slot = nullptr;
      break;
    }
  if (st.dispatching) st.holes = true;
  else compact(st);
  // The last watcher gone: drop the registration now rather than at the next poll, so a
  // new fd that reuses this number starts from a clean slate in the engine. A socket's may
  // stay (see the top of the file): watch() recognises the socket by its inode, and an
  // event for it meanwhile finds no watcher and removes it.
  if (st.watchers.empty() && st.registered != Events::none && !(lazy_removal_ && st.socket))
    drop_registration(w->fd, st);
  if (!w->in_callback) w->cb.reset();
  w->release();  // the fd list's reference
}

void CoreLoop::compact(FdState& st) {
  st.holes = false;
  std::erase(st.watchers, nullptr);
}

void CoreLoop::apply_fd_changes() {
  for (std::size_t i = 0; i < dirty_fds_.size(); ++i) {
    const int fd = dirty_fds_[i];
    FdState& st = fds_[std::size_t(fd)];
    st.dirty = false;
    Events want = Events::none;
    for (IoNode* w : st.watchers)
      if (w && w->active) want |= w->events;
    if (want == st.registered) {
      st.narrow = false;
      continue;
    }
    // Interest only dropped: keep the registration until an unwanted event comes.
    if (lazy_removal_ && !st.narrow && (want & ~st.registered) == Events::none) continue;
    if (want == Events::none) {
      drop_registration(fd, st);
      continue;
    }
    st.narrow = false;
    if (int err = poller_->open(fd, st.registered, want)) {
      (void)err;  // the watchers learn it as Events::closed
      drop_registration(fd, st);
      close_watchers_of(fd);
      continue;
    }
    st.registered = want;
  }
  dirty_fds_.clear();
}

void CoreLoop::close_watchers_of(int fd) {
  FdState& st = fds_[std::size_t(fd)];
  for (IoNode* w : st.watchers) {
    if (!w || !w->active) continue;
    stop(w);
    call_soon([keep = Ref<IoNode>(w)] {
      if (keep->attached && keep->cb) keep->cb(Events::closed);
    });
  }
}

void CoreLoop::forget_fd(int fd) {
  if (fd < 0 || std::size_t(fd) >= fds_.size()) return;
  FdState& st = fds_[std::size_t(fd)];
  close_watchers_of(fd);
  if (st.registered != Events::none) drop_registration(fd, st);
}

// An event no active watcher wants comes from interest kept registered after it dropped:
// fit the registration at the next poll (one engine call, where the eager way paid one
// when the interest dropped and usually another when it came back).
void CoreLoop::note_unwanted(const ReadyEvent& ev) {
  FdState& st = fds_[std::size_t(ev.fd)];
  Events want = Events::none;
  for (IoNode* w : st.watchers)
    if (w && w->active) want |= w->events;
  if (any(ev.events & ~want)) {
    st.narrow = true;
    mark_dirty(ev.fd);
  }
}

void CoreLoop::dispatch_io(const ReadyEvent& ev) {
  if (ev.fd < 0 || std::size_t(ev.fd) >= fds_.size()) return;
  if (any(ev.events & Events::closed)) {  // the engine found the fd invalid and dropped it
    drop_registration(ev.fd, fds_[std::size_t(ev.fd)]);
    close_watchers_of(ev.fd);
    return;
  }
  note_unwanted(ev);
  // Watchers closed during dispatch leave nullptr slots, swept when dispatch ends (also
  // when the exception handler rethrows).
  struct Dispatching {
    CoreLoop* loop;
    int fd;
    ~Dispatching() {
      FdState& st = loop->fds_[std::size_t(fd)];
      if (--st.dispatching == 0 && st.holes) loop->compact(st);
    }
  } guard{this, ev.fd};
  ++fds_[std::size_t(ev.fd)].dispatching;
  // Index, not iterators: callbacks may add watchers (growing fds_ or the list).
  const std::size_t n = fds_[std::size_t(ev.fd)].watchers.size();
  for (std::size_t i = 0; i < n; ++i) {
    IoNode* w = fds_[std::size_t(ev.fd)].watchers[i];
    if (!w || !w->active) continue;
    Events got = ev.events & w->events;
    if (!any(got)) continue;
    Ref<IoNode> keep(w);
    w->in_callback = true;
    try {
      w->cb(got);
    } catch (...) {
      w->in_callback = false;
      if (!w->attached) w->cb.reset();
      report_exception(std::current_exception(), "fd watcher callback");
      continue;
    }
    w->in_callback = false;
    if (!w->attached) w->cb.reset();
  }
}

}  // namespace grove::detail
