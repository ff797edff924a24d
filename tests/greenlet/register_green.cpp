// Linked into suites written for any engine (the loop conformance suite, aio's tests) so that
// GROVE_LOOP=green can select the green engine: grove's libraries are static, so the engine
// is registered explicitly, before main().
#include <grove/green/green_loop.hpp>

namespace {
struct RegisterGreen {
  RegisterGreen() { grove::green::register_green_engine(); }
} register_green;
}  // namespace
