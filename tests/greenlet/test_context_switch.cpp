// The context switch keeps what its contract says: callee-saved registers and the stack for
// every green thread; the floating-point environment per OS thread with the native switch
// and per green thread with Boost.Context's (docs/green.md, "Context switch").
#include "green_support.hpp"

#include <cfenv>
#include <string>
#include <vector>

using namespace grove;
using namespace grove::test;

TEST_CASE("the build names its context switch", "[green][switch]") {
  const std::string_view name = green::context_switch();
  CHECK((name == "native" || name == "boost"));
}

TEST_CASE("the floating-point rounding mode follows the context switch's contract",
          "[green][switch]") {
  REQUIRE(std::fegetround() == FE_TONEAREST);
  green::Event changed;
  // The observer starts, and leaves the CPU, before anybody changes the rounding mode.
  auto observer = green::spawn([&] {
    changed.wait();
    return std::fegetround();
  });
  auto changer = green::spawn([&] {
    std::fesetround(FE_UPWARD);
    changed.set();
    green::sleep(0ns);  // the observer runs while this thread rounds upwards
    const int mine = std::fegetround();
    std::fesetround(FE_TONEAREST);
    return mine;
  });
  const int seen_by_observer = observer.join();
  const int kept_by_changer = changer.join();
  std::fesetround(FE_TONEAREST);
  CHECK(kept_by_changer == FE_UPWARD);
  if (green::context_switch() == "native")
    CHECK(seen_by_observer == FE_UPWARD);        // one environment for the OS thread
  else CHECK(seen_by_observer == FE_TONEAREST);  // each green thread its own
}

TEST_CASE("deep call chains on both sides of a switch return to the right frames",
          "[green][switch]") {
  // Different depths and call sites on each side: every return after a switch goes where its
  // own stack says, whatever the CPU's return predictor guessed.
  struct Chain {
    static long down(int depth, std::vector<int>& trace, int id) {
      if (depth == 0) {
        green::sleep(0ns);
        trace.push_back(id);
        return id;
      }
      long below = down(depth - 1, trace, id);
      trace.push_back(id * 100 + depth);
      return below + depth;
    }
  };
  std::vector<int> trace;
  auto a = green::spawn([&] { return Chain::down(3, trace, 1); });
  auto b = green::spawn([&] { return Chain::down(7, trace, 2); });
  auto c = green::spawn([&] {
    long sum = 0;
    for (int i = 0; i < 5; ++i) {
      green::sleep(0ns);
      sum += i;
    }
    return sum;
  });
  CHECK(a.join() == 1 + 1 + 2 + 3);
  CHECK(b.join() == 2 + 1 + 2 + 3 + 4 + 5 + 6 + 7);
  CHECK(c.join() == 0 + 1 + 2 + 3 + 4);
  // Each chain unwound its own frames innermost first.
  std::vector<int> a_frames, b_frames;
  for (int t : trace) {
    if (t == 1 || (t >= 100 && t < 200)) a_frames.push_back(t);
    if (t == 2 || t >= 200) b_frames.push_back(t);
  }
  CHECK(a_frames == std::vector<int>{1, 101, 102, 103});
  CHECK(b_frames == std::vector<int>{2, 201, 202, 203, 204, 205, 206, 207});
}
