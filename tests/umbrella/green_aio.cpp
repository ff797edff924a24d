// <grove/green/aio.hpp>'s example: green threads and coroutines in one hub, with the two
// includes docs/green.md names.
#include <grove/green.hpp>
#include <grove/green/aio.hpp>
namespace aio = grove::aio;

namespace {
aio::Task<int> fetch_value() { co_return 42; }
int blocking_style_work() { return 7; }

aio::Task<int> coro() {
  auto g = grove::green::spawn([] { return blocking_style_work(); });
  co_return co_await g;  // the value, or its exception
}
}  // namespace

int green_aio_example() {
  int v = grove::green::wait(fetch_value());  // aio::Task<int>
  return v + aio::run(coro(), "green");
}
