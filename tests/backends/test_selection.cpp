// Engine selection: built engines, the default, GROVE_LOOP, and unknown names.
#include <grove/loop.hpp>

#include <catch2/catch.hpp>

#include "captured_diagnostics.hpp"

#include <algorithm>
#include <cstdlib>

using namespace grove;

namespace {
struct EnvGuard {
  explicit EnvGuard(const char* value) {
    if (const char* old = std::getenv("GROVE_LOOP")) saved = old, had = true;
    if (value) ::setenv("GROVE_LOOP", value, 1);
    else ::unsetenv("GROVE_LOOP");
  }
  ~EnvGuard() {
    if (had) ::setenv("GROVE_LOOP", saved.c_str(), 1);
    else ::unsetenv("GROVE_LOOP");
  }
  std::string saved;
  bool had = false;
};
}  // namespace

TEST_CASE("every built engine makes a working loop named after it") {
  auto names = built_engines();
  REQUIRE_FALSE(names.empty());
  REQUIRE(std::is_sorted(names.begin(), names.end()));
  for (const auto& name : names) {
    auto loop = make_loop(name);
    REQUIRE(loop->engine() == name);
    bool ran = false;
    loop->call_soon([&] { ran = true; });
    loop->run();
    REQUIRE(ran);
  }
}

TEST_CASE("the default engine is built and used when GROVE_LOOP is unset") {
  EnvGuard env(nullptr);
  auto names = built_engines();
  REQUIRE(std::find(names.begin(), names.end(), default_engine()) != names.end());
  REQUIRE(selected_engine() == default_engine());
  REQUIRE(make_loop()->engine() == default_engine());
}

TEST_CASE("GROVE_LOOP picks another built engine at run time") {
  for (const auto& name : built_engines()) {
    EnvGuard env(name.c_str());
    REQUIRE(selected_engine() == name);
    REQUIRE(make_loop()->engine() == name);
  }
}

TEST_CASE("an engine that was not built is an error listing the built ones") {
  std::string all;
  for (const auto& n : built_engines()) all += (all.empty() ? "" : ", ") + n;
  REQUIRE_THROWS_AS(make_loop("nope"), UnknownEngine);
  REQUIRE_THROWS_WITH(make_loop("nope"), Catch::Contains("'nope'") && Catch::Contains(all));
  EnvGuard env("nope");
  REQUIRE_THROWS_WITH(make_loop(), Catch::Contains("GROVE_LOOP=nope") && Catch::Contains(all));
}

TEST_CASE("register_engine makes a new name selectable") {
  register_engine("test-alias", [] { return make_loop(default_engine()); });
  auto names = built_engines();
  REQUIRE(std::find(names.begin(), names.end(), "test-alias") != names.end());
  REQUIRE(make_loop("test-alias")->engine() == default_engine());
}

TEST_CASE("version is semantic") {
  std::string v(version());
  REQUIRE(std::count(v.begin(), v.end(), '.') == 2);
}

// Runtime detection of io_uring. GROVE_IO_URING_UNAVAILABLE=ENOSYS|EPERM makes the engine
// act as if io_uring_queue_init had failed that way: ENOSYS simulates a kernel built without
// io_uring, EPERM one where /proc/sys/kernel/io_uring_disabled or a seccomp filter forbids
// it. This kernel has io_uring, so only the hook makes the failure path reachable.
namespace grove::detail {
std::unique_ptr<EventLoop> make_loop_or_fallback(std::string_view preferred);  // registry.cpp
}

namespace {
struct SimulatedUnavailable {
  explicit SimulatedUnavailable(const char* err) { ::setenv("GROVE_IO_URING_UNAVAILABLE", err, 1); }
  ~SimulatedUnavailable() { ::unsetenv("GROVE_IO_URING_UNAVAILABLE"); }
};

// A build without liburing-dev: the name is the not-built error, whatever the kernel.
void require_io_uring_not_built() { REQUIRE_THROWS_AS(make_loop("io_uring"), UnknownEngine); }

bool io_uring_built() {
  auto names = built_engines();
  return std::find(names.begin(), names.end(), "io_uring") != names.end();
}

// What make_loop() does when io_uring is the build's default; in a build with another
// default the same function is reached directly.
std::unique_ptr<EventLoop> make_default_io_uring_loop() {
  return default_engine() == "io_uring" ? make_loop() : detail::make_loop_or_fallback("io_uring");
}
}  // namespace

TEST_CASE("io_uring runs here when the kernel allows it") {
  if (!io_uring_built()) return require_io_uring_not_built();
  try {
    auto loop = make_loop("io_uring");
    REQUIRE(loop->capabilities().poller == "io_uring");
  } catch (const EngineUnavailable& e) {  // a kernel that really lacks or forbids it
    REQUIRE_THAT(e.what(), Catch::Contains("(ENOSYS)") || Catch::Contains("(EPERM)"));
  }
}

TEST_CASE("io_uring chosen explicitly on a kernel without it is refused with the reason") {
  if (!io_uring_built()) return require_io_uring_not_built();
  SimulatedUnavailable sim("ENOSYS");
  REQUIRE_THROWS_AS(make_loop("io_uring"), EngineUnavailable);
  REQUIRE_THROWS_WITH(make_loop("io_uring"),
                      Catch::Contains("no io_uring (ENOSYS)") && Catch::Contains("GROVE_LOOP"));
  EnvGuard env("io_uring");  // GROVE_LOOP=io_uring: a choice, so no fallback either
  REQUIRE_THROWS_AS(make_loop(), EngineUnavailable);
}

TEST_CASE("io_uring forbidden by policy is refused naming EPERM") {
  if (!io_uring_built()) return require_io_uring_not_built();
  SimulatedUnavailable sim("EPERM");
  REQUIRE_THROWS_WITH(make_loop("io_uring"), Catch::Contains("not permitted here (EPERM)") &&
                                                 Catch::Contains("io_uring engine is unavailable"));
}

TEST_CASE("an unavailable io_uring default falls back to the next built engine, warning") {
  if (!io_uring_built()) return require_io_uring_not_built();
  EnvGuard env(nullptr);
  SimulatedUnavailable sim("ENOSYS");
  test::CapturedReports reports;
  std::vector<std::string> others = built_engines();
  std::erase(others, "io_uring");
  if (others.empty()) {  // the one-engine build: nothing to fall back to, and it says so
    REQUIRE_THROWS_WITH(make_default_io_uring_loop(),
                        Catch::Contains("ENOSYS") && Catch::Contains("no other built engine"));
    return;
  }
  auto loop = make_default_io_uring_loop();
  REQUIRE(loop->engine() != "io_uring");
  REQUIRE(std::find(others.begin(), others.end(), loop->engine()) != others.end());
  test::Record warning;
  REQUIRE(reports.has("loop", "using '" + loop->engine() + "' instead", &warning));
  REQUIRE(warning.level == Severity::warning);
  REQUIRE(warning.message.find("ENOSYS") != std::string::npos);
  bool ran = false;
  loop->call_soon([&] { ran = true; });
  loop->run();
  REQUIRE(ran);
}
