// Semaphore, BoundedSemaphore, Lock and RLock for green threads.
//
// Waiters are served first come, first served: release() hands the permit straight to the
// longest waiter, so a running green thread cannot barge past the ones already waiting.
// All of them meet the Lockable requirements (lock/unlock/try_lock), so std::lock_guard and
// std::unique_lock work.
#pragma once

#include <grove/green/detail/core.hpp>

#include <cstddef>
#include <optional>

namespace grove::green {

class Semaphore {
 public:
  explicit Semaphore(std::size_t value = 1) : count_(value) {}
  Semaphore(const Semaphore&) = delete;
  Semaphore& operator=(const Semaphore&) = delete;
  ~Semaphore();

  // Takes a permit, waiting up to `timeout` for one; returns whether it got one.
  bool acquire(std::optional<Duration> timeout = std::nullopt);
  bool try_acquire();
  // Returns a permit (to the longest waiter, if any). Callable from loop callbacks too.
  void release();
  std::size_t value() const { return count_; }
  bool locked() const { return count_ == 0; }
  std::size_t waiting() const { return waiters_.size(); }

  void lock() { acquire(); }
  void unlock() { release(); }
  bool try_lock() { return try_acquire(); }

 protected:
  std::size_t count_;
  detail::WaitList waiters_;
};

// A Semaphore whose release() beyond its initial value is an error (std::logic_error).
class BoundedSemaphore : public Semaphore {
 public:
  explicit BoundedSemaphore(std::size_t value = 1) : Semaphore(value), initial_(value) {}
  void release();
  void unlock() { release(); }

 private:
  std::size_t initial_;
};

// A mutual-exclusion lock for green threads (not reentrant: acquiring it twice in one green
// thread waits forever, and is reported as WouldBlockForever if nothing else can release it).
class Lock : public BoundedSemaphore {
 public:
  Lock() : BoundedSemaphore(1) {}
};

// A reentrant lock: the green thread that holds it may acquire it again; it is free when
// released as many times. Releasing it from a green thread that does not hold it is a
// std::logic_error.
class RLock {
 public:
  RLock() = default;
  bool acquire(std::optional<Duration> timeout = std::nullopt);
  bool try_acquire();
  void release();
  bool locked() const { return count_ > 0; }
  bool owned() const;

  void lock() { acquire(); }
  void unlock() { release(); }
  bool try_lock() { return try_acquire(); }

 private:
  Semaphore block_{1};
  detail::GreenletBase* owner_ = nullptr;
  std::size_t count_ = 0;
};

}  // namespace grove::green
