// The blocking detector names a green thread that holds the hub too long, and stays silent
// while green threads yield normally.
#include "green_support.hpp"

#include <time.h>

#include <mutex>

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
