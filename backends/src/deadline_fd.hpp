// A timerfd that bounds a blocking poll to the nanosecond. Every engine's library would
// round a timeout up to whole milliseconds (epoll_wait's unit): a 10 ms sleep would then
// fire 0.5 ms late on average. The core watches fd() for reading through the poller like
// any fd, and engines poll with no timeout of their library's; the timerfd (or an fd, or a
// wake-up) ends the wait.
#pragma once

#include <grove/loop.hpp>

#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <system_error>

namespace grove::detail {

class DeadlineFd {
 public:
  // Deadlines are rounded up to this grain, so that the same earliest timer seen from
  // successive polls (each measuring from a slightly later clock reading) maps to the same
  // setting and costs no system call.
  static constexpr Duration kGrain = std::chrono::microseconds(16);

  DeadlineFd() { open(); }
  ~DeadlineFd() { ::close(fd_); }
  DeadlineFd(const DeadlineFd&) = delete;
  DeadlineFd& operator=(const DeadlineFd&) = delete;

  int fd() const noexcept { return fd_; }

  // Makes fd() readable `timeout` from now (positive), unless it is already set for then.
  void arm(Duration timeout) noexcept {
    // steady_clock is CLOCK_MONOTONIC, the timerfd's clock.
    const std::int64_t grain = kGrain.count();
    std::int64_t at = (Clock::now() + timeout).time_since_epoch().count();
    at = (at + grain - 1) / grain * grain;
    if (at == armed_) return;
    itimerspec spec{};
    spec.it_value.tv_sec = time_t(at / 1'000'000'000);
    spec.it_value.tv_nsec = long(at % 1'000'000'000);
    ::timerfd_settime(fd_, TFD_TIMER_ABSTIME, &spec, nullptr);
    armed_ = at;
  }

  // Called when fd() reported readable: clears it.
  void expired() noexcept {
    std::uint64_t n;
    (void)!::read(fd_, &n, sizeof n);
    armed_ = -1;
  }

  // In a fork child: the timerfd is shared with the parent; make a new one. It is made
  // before the old one is closed, so fd() changes (a poller never sees a number reused).
  void after_fork() {
    const int old = fd_;
    open();
    ::close(old);
  }

 private:
  void open() {
    fd_ = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "grove: timerfd_create");
    armed_ = -1;
  }

  int fd_ = -1;
  std::int64_t armed_ = -1;  // the deadline set (ns, CLOCK_MONOTONIC); -1: none
};

}  // namespace grove::detail
