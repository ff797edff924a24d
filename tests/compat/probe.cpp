// compat_probe <scenario>: a fresh process for what must start from an unpatched state
// (GROVE_PATCH, warnings about the order of patching, the self-check). Prints one line per
// fact on stdout; warnings go to stderr through the default sink. Exit status 0 unless a
// scenario fails outright.
#include <grove/compat.hpp>
#include <grove/green.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>

#include <fcntl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

using namespace std::chrono_literals;
namespace compat = grove::compat;
namespace green = grove::green;

namespace {

double thread_cpu_ms() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

void facts() {
  std::printf("patched=%s\n", compat::to_string(compat::patched()).c_str());
  auto check = compat::self_check();
  std::printf("self_check=%s\n", check.ok ? "ok" : "failed");
  for (auto& n : check.not_interposed) std::printf("not_interposed=%s\n", n.c_str());
  for (auto& w : compat::warnings()) std::printf("warning=%s\n", w.id.c_str());
  std::fflush(stdout);
}

int run(const std::string& scenario) {
  if (scenario == "env") {
    // Only GROVE_PATCH in the environment patched this process, before main().
  } else if (scenario == "twice") {
    compat::patch(compat::Patch::socket);
    compat::patch(compat::Patch::socket);  // same arguments: silent
    compat::patch(compat::Patch::time | compat::Patch::socket);
  } else if (scenario == "after-threads") {
    std::atomic<bool> stop{false};
    std::thread t([&] {
      while (!stop) std::this_thread::sleep_for(1ms);
    });
    std::this_thread::sleep_for(10ms);
    compat::patch_all();
    stop = true;
    t.join();
  } else if (scenario == "off-main") {
    std::thread t([] { compat::patch_all(); });
    t.join();
  } else if (scenario == "patch") {
    compat::patch_all();
  } else if (scenario == "inherited") {
    // An fd open before patching keeps its flags: grove never sets O_NONBLOCK on it, even
    // while a green thread waits on it.
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) return 2;
    compat::patch_all();
    auto reader = green::spawn([&] {
      char c = 0;
      return ::read(sv[0], &c, 1) == 1 && c == 'x';
    });
    auto checker = green::spawn([&] {
      green::sleep(20ms);
      int fl = compat::original::fcntl(sv[0], F_GETFL);  // the kernel's flag
      std::printf("nonblock_while_waiting=%d\n", (fl & O_NONBLOCK) ? 1 : 0);
      (void)!::write(sv[1], "x", 1);
    });
    checker.join();
    std::printf("inherited_read=%d\n", reader.join() ? 1 : 0);
    std::printf("nonblock_after=%d\n",
                (compat::original::fcntl(sv[0], F_GETFL) & O_NONBLOCK) ? 1 : 0);
    // connect() on an inherited socket passes through (with a warning).
    auto connector = green::spawn([&] {
      sockaddr_storage none{};
      none.ss_family = AF_UNIX;  // empty path: fails at once, but the warning is the point
      return ::connect(sv[1], reinterpret_cast<sockaddr*>(&none), sizeof(sa_family_t));
    });
    (void)connector.join();
  } else if (scenario == "timeout-before-patch") {
    // A socket whose SO_RCVTIMEO was set before patching: grove reads it from the socket.
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) return 2;
    timeval tv{0, 30'000};
    ::setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    compat::patch_all();
    auto reader = green::spawn([&] {
      char c;
      auto start = std::chrono::steady_clock::now();
      errno = 0;
      ssize_t n = ::read(sv[0], &c, 1);
      int err = errno;
      double ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
              .count();
      std::printf("timeout_read=%zd errno=%s waited_enough=%d\n", n,
                  err == EAGAIN ? "EAGAIN" : std::strerror(err), ms >= 29 ? 1 : 0);
    });
    reader.join();
  } else if (scenario == "blocking") {
    compat::patch_all();
    green::enable_blocking_detector(50ms);
    // 200 ms of this thread's CPU time, not of the clock: the detector discounts time the
    // thread was preempted, and on a loaded machine 200 ms of wall time can hold under
    // 50 ms of running.
    auto g = green::spawn(green::SpawnOptions{"busy-worker"}, [] {
      const double start = thread_cpu_ms();
      while (thread_cpu_ms() - start < 200) {
      }
    });
    g.join();
    green::sleep(100ms);
    green::disable_blocking_detector();
  } else {
    std::fprintf(stderr, "unknown scenario %s\n", scenario.c_str());
    return 2;
  }
  facts();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: compat_probe <scenario>\n");
    return 2;
  }
  return run(argv[1]);
}
