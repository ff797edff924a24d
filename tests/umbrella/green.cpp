// docs/green.md's first example, with only <grove/green.hpp>.
#include <grove/green.hpp>
namespace green = grove::green;
using namespace std::chrono_literals;

std::size_t green_example() {
  green::Queue<std::string> lines(100);
  auto producer = green::spawn([&] {
    for (int i = 0; i < 3; ++i) lines.put("line " + std::to_string(i));
  });
  auto consumer = green::spawn([&] {
    std::size_t total = 0;
    for (int i = 0; i < 3; ++i) total += lines.get(1s).size();  // QueueEmpty after 1 s
    return total;
  });
  producer.join();
  std::size_t n = consumer.join();  // the main context waits; the hub runs both
  return n;
}
