// What the blocking detector's watchdog reads about one hub, written by the hub's thread.
#pragma once

#include <grove/green/detail/core.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>

namespace grove::green::detail {

struct HubMonitor {
  // The context on the CPU (nullptr: the hub waits in its poller) and a counter bumped on
  // every switch; the release store publishes `running` with the count.
  std::atomic<GreenletBase*> running{nullptr};
  std::atomic<std::uint64_t> switches{0};
  std::uint64_t local = 0;  // the hub thread's copy of `switches`
  // Spawned green threads alive: the main context running its own code is only a stall
  // when some green thread could want the CPU.
  std::atomic<std::size_t> live{0};
  // The hub's OS thread, whose time spent waiting for a CPU is not a stall of the program.
  int tid = 0;

  void note(GreenletBase* g) noexcept {
    running.store(g, std::memory_order_relaxed);
    switches.store(++local, std::memory_order_release);
  }
};

// Whether the blocking detector runs: the one thing a switch checks when it is off.
extern std::atomic<bool> g_detector_on;
inline bool detector_on() noexcept { return g_detector_on.load(std::memory_order_relaxed); }

// Held by the watchdog while it reads the name of the context it found stuck, and by a hub
// while it renames or frees a green thread (only while the detector is on).
std::mutex& names_mutex() noexcept;

std::shared_ptr<HubMonitor> register_monitor();
void unregister_monitor(const std::shared_ptr<HubMonitor>& monitor) noexcept;

}  // namespace grove::green::detail
