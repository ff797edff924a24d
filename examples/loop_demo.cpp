// loop-demo: a repeating timer and a socketpair echo on one event loop.
// The engine is the build default, or GROVE_LOOP=<name>.
#include <grove/loop.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>

using namespace std::chrono_literals;

int main() {
  auto loop = grove::make_loop();
  std::printf("engine: %s\n", loop->engine().c_str());

  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0) {
    std::perror("socketpair");
    return 1;
  }
  const int client = fds[0], server = fds[1];

  // The server echoes whatever it reads.
  auto echo = loop->watch(server, grove::Events::read, [&](grove::Events) {
    char buf[256];
    ssize_t n = ::read(server, buf, sizeof buf);
    if (n > 0) (void)!::write(server, buf, size_t(n));
  });

  int sent = 0, echoed = 0;
  auto reader = loop->watch(client, grove::Events::read, [&](grove::Events) {
    char buf[256];
    ssize_t n = ::read(client, buf, sizeof buf);
    if (n <= 0) return;
    ++echoed;
    std::printf("echo: %.*s\n", int(n), buf);
  });

  auto start = loop->now();
  grove::Timer ticker = loop->call_every(20ms, [&] {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(loop->now() - start);
    std::string msg =
        "tick " + std::to_string(++sent) + " at " + std::to_string(ms.count()) + " ms";
    (void)!::write(client, msg.data(), msg.size());
    if (sent == 5) {
      ticker.cancel();
      loop->call_later(20ms, [&] { loop->stop(); });
    }
  });

  loop->run();
  ::close(client);
  ::close(server);
  std::printf("sent %d, echoed %d\n", sent, echoed);
  return echoed == sent ? 0 : 1;
}
