// spawn and join: values, exceptions with their types, names, start order, current().
#include "green_support.hpp"

#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>

using namespace grove;
using namespace grove::test;

namespace {
struct CustomError {
  int code;
};
class DerivedError : public std::runtime_error {
 public:
  DerivedError() : std::runtime_error("derived") {}
};
}  // namespace

TEST_CASE("join returns the green thread's value", "[green][spawn][tsan]") {
  auto g = green::spawn([](int a, int b) { return a + b; }, 40, 2);
  REQUIRE(g.join() == 42);
  REQUIRE(g.dead());
  REQUIRE(g.successful());
  REQUIRE_FALSE(g.exception());
}

TEST_CASE("a green thread starts on the hub's next turn, not at spawn", "[green][spawn][tsan]") {
  bool ran = false;
  auto g = green::spawn([&] { ran = true; });
  REQUIRE_FALSE(ran);
  REQUIRE_FALSE(g.started());
  g.join();
  REQUIRE(ran);
  REQUIRE(g.started());
}

TEST_CASE("green threads start in spawn order", "[green][spawn][tsan]") {
  std::string order;
  std::vector<green::Greenlet> gs;
  for (char c : std::string("abcde")) gs.push_back(green::spawn([&order, c] { order += c; }));
  green::joinall(gs);
  REQUIRE(order == "abcde");
}

TEST_CASE("arguments are copied or moved into the green thread", "[green][spawn][tsan]") {
  auto p = std::make_unique<int>(7);
  auto g = green::spawn([](std::unique_ptr<int> q) { return *q * 6; }, std::move(p));
  REQUIRE(g.join() == 42);
  std::string s = "kept";
  auto g2 = green::spawn([](std::string t) { return t.size(); }, s);
  REQUIRE(g2.join() == 4);
  REQUIRE(s == "kept");
}

TEST_CASE("a move-only result is moved out by join", "[green][spawn][tsan]") {
  auto g = green::spawn([] { return std::make_unique<std::string>("moved"); });
  auto v = g.join();
  REQUIRE(*v == "moved");
}

TEST_CASE("join rethrows the exception with its original type",
          "[green][spawn][exceptions][tsan]") {
  CapturedDiagnostics diag;
  auto g1 = green::spawn([]() -> int { throw DerivedError(); });
  REQUIRE_THROWS_AS(g1.join(), DerivedError);
  auto g2 = green::spawn([] { throw CustomError{17}; });
  try {
    g2.join();
    FAIL("join did not throw");
  } catch (const CustomError& e) {
    REQUIRE(e.code == 17);
  }
  auto g3 = green::spawn([] { throw std::system_error(EPIPE, std::generic_category(), "x"); });
  try {
    g3.join();
    FAIL("join did not throw");
  } catch (const std::system_error& e) {
    REQUIRE(e.code().value() == EPIPE);
  }
  REQUIRE_FALSE(g1.successful());
  REQUIRE(g1.exception());
}

TEST_CASE("an exception escaping a green thread is reported with the thread's name",
          "[green][spawn][exceptions][tsan]") {
  CapturedDiagnostics diag;
  auto g = green::spawn(green::SpawnOptions{"fetcher"}, [] { throw std::runtime_error("boom"); });
  REQUIRE_THROWS_AS(g.join(), std::runtime_error);
  REQUIRE(diag.contains("green thread 'fetcher' died"));
  REQUIRE(diag.contains("std::runtime_error: boom"));
}

TEST_CASE("green threads have names: given, set, or green-<id>", "[green][spawn][tsan]") {
  auto a = green::spawn(green::SpawnOptions{"alpha"}, [] { return green::current().name(); });
  auto b = green::spawn([] { return green::current().name(); });
  auto c = green::spawn([] { return green::current().name(); });
  c.set_name("gamma");
  REQUIRE(a.join() == "alpha");
  REQUIRE(b.join() == "green-" + std::to_string(b.id()));
  REQUIRE(c.join() == "gamma");
  REQUIRE(green::current().name() == "main");
}

TEST_CASE("current() is the running green thread", "[green][spawn][tsan]") {
  green::Greenlet seen;
  auto g = green::spawn([&] { seen = green::current(); });
  g.join();
  REQUIRE(seen == g);
  REQUIRE_FALSE(green::in_green_thread());
  auto inside = green::spawn([] { return green::in_green_thread(); });
  REQUIRE(inside.join());
}

TEST_CASE("join with a timeout throws Timeout and leaves the green thread running",
          "[green][spawn][timeout][tsan]") {
  green::Event go;
  auto g = green::spawn([&] {
    go.wait();
    return 1;
  });
  REQUIRE_THROWS_AS(g.join(20ms), green::Timeout);
  REQUIRE_FALSE(g.dead());
  go.set();
  REQUIRE(g.join(1s) == 1);
}

TEST_CASE("a green thread joining itself is a clear error", "[green][spawn][errors][tsan]") {
  auto g = green::spawn([] {
    try {
      green::current().join();
    } catch (const std::logic_error& e) {
      return std::string(e.what());
    }
    return std::string();
  });
  REQUIRE_THAT(g.join(), Catch::Contains("join itself"));
}

TEST_CASE("link callbacks run when a green thread dies, once, and can be removed",
          "[green][spawn][tsan]") {
  int calls = 0, removed = 0;
  auto g = green::spawn([] { green::sleep(1ms); });
  g.link([&] { ++calls; });
  auto id = g.link([&] { ++removed; });
  g.unlink(id);
  g.join();
  REQUIRE(calls == 1);
  REQUIRE(removed == 0);
  g.link([&] { ++calls; });  // already dead: runs at once
  REQUIRE(calls == 2);
}

TEST_CASE("thousands of short green threads run and their stacks are reused",
          "[green][spawn][tsan]") {
  long sum = 0;
  for (int round = 0; round < 20; ++round) {
    std::vector<green::Handle<int>> gs;
    for (int i = 0; i < 500; ++i) gs.push_back(green::spawn([i] { return i; }));
    for (auto& g : gs) sum += g.join();
  }
  REQUIRE(sum == 20L * (499 * 500 / 2));
}

TEST_CASE("a custom stack size is honoured", "[green][spawn][tsan]") {
  auto g = green::spawn(green::SpawnOptions{"big", 1024 * 1024}, [] {
    volatile char buf[512 * 1024];
    buf[0] = 1;
    buf[sizeof buf - 1] = 2;
    return buf[0] + buf[sizeof buf - 1];
  });
  REQUIRE(g.join() == 3);
}

TEST_CASE("a dead green thread's handle outlives its OS thread and its hub",
          "[green][spawn][tsan]") {
  green::Handle<int> kept;
  std::thread([&] {
    auto g = green::spawn([] { return 7; });
    g.join();
    kept = g;  // the OS thread (and its hub) ends below
  }).join();
  REQUIRE(kept.dead());
  REQUIRE(kept.join() == 7);
  REQUIRE_NOTHROW(kept.kill());
  REQUIRE(kept.name().rfind("green-", 0) == 0);
}
