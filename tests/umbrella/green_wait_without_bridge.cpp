// Must not compile: green::wait(task) with <grove/green.hpp> but not <grove/green/aio.hpp>.
// The CTest test requires the error to name the missing header.
#include <grove/aio.hpp>
#include <grove/green.hpp>

grove::aio::Task<int> coro() { co_return 1; }
int call() { return grove::green::wait(coro()); }
