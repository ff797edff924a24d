// Must not compile: co_await on a green thread without <grove/green/aio.hpp>. The CTest test
// requires the error to name the missing header.
#include <grove/aio.hpp>
#include <grove/green.hpp>

grove::aio::Task<int> coro() {
  auto g = grove::green::spawn([] { return 1; });
  co_return co_await g;
}
