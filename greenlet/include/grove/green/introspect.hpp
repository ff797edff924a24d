// Looking inside a hub while it runs: the run-queue delay, and the dump of every green thread
// (name, state, age, stack), like Go's goroutine dump and gevent's print_run_info().
//
//   grove::green::enable_run_queue_timing(true);      // process-wide; off by default
//   ...
//   grove::green::RunQueueDelay d = grove::green::run_queue_delay();  // this thread's hub
//   std::fputs(grove::green::dump_green_threads().c_str(), stderr);
//
// Run-queue delay: the time from a green thread becoming runnable (spawned, woken, yielding)
// to it getting the CPU, a histogram per hub. It says how long ready work waits behind other
// green threads' turns and the hub's polls: the hub's saturation. While timing is off a
// switch pays one relaxed atomic load; while on, two reads of the monotonic clock.
//
// The dump: every green thread of the calling thread's hub, newest first. A suspended
// thread's stack is unwound from the registers its context switch saved (libunwind, DWARF
// call-frame information: no frame pointers needed) and each frame named from the ELF symbol
// tables (static functions included, demangled). Limits: inlined functions do not appear as
// frames of their own; a stripped binary gives addresses only; a build without libunwind
// (grove::green::dump_has_stacks() is false) lists the threads without stacks; the running
// thread's stack (the caller's) is not unwound. Call it from the hub's thread (a green thread,
// a loop callback, or the main context); it never switches.
#pragma once

#include <grove/loop.hpp>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace grove::green {

// --- the run-queue delay -------------------------------------------------------------------

struct RunQueueDelay {
  // Upper bounds in seconds; counts per bucket (not cumulative); the rest went above the last.
  static constexpr std::array<double, 12> kBounds = {10e-6,  50e-6, 100e-6, 250e-6, 500e-6, 1e-3,
                                                     2.5e-3, 5e-3,  10e-3,  50e-3,  100e-3, 1};
  std::array<std::uint64_t, kBounds.size()> buckets{};
  double sum = 0;  // seconds
  std::uint64_t count = 0;
};

// Turns the timing on or off for every hub of the process (the server turns it on with its
// metrics). Timing starts with the next green thread made runnable.
void enable_run_queue_timing(bool on) noexcept;
bool run_queue_timing_enabled() noexcept;
// The calling thread's hub's figures since it started (all zero without a hub).
RunQueueDelay run_queue_delay() noexcept;

// --- the dump ------------------------------------------------------------------------------

struct GreenThreadInfo {
  std::uint64_t id = 0;
  std::string name;                 // the given name, or "green-<id>"
  std::string state;                // created, runnable, running, parked
  std::string waiting_on;           // while parked on a file descriptor: "fd 7"; else empty
  Duration age{};                   // since it was spawned
  std::vector<std::string> frames;  // innermost first: "function+0x1c (binary)" or an address
};

// Every live green thread of the calling thread's hub (none without a hub).
std::vector<GreenThreadInfo> green_threads();
// green_threads() as text: a header line, then per thread a line and its frames, indented.
std::string dump_green_threads();
// Whether this build unwinds suspended stacks (built with libunwind).
bool dump_has_stacks() noexcept;

}  // namespace grove::green
