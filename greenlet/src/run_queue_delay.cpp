// The run-queue delay (introspect.hpp): stamped when a green thread joins the run queue,
// counted when it leaves it for the CPU, into its hub's histogram.
#include "hub.hpp"

#include <algorithm>
#include <ctime>

namespace grove::green {

namespace detail {

std::atomic<bool> g_queue_timing_on{false};

// clock_gettime directly: steady_clock's conversion is the same call, and this is on the
// switch path while timing is on.
std::int64_t monotonic_ns() noexcept {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return std::int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

void Hub::note_queue_delay(GreenletBase* g) noexcept {
  const std::int64_t since = std::exchange(g->runnable_since, 0);
  if (since == 0) return;  // queued before timing was turned on
  const double seconds = double(monotonic_ns() - since) * 1e-9;
  auto& bounds = RunQueueDelay::kBounds;
  auto bucket = std::lower_bound(bounds.begin(), bounds.end(), seconds);
  if (bucket != bounds.end()) ++queue_delay_.buckets[std::size_t(bucket - bounds.begin())];
  queue_delay_.sum += seconds;
  ++queue_delay_.count;
}

}  // namespace detail

void enable_run_queue_timing(bool on) noexcept {
  detail::g_queue_timing_on.store(on, std::memory_order_relaxed);
}

bool run_queue_timing_enabled() noexcept { return detail::queue_timing_on(); }

RunQueueDelay run_queue_delay() noexcept {
  detail::Hub* hub = detail::Hub::get_if_exists();
  return hub ? hub->queue_delay() : RunQueueDelay{};
}

}  // namespace grove::green
