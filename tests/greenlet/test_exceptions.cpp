// Switching inside a catch block (or during unwinding) keeps std::current_exception() and
// std::uncaught_exceptions() right for every green thread.
#include "green_support.hpp"

#include <exception>
#include <stdexcept>
#include <string>

using namespace grove;
using namespace grove::test;

namespace {

std::string current_what() {
  try {
    if (auto e = std::current_exception()) std::rethrow_exception(e);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "none";
}

}  // namespace

TEST_CASE("each green thread keeps its own current_exception across switches",
          "[green][exceptions][tsan]") {
  std::vector<std::string> seen;
  auto make = [&](std::string name) {
    return green::spawn([&seen, name] {
      try {
        throw std::runtime_error(name);
      } catch (...) {
        for (int i = 0; i < 3; ++i) {
          green::sleep(0ns);  // the others switch in and out of their own catch blocks
          seen.push_back(name + "=" + current_what());
        }
        // A bare rethrow still finds this thread's exception.
        try {
          throw;
        } catch (const std::runtime_error& e) {
          seen.push_back(name + " rethrew " + e.what());
        }
      }
      seen.push_back(name + " after=" + current_what());
    });
  };
  auto a = make("a");
  auto b = make("b");
  auto c = green::spawn([&] {
    for (int i = 0; i < 3; ++i) {
      green::sleep(0ns);
      seen.push_back("c=" + current_what());
    }
  });
  green::joinall({a, b, c});
  for (const auto& s : seen) {
    if (s.rfind("a=", 0) == 0) REQUIRE(s == "a=a");
    if (s.rfind("b=", 0) == 0) REQUIRE(s == "b=b");
    if (s.rfind("c=", 0) == 0) REQUIRE(s == "c=none");
  }
  REQUIRE(std::count(seen.begin(), seen.end(), "a rethrew a") == 1);
  REQUIRE(std::count(seen.begin(), seen.end(), "b rethrew b") == 1);
  REQUIRE(std::count(seen.begin(), seen.end(), "a after=none") == 1);
  REQUIRE(std::count(seen.begin(), seen.end(), "b after=none") == 1);
  REQUIRE(current_what() == "none");
}

TEST_CASE("the main context's caught exception survives a switch to green threads",
          "[green][exceptions][tsan]") {
  try {
    throw std::logic_error("main's");
  } catch (...) {
    auto g = green::spawn([] {
      const bool clean = !std::current_exception();
      try {
        throw std::runtime_error("inner");
      } catch (...) {
        green::sleep(1ms);
      }
      return clean;
    });
    REQUIRE(g.join());
    REQUIRE(current_what() == "main's");
  }
}

TEST_CASE("uncaught_exceptions is per green thread, even while a destructor switches",
          "[green][exceptions][tsan]") {
  int in_unwinding = -1, in_other = -1;
  struct SwitchesInDestructor {
    int& out;
    ~SwitchesInDestructor() {
      out = std::uncaught_exceptions();
      // A blocking call during unwinding: the hub runs `other` meanwhile. It must not throw,
      // so use the non-throwing form of a wait.
      green::Event e;
      e.wait(1ms);
    }
  };
  auto unwinding = green::spawn([&] {
    try {
      SwitchesInDestructor guard{in_unwinding};
      throw std::runtime_error("x");
    } catch (const std::runtime_error&) {
    }
  });
  auto other = green::spawn([&] {
    green::sleep(0ns);
    in_other = std::uncaught_exceptions();
  });
  green::joinall({unwinding, other});
  REQUIRE(in_unwinding == 1);
  REQUIRE(in_other == 0);
  REQUIRE(std::uncaught_exceptions() == 0);
}
