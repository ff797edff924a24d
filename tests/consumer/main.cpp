// Uses an installed grove: every built engine runs a timer.
#include <grove/loop.hpp>

#include <chrono>
#include <cstdio>

int main() {
  for (const auto& name : grove::built_backends()) {
    auto loop = grove::make_loop(name);
    bool fired = false;
    loop->call_later(std::chrono::milliseconds(1), [&] { fired = true; });
    loop->run();
    if (!fired) {
      std::fprintf(stderr, "%s: timer did not fire\n", name.c_str());
      return 1;
    }
    std::printf("%s: ok\n", name.c_str());
  }
  return 0;
}
