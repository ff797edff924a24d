// Semaphore, BoundedSemaphore and RLock. release() hands the permit directly to the longest
// waiter (FIFO, no barging); a waiter woken that way owns the permit even if an exception
// reaches it meanwhile: that exception is thrown at its next switch point instead.
#include <grove/green/semaphore.hpp>

#include <stdexcept>

namespace grove::green {

Semaphore::~Semaphore() { detail::wake_all_closed(waiters_); }

bool Semaphore::try_acquire() {
  if (count_ == 0 || !waiters_.empty()) return false;
  --count_;
  return true;
}

bool Semaphore::acquire(std::optional<Duration> timeout) {
  if (try_acquire()) return true;
  detail::Waiter w;
  return detail::wait_in(waiters_, w, timeout);
}

void Semaphore::release() {
  if (waiters_.notify_one()) return;  // handed over
  ++count_;
}

void BoundedSemaphore::release() {
  if (waiters_.empty() && count_ >= initial_)
    throw std::logic_error(
        "grove: BoundedSemaphore released more times than it was acquired "
        "(value " +
        std::to_string(initial_) + ")");
  Semaphore::release();
}

bool RLock::owned() const { return owner_ && owner_ == detail::current_green(); }

bool RLock::acquire(std::optional<Duration> timeout) {
  detail::GreenletBase* me = detail::current_green();
  if (owner_ == me) {
    ++count_;
    return true;
  }
  if (!block_.acquire(timeout)) return false;
  owner_ = me;
  count_ = 1;
  return true;
}

bool RLock::try_acquire() {
  detail::GreenletBase* me = detail::current_green();
  if (owner_ == me) {
    ++count_;
    return true;
  }
  if (!block_.try_acquire()) return false;
  owner_ = me;
  count_ = 1;
  return true;
}

void RLock::release() {
  if (owner_ != detail::current_green())
    throw std::logic_error("grove: RLock released by a green thread that does not hold it");
  if (--count_ == 0) {
    owner_ = nullptr;
    block_.release();
  }
}

}  // namespace grove::green
