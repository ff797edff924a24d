// Coroutine code that g++ 12 gets wrong, and the patterns grove documents instead.
//
// Each "safe pattern" case runs the documented way of writing a lambda coroutine or of
// passing a callable to an aio function, with instance-counting captures, and checks values
// and lifetimes (ASan turns a lifetime bug into a failure). The "[!mayfail]" canaries pin
// the miscompiles themselves: they report on g++ 12 without failing the suite, and start
// passing when the compiler is fixed.
#include "aio_support.hpp"

#include <functional>
#include <memory>
#include <string>
#include <vector>

using namespace grove;
using namespace grove::aio::test;
namespace aio = grove::aio;

namespace {
const std::string kLong = "a string longer than the small-string buffer, so it lives on the heap";

// Resets the instance counter around a case.
struct CountScope {
  CountScope() { Counted::live = 0; }
  ~CountScope() { CHECK(Counted::live == 0); }
};

template <class F>
aio::Task<int> call_later(F f) {
  co_await aio::sleep(0ms);
  co_return f();
}
}  // namespace

TEST_CASE("a capturing lambda coroutine run through co_invoke keeps its captures alive",
          "[pitfalls]") {
  CountScope counting;
  std::string seen;
  aio::run(aio::co_invoke([&]() -> aio::Task<void> {
    std::vector<aio::TaskHandle<std::string>> tasks;
    for (int i = 0; i < 3; ++i) {
      // The closure (captures by value) lives inside the co_invoke frame.
      tasks.push_back(aio::create_task(
          aio::co_invoke([text = kLong, c = Counted(i),
                          shared = std::make_shared<int>(i)]() -> aio::Task<std::string> {
            co_await aio::sleep(1ms);  // captures are read after suspensions
            co_await aio::sleep(0ms);
            co_return text + std::to_string(c.value) + std::to_string(*shared);
          })));
    }
    for (auto& t : tasks) seen += co_await t;
  }));
  CHECK(seen == kLong + "00" + kLong + "11" + kLong + "22");
}

TEST_CASE("a lambda coroutine kept in a variable may run as tasks while the variable lives",
          "[pitfalls]") {
  CountScope counting;
  int total = aio::run(aio::co_invoke([]() -> aio::Task<int> {
    Counted base(10);
    auto add = [base](int x) -> aio::Task<int> {  // lives until this coroutine returns
      co_await aio::sleep(1ms);
      co_return base.value + x;
    };
    auto a = aio::create_task(add(1));
    auto b = aio::create_task(add(2));
    const int ra = co_await a;
    const int rb = co_await b;
    co_return ra + rb;
  }));
  CHECK(total == 23);
}

TEST_CASE("a capturing lambda coroutine passed straight to run() lives for the whole run",
          "[pitfalls]") {
  CountScope counting;
  // The closure is a temporary of the full expression `aio::run(...)`, which includes the
  // whole run.
  const std::string out = aio::run([text = kLong, c = Counted(7)]() -> aio::Task<std::string> {
    co_await aio::sleep(1ms);
    co_return text + std::to_string(c.value);
  }());
  CHECK(out == kLong + "7");
}

TEST_CASE("coroutine parameters are copied into the frame: state passed as arguments survives",
          "[pitfalls]") {
  CountScope counting;
  auto body = [](std::string text, Counted c, std::unique_ptr<int> p) -> aio::Task<std::string> {
    co_await aio::sleep(1ms);
    co_return text + std::to_string(c.value) + std::to_string(*p);
  };
  std::string out = aio::run(aio::co_invoke([&]() -> aio::Task<std::string> {
    auto t = aio::create_task(body(kLong, Counted(3), std::make_unique<int>(4)));
    co_return co_await t;
  }));
  CHECK(out == kLong + "34");
}

TEST_CASE("callables named before the co_await are destroyed exactly once", "[pitfalls]") {
  CountScope counting;
  int v = aio::run(aio::co_invoke([]() -> aio::Task<int> {
    Counted c(5);
    auto job = [c, text = kLong] { return c.value + int(text.size() > 0); };
    const int a = co_await aio::to_thread(job);         // a copy goes to the thread
    const int b = co_await call_later(std::move(job));  // moved
    std::function<int()> fn = [c] { return c.value; };
    const int d = co_await call_later(fn);
    co_return a + b + d;
  }));
  CHECK(v == 17);
}

TEST_CASE("co_await in conditions, arguments and loops evaluates once and in order", "[pitfalls]") {
  CountScope counting;
  std::string trace;
  aio::run(aio::co_invoke([&]() -> aio::Task<void> {
    auto step = [&](char c, int v) -> aio::Task<int> {
      co_await aio::sleep(0ms);
      trace += c;
      co_return v;
    };
    bool flag = true;
    // An if without braces around a co_await statement (g++ bug 106188 in earlier 12.x).
    if (flag) co_await step('a', 1);
    else co_await step('X', 0);
    const int t = flag ? co_await step('b', 2) : co_await step('Y', 0);
    auto sum = [](int x, int y) { return x + y; };
    const int first = co_await step('c', 3);
    const int s = sum(first, co_await step('d', 4));
    int n = 0;
    while (co_await step('e', n) < 2) ++n;
    Counted keep(1);
    const int with_temporary = co_await call_later([] { return 5; }) + keep.value;
    CHECK(t == 2);
    CHECK(s == 7);
    CHECK(n == 2);
    CHECK(with_temporary == 6);
  }));
  CHECK(trace == "abcdeee");
}

TEST_CASE("canary: g++ 12 destroys a lambda or aggregate temporary in a co_await twice",
          "[pitfalls][!mayfail]") {
  // Known miscompile: the members of a closure or aggregate created inside a co_await
  // expression are destroyed twice (with a std::string capture: a double free). grove's
  // own code never does this; docs/aio.md tells users to name the callable first.
  Counted::live = 0;
  aio::run([]() -> aio::Task<void> {
    Counted c(1);
    const int v = co_await call_later([c] { return c.value; });
    CHECK(v == 1);
  }());
  INFO("live instances after the run (0 when the compiler is right): " << Counted::live);
  CHECK(Counted::live == 0);
  Counted::live = 0;
}

TEST_CASE("canary: g++ 12 evaluates a co_await inside an unevaluated operand",
          "[pitfalls][!mayfail]") {
  // Known miscompile: `__builtin_constant_p(co_await x)` (which Catch's CHECK expands to)
  // and `false && co_await x` inside a do-while condition run the co_await anyway. Never put
  // co_await inside an assertion macro: assign the result first.
  int evaluated = 0;
  aio::run(aio::co_invoke([&]() -> aio::Task<void> {
    auto count = [&]() -> aio::Task<int> {
      ++evaluated;
      co_return 1;
    };
    (void)__builtin_constant_p(co_await count() == 1);
    co_return;
  }));
  INFO("evaluations of a co_await that must not run: " << evaluated);
  CHECK(evaluated == 0);
}
