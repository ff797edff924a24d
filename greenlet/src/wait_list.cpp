// WaitList: the FIFO of parked green threads that every primitive is built on.
#include "hub.hpp"

#include <grove/green/event.hpp>
#include <grove/green/queue.hpp>

namespace grove::green::detail {

void Waiter::cancel() noexcept {
  if (list) list->remove(*this);
}

std::size_t WaitList::size() const noexcept {
  std::size_t n = 0;
  for (Waiter* w = head_; w; w = w->next) ++n;
  return n;
}

Wake WaitList::wait(Waiter& w, std::optional<Duration> timeout) {
  return Hub::get().wait_in(*this, w, timeout);
}

Waiter* WaitList::notify_one() noexcept {
  Waiter* w = pop_front();
  if (w && w->green->hub) w->green->hub->wake(w->green, Wake::notified);
  return w;
}

void WaitList::notify_all() noexcept {
  while (notify_one()) {
  }
}

bool wait_in(WaitList& list, Waiter& w, std::optional<Duration> timeout) {
  if (list.wait(w, timeout) == Wake::notified) return true;
  throw_pending();
  return false;
}

void wake_all_closed(WaitList& waiters) noexcept {
  while (Waiter* w = waiters.pop_front()) wake(w->green, Wake::closed);
}

bool wait_ready(bool& ready, WaitList& waiters, std::optional<Duration> timeout) {
  if (ready) return true;
  Waiter w;
  return wait_in(waiters, w, timeout);
}

}  // namespace grove::green::detail
