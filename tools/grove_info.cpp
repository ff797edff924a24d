// grove-info: what this build of grove contains and which engine a program would get.
#include <grove/loop.hpp>

#include <chrono>
#include <cstdio>
#include <exception>

int main() {
  std::printf("grove %.*s\n", int(grove::version().size()), grove::version().data());
  std::printf("engines built: ");
  const char* sep = "";
  for (const auto& name : grove::built_engines()) {
    std::printf("%s%s", sep, name.c_str());
    sep = ", ";
  }
  std::printf("\ndefault engine: %s\n", grove::default_engine().c_str());
  try {
    auto loop = grove::make_loop();
    const auto& caps = loop->capabilities();
    std::printf("selected engine: %s (GROVE_LOOP overrides the default)\n", caps.engine.c_str());
    std::printf("  poller: %s, timer resolution: %lld ns\n", caps.poller.c_str(),
                static_cast<long long>(caps.timer_resolution.count()));
    for (const auto& what : caps.emulated) std::printf("  provided by grove: %s\n", what.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 2;
  }
  return 0;
}
