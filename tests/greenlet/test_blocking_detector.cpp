// The blocking detector names a green thread that holds the hub too long, and stays silent
// while green threads yield normally.
#include "green_support.hpp"

#include <sched.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <mutex>
#include <thread>

using namespace grove;
using namespace grove::test;

namespace {

class CapturedReports {
 public:
  CapturedReports() {
    green::set_blocking_sink([this](const green::BlockingReport& r) {
      std::lock_guard lock(mutex_);
      reports_.push_back(r);
    });
  }
  ~CapturedReports() {
    green::disable_blocking_detector();
    green::set_blocking_sink(nullptr);
  }
  std::vector<green::BlockingReport> reports() {
    std::lock_guard lock(mutex_);
    return reports_;
  }

 private:
  std::mutex mutex_;
  std::vector<green::BlockingReport> reports_;
};

// Spins until the calling thread has had `d` of CPU time. Wall time would not do: on a busy
// machine the thread may wait for a CPU for much of it, and the detector rightly does not
// count that against the program.
Duration thread_cpu_time() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

void busy_for(Duration d) {
  const auto until = thread_cpu_time() + d;
  while (thread_cpu_time() < until) {
  }
}

}  // namespace

TEST_CASE("the blocking detector names a green thread that busy-loops for 200 ms",
          "[green][detector][tsan]") {
  CapturedReports captured;
  green::enable_blocking_detector(100ms);
  auto ticker = green::spawn([] {
    for (int i = 0; i < 20; ++i) green::sleep(1ms);
  });
  auto hog = green::spawn(green::SpawnOptions{"cpu-hog"}, [] { busy_for(200ms); });
  green::joinall({ticker, hog});
  green::sleep(20ms);
  const auto reports = captured.reports();
  REQUIRE(reports.size() == 1);
  REQUIRE(reports[0].green_thread == "cpu-hog");
  REQUIRE_THAT(reports[0].message, Catch::Contains("green thread 'cpu-hog'"));
  REQUIRE_THAT(reports[0].message, Catch::Contains("100 ms"));
  REQUIRE_THAT(reports[0].message, Catch::Contains("run_in_thread"));
}

TEST_CASE("the blocking detector stays silent while green threads yield and wait",
          "[green][detector][tsan]") {
  CapturedReports captured;
  green::enable_blocking_detector(100ms);
  std::vector<green::Greenlet> gs;
  for (int i = 0; i < 20; ++i)
    gs.push_back(green::spawn([i] {
      for (int k = 0; k < 10; ++k) {
        busy_for(1ms);  // work, but far below the threshold
        green::sleep(k % 2 ? 0ns : std::chrono::milliseconds(i % 5));
      }
    }));
  green::joinall(gs);
  green::sleep(120ms);  // idle in the poller: not a stall
  REQUIRE(captured.reports().empty());
}

TEST_CASE("the main context running its own code is not a stall when no green thread lives",
          "[green][detector][tsan]") {
  CapturedReports captured;
  green::enable_blocking_detector(30ms);
  green::sleep(1ms);
  busy_for(100ms);
  REQUIRE(captured.reports().empty());
}

TEST_CASE("the detector is off by default and switching it off stops the reports",
          "[green][detector][tsan]") {
  REQUIRE_FALSE(green::blocking_detector_enabled());
  CapturedReports captured;
  green::enable_blocking_detector(20ms);
  REQUIRE(green::blocking_detector_enabled());
  green::disable_blocking_detector();
  auto hog = green::spawn([] { busy_for(80ms); });
  hog.join();
  REQUIRE(captured.reports().empty());
}

namespace {

// Pins the calling thread to one CPU for the scope, then restores its previous CPU set.
class PinnedToCpu {
 public:
  explicit PinnedToCpu(int cpu) {
    ::sched_getaffinity(0, sizeof saved_, &saved_);
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    ok_ = ::sched_setaffinity(0, sizeof one, &one) == 0;
  }
  ~PinnedToCpu() { ::sched_setaffinity(0, sizeof saved_, &saved_); }
  bool ok() const { return ok_; }

 private:
  cpu_set_t saved_{};
  bool ok_ = false;
};

bool schedstat_readable() {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/self/task/%d/schedstat", int(::gettid()));
  std::FILE* f = std::fopen(path, "r");
  if (!f) return false;
  unsigned long long on_cpu = 0, waiting = 0;
  const bool ok = std::fscanf(f, "%llu %llu", &on_cpu, &waiting) == 2;
  std::fclose(f);
  return ok;
}

}  // namespace

// A second CPU-bound thread pinned to the hub's CPU halves the green thread's share: it holds
// the hub for well over the threshold of wall time but under it of CPU time. The wait for the
// CPU is the machine's, not the program's, so nothing is reported.
TEST_CASE("the blocking detector does not count time the hub's thread was preempted",
          "[green][detector]") {
  if (!schedstat_readable()) {
    WARN("skipped: this kernel does not report run-queue waits (schedstat)");
    return;
  }
  const int cpu = ::sched_getcpu();
  PinnedToCpu pin(cpu);
  REQUIRE(pin.ok());
  std::atomic<bool> stop{false}, hog_running{false};
  std::thread hog([&] {
    PinnedToCpu same(cpu);
    hog_running = true;
    while (!stop) {
    }
  });
  while (!hog_running) std::this_thread::yield();

  CapturedReports captured;
  constexpr auto threshold = 150ms;
  green::enable_blocking_detector(threshold);
  Duration wall{}, cpu_time{};
  auto holder = green::spawn(green::SpawnOptions{"preempted"}, [&] {
    const auto start = Clock::now();
    const auto cpu_start = thread_cpu_time();
    // Hold the hub for 2x the threshold of wall time, or until 0.8x of CPU time.
    while (Clock::now() - start < 2 * threshold &&
           thread_cpu_time() - cpu_start < 0.8 * threshold) {
    }
    wall = Clock::now() - start;
    cpu_time = thread_cpu_time() - cpu_start;
  });
  holder.join();
  green::sleep(2 * threshold / 5);  // two more samples of the watchdog
  stop = true;
  hog.join();
  INFO(
      "held the hub for " << std::chrono::duration_cast<std::chrono::milliseconds>(wall).count()
                          << " ms of wall time, "
                          << std::chrono::duration_cast<std::chrono::milliseconds>(cpu_time).count()
                          << " ms of CPU time");
  // The hold was a stall by the wall clock: without the discount it would be reported.
  REQUIRE(wall >= 1.5 * threshold);
  REQUIRE(cpu_time < threshold);
  CHECK(captured.reports().empty());
}
