// Event: a flag green threads wait for.
#include <grove/green/event.hpp>

namespace grove::green {

Event::~Event() { detail::wake_all_closed(waiters_); }

void Event::set() {
  flag_ = true;
  waiters_.notify_all();
}

bool Event::wait(std::optional<Duration> timeout) {
  return detail::wait_ready(flag_, waiters_, timeout);
}

}  // namespace grove::green
