// Event, Lock and Semaphore (Queue<T> is all in its header).
#include <grove/aio/sync.hpp>

#include <string>

namespace grove::aio {

namespace detail {

void fail_waiters(List<ListedWait, WaiterTag>& waiters, const char* what) {
  while (!waiters.empty()) {
    ListedWait& w = waiters.pop_front();
    w.fail(std::make_exception_ptr(InvalidStateError(
        std::string("grove::aio: the ") + what +
        " this task was waiting on was destroyed; keep primitives alive while tasks wait "
        "on them")));
  }
}

bool EventWait::await_ready() const noexcept { return event_->is_set(); }
void EventWait::enqueue() noexcept { event_->waiters_.push_back(*this); }

Permits::~Permits() { fail_waiters(waiters_, "Lock or Semaphore"); }

bool Permits::try_take() noexcept {
  if (available_ == 0 || !waiters_.empty()) return false;
  --available_;
  return true;
}

void Permits::give() noexcept {
  if (waiters_.empty()) {
    ++available_;
    return;
  }
  auto& next = static_cast<Acquire&>(waiters_.pop_front());
  next.handed_ = true;
  next.wake();
}

Permits::Acquire::~Acquire() {
  withdraw();
  if (handed_) permits_->give();  // granted but never resumed (frame destroyed): pass it on
}

}  // namespace detail

Event::~Event() { detail::fail_waiters(waiters_, "Event"); }

void Event::set() noexcept {
  set_ = true;
  while (!waiters_.empty()) waiters_.pop_front().wake();
}

void Lock::release() {
  if (!locked())
    throw InvalidStateError("grove::aio::Lock::release() of a lock that is not locked");
  permits_.give();
}

}  // namespace grove::aio
