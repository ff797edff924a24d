// Looking inside the hub (grove/green/introspect.hpp): the run-queue delay histogram, and the
// dump of every green thread with its name, state, age and a symbolised stack.
#include "green_support.hpp"

#include <grove/green/introspect.hpp>

#include <cstdlib>
#include <numeric>

using namespace grove;
using namespace grove::test;

namespace {

// Turns run-queue timing on for the scope, then back to what it was.
struct QueueTiming {
  bool was = green::run_queue_timing_enabled();
  QueueTiming() { green::enable_run_queue_timing(true); }
  ~QueueTiming() { green::enable_run_queue_timing(was); }
};

// Where the dumped green thread waits: a frame of its own (not inlined, not a tail call).
[[gnu::noinline]] int parked_in_named_function_for_dump(green::Event& ev) {
  bool set = ev.wait();
  asm volatile("" ::: "memory");
  return set ? 1 : 0;
}

bool dump_must_have_stacks() {
  const char* ci = std::getenv("CI");
  return ci && *ci;
}

}  // namespace

TEST_CASE("introspect: the run-queue delay counts each turn a runnable green thread waited for",
          "[green][introspect]") {
  QueueTiming on;
  const green::RunQueueDelay before = green::run_queue_delay();
  constexpr int kThreads = 10, kYields = 5;
  std::vector<green::Greenlet> threads;
  for (int i = 0; i < kThreads; ++i)
    threads.push_back(green::spawn([] {
      for (int y = 0; y < kYields; ++y) green::yield();
    }));
  for (auto& t : threads) t.join();
  const green::RunQueueDelay after = green::run_queue_delay();
  // Each thread was queued once at its spawn and once per yield.
  CHECK(after.count - before.count >= std::uint64_t(kThreads * (kYields + 1)));
  const std::uint64_t in_buckets =
      std::accumulate(after.buckets.begin(), after.buckets.end(), std::uint64_t(0));
  CHECK(in_buckets <= after.count);
  CHECK(after.sum > before.sum);

  // Off: nothing more is counted.
  green::enable_run_queue_timing(false);
  const std::uint64_t off_before = green::run_queue_delay().count;
  green::spawn([] { green::yield(); }).join();
  CHECK(green::run_queue_delay().count == off_before);
}

TEST_CASE(
    "introspect: the dump names each green thread, its state and age, and the function it waits in",
    "[green][introspect]") {
  green::Event ev;
  green::SpawnOptions options;
  options.name = "dump-me";
  auto waiting =
      green::spawn(std::move(options), [&ev] { return parked_in_named_function_for_dump(ev); });
  auto quick = green::spawn([] {});
  green::sleep(5ms);  // `waiting` parks; `fresh` runs and ends
  auto unstarted = green::spawn([] {});

  const auto threads = green::green_threads();
  const std::string dump = green::dump_green_threads();
  INFO(dump);
  const green::GreenThreadInfo* info = nullptr;
  for (const auto& t : threads)
    if (t.name == "dump-me") info = &t;
  REQUIRE(info);
  CHECK(info->state == "parked");
  CHECK(info->age > 0ms);
  CHECK(info->age < 60s);
  CHECK(dump.find("\"dump-me\" [parked, ") != std::string::npos);
  CHECK(dump.find("[created, ") != std::string::npos);  // `unstarted`
  if (green::dump_has_stacks()) {
    bool named = false;
    for (const auto& f : info->frames)
      named |= f.find("parked_in_named_function_for_dump") != std::string::npos;
    CHECK(named);
    // Its waiting frame is below the hub's switch, and the green thread's entry is further out.
    CHECK(dump.find("parked_in_named_function_for_dump") != std::string::npos);
  } else if (dump_must_have_stacks()) {
    FAIL(
        "no stacks in the dump, and CI is set: install libunwind-dev (scripts/install-deps.sh "
        "build)");
  } else {
    WARN("this build has no libunwind: the dump has no stacks");
  }
  ev.set();
  CHECK(waiting.get() == 1);
  unstarted.join();
}

TEST_CASE("introspect: a green thread parked on a file descriptor says which",
          "[green][introspect]") {
  GreenFdPair pair;
  green::SpawnOptions options;
  options.name = "reader";
  auto reader = green::spawn(std::move(options), [&pair] { green::wait_readable(pair.a); });
  green::sleep(5ms);
  std::string waiting_on;
  for (const auto& t : green::green_threads())
    if (t.name == "reader") waiting_on = t.waiting_on;
  CHECK(waiting_on == "fd " + std::to_string(pair.a));
  CHECK(green::dump_green_threads().find("\"reader\" [parked on fd " + std::to_string(pair.a) +
                                         ", ") != std::string::npos);
  char b = 1;
  REQUIRE(::write(pair.b, &b, 1) == 1);
  reader.join();
}
