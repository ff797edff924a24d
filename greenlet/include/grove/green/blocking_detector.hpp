// The blocking detector: a watchdog thread that reports a green thread holding its hub (not
// waiting) for longer than a threshold — a blocking call or a long computation that starves
// every other green thread of that OS thread.
//
// Enable it with GROVE_BLOCKING_WARN_MS=<ms> in the environment (read when the first hub
// starts) or with enable_blocking_detector(). When it is off, a switch costs one relaxed
// atomic load more.
#pragma once

#include <grove/loop.hpp>

#include <cstdint>
#include <functional>
#include <string>

namespace grove::green {

struct BlockingReport {
  std::string green_thread;  // the name of the green thread ("hub" for loop callbacks)
  Duration threshold{};      // it held the hub at least this long without switching
  std::string message;       // the warning, ready to print
};

void enable_blocking_detector(Duration threshold);
// Reports made since the process started, every hub's (the metrics'
// grove_green_blocking_reports_total).
std::uint64_t blocking_reports() noexcept;
void disable_blocking_detector();
bool blocking_detector_enabled();

// Where reports go; called on the watchdog thread. Default: the message on stderr. Passing
// an empty function restores the default. compat replaces it to queue its warnings.
using BlockingSink = std::function<void(const BlockingReport&)>;
void set_blocking_sink(BlockingSink sink);

}  // namespace grove::green
