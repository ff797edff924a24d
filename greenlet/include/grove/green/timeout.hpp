// Timeout: a scoped deadline for the calling green thread (gevent's Timeout).
//
//   try {
//     grove::green::Timeout deadline(100ms);
//     auto line = queue.get();          // whatever it waits on
//   } catch (const grove::green::Timeout& t) {
//     // t == deadline: this deadline expired (an outer one would compare unequal)
//   }
//
// When the deadline passes, the Timeout is thrown in its green thread at the point where it
// waits (sleep, I/O, a lock, join, ...). A green thread that never waits cannot be
// interrupted. Timeouts nest: each throws itself; an inner one does not hide an outer one.
// The destructor cancels the deadline. Like GreenletExit, Timeout does not derive from
// std::exception, so `catch (const std::exception&)` does not swallow it.
#pragma once

#include <grove/green/detail/core.hpp>

#include <cstdint>
#include <exception>
#include <optional>
#include <string>
#include <utility>

namespace grove::green {

class Timeout {
 public:
  // Arms a deadline `after` from now for the calling green thread; std::nullopt never fires
  // (handy for optional timeouts).
  explicit Timeout(std::optional<Duration> after);
  // The same, but throws `exception` instead of the Timeout itself.
  Timeout(std::optional<Duration> after, std::exception_ptr exception);
  ~Timeout();

  // A copy is what gets thrown: it compares equal to the original and owns no deadline.
  Timeout(const Timeout& other);
  Timeout& operator=(const Timeout&) = delete;

  // Disarms it. Idempotent.
  void cancel();
  // Armed and not yet expired.
  bool pending() const;
  // Whether the deadline has passed (and the exception was thrown).
  bool expired() const { return expired_; }
  std::optional<Duration> duration() const { return after_; }
  const char* what() const noexcept { return what_.c_str(); }

  // Same deadline: an exception thrown by this Timeout compares equal to it.
  bool operator==(const Timeout& o) const noexcept { return id_ == o.id_; }

  // An unarmed Timeout for waits whose own time limit ran out (join(timeout), get(timeout)).
  static Timeout expired_after(Duration after);

 private:
  struct Unarmed {};
  Timeout(Unarmed, Duration after);
  void fire();

  std::uint64_t id_ = 0;
  std::optional<Duration> after_;
  std::string what_;
  std::exception_ptr exception_;
  std::exception_ptr thrown_;  // what fire() threw into the owner
  detail::GreenletBase* owner_ = nullptr;
  Timer timer_;
  bool armed_ = false;
  bool expired_ = false;
};

// Runs fn() under a Timeout of `after`; returns its value.
template <class F>
decltype(auto) with_timeout(std::optional<Duration> after, F&& fn) {
  Timeout deadline(after);
  return std::forward<F>(fn)();
}

}  // namespace grove::green
