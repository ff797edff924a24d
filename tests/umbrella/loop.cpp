// README.md, "Using the event loop", with only <grove/loop.hpp>.
#include <grove/loop.hpp>
using namespace std::chrono_literals;

void readme_example(int fd) {
  auto loop = grove::make_loop();  // GROVE_LOOP, else the build default
  auto w = loop->watch(fd, grove::Events::read, [&](grove::Events) { /* read fd */ });
  loop->call_later(100ms, [&] { loop->stop(); });
  loop->run();
}
