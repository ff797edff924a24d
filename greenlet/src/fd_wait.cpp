// The hub's primitive: wait(fd, events, timeout), with one cached watcher per fd, and
// forget_fd(), which wakes the waiters of an fd that is being closed.
#include "hub.hpp"

#include <grove/green/hub.hpp>

#include <unistd.h>

#include <cerrno>
#include <string>
#include <system_error>

namespace grove::green {

namespace detail {

namespace {
constexpr Events kReadWrite = Events::read | Events::write;

[[noreturn]] void throw_double_wait(int fd, const char* direction, GreenletBase* holder,
                                    GreenletBase* caller) {
  throw std::logic_error("grove: green threads '" + caller->display_name() + "' and '" +
                         holder->display_name() + "' both wait to " + direction + " fd " +
                         std::to_string(fd) +
                         "; only one green thread may wait on an fd in each direction (give "
                         "each its own fd, or hand the work to the one already waiting)");
}
}  // namespace

void FdWait::cancel() noexcept { hub->drop_fd_wait(*this); }

void Hub::update_interest(FdSlot& slot) noexcept {
  Events want = Events::none;
  if (slot.reader) want |= Events::read;
  if (slot.writer) want |= Events::write;
  if (want == Events::none) {
    slot.watcher.stop();
    return;
  }
  slot.watcher.set_events(want);
  try {
    slot.watcher.start();
  } catch (...) {
    // start() throws only on a closed watcher, which fd slots never keep.
  }
}

void Hub::drop_fd_wait(FdWait& w) noexcept {
  if (w.fd < 0 || std::size_t(w.fd) >= fds_.size()) return;
  FdSlot& slot = fds_[std::size_t(w.fd)];
  if (slot.reader == &w) slot.reader = nullptr;
  if (slot.writer == &w) slot.writer = nullptr;
  update_interest(slot);
}

void Hub::on_fd_event(int fd, Events events) noexcept {
  FdSlot& slot = fds_[std::size_t(fd)];
  if (any(events & Events::closed)) {
    FdWait* reader = slot.reader;
    FdWait* writer = slot.writer;
    if (reader) wake(reader->green, Wake::closed);
    if (writer && writer != reader) wake(writer->green, Wake::closed);
    return;
  }
  const Events ready = events & kReadWrite;
  FdWait* reader = slot.reader;
  FdWait* writer = slot.writer;
  if (reader && reader == writer) {  // one green thread waits for either direction
    reader->got = ready;
    wake(reader->green, Wake::notified);
    return;
  }
  if (reader && any(ready & Events::read)) {
    reader->got = Events::read;
    wake(reader->green, Wake::notified);
  }
  if (writer && any(ready & Events::write)) {
    writer->got = Events::write;
    wake(writer->green, Wake::notified);
  }
}

Events Hub::wait_fd(int fd, Events events, std::optional<Duration> timeout) {
  check_can_park();
  const Events want = events & kReadWrite;
  if (want == Events::none)
    throw std::invalid_argument("grove: green::wait(fd) needs Events::read, Events::write or both");
  if (fd < 0)
    throw std::system_error(EBADF, std::generic_category(),
                            "grove: green::wait(fd=" + std::to_string(fd) + ")");
  if (std::size_t(fd) >= fds_.size()) fds_.resize(std::size_t(fd) + 1);
  FdSlot& slot = fds_[std::size_t(fd)];
  GreenletBase* self = current_;
  if (any(want & Events::read) && slot.reader)
    throw_double_wait(fd, "read", slot.reader->green, self);
  if (any(want & Events::write) && slot.writer)
    throw_double_wait(fd, "write", slot.writer->green, self);
  if (timeout && *timeout <= Duration::zero()) return Events::none;
  if (!slot.watcher)
    slot.watcher = loop_->watch(fd, want, [this, fd](Events e) { on_fd_event(fd, e); });

  FdWait w;
  w.hub = this;
  w.fd = fd;
  w.green = self;
  if (any(want & Events::read)) slot.reader = &w;
  if (any(want & Events::write)) slot.writer = &w;
  update_interest(slot);
  Wake why;
  try {
    why = park_now(&w, deadline_for(timeout));
  } catch (...) {
    drop_fd_wait(w);
    throw;
  }
  switch (why) {
    case Wake::notified: return w.got;
    case Wake::closed:
      throw_pending();
      throw std::system_error(EBADF, std::generic_category(),
                              "grove: green thread '" + self->display_name() +
                                  "' was waiting on fd " + std::to_string(fd) +
                                  ", which was closed meanwhile");
    default: throw_pending(); return Events::none;
  }
}

void Hub::forget_fd(int fd) {
  if (fd < 0) return;
  if (std::size_t(fd) < fds_.size()) {
    FdSlot& slot = fds_[std::size_t(fd)];
    FdWait* reader = slot.reader;
    FdWait* writer = slot.writer;
    if (reader) wake(reader->green, Wake::closed);
    if (writer && writer != reader) wake(writer->green, Wake::closed);
    slot.watcher.close();
  }
  loop_->forget_fd(fd);
}

}  // namespace detail

Events wait(int fd, Events events, std::optional<Duration> timeout) {
  return detail::Hub::get().wait_fd(fd, events, timeout);
}

void forget_fd(int fd) {
  if (detail::Hub* hub = detail::Hub::get_if_exists()) hub->forget_fd(fd);
}

int close(int fd) {
  forget_fd(fd);
  return ::close(fd);
}

EventLoop& hub_loop() {
  EventLoop& loop = detail::Hub::get().loop();
  // Between the hub's turns its cached now() goes stale; callers compute deadlines from it.
  loop.update_now();
  return loop;
}

std::string hub_engine() { return detail::Hub::get().loop().engine(); }

}  // namespace grove::green
