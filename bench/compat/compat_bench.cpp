// compat_bench — what the compat layer costs.
//
// passthrough/*   One call through grove's interposer vs the same call made directly.
//   .../isolated  The real function is replaced by an empty one, so the row measures only
//                 the interposer (patched-set load, green check, indirect jump).
//   .../syscall   read(-1, ...) (EBADF): a real system call, as programs see it.
//   Sides: libc (the function directly), unpatched (interposer, nothing patched),
//   patched (interposer in a patched process, called outside any green thread).
// wait/*          One byte each way over a blocking socketpair, per round trip:
//   compat        two green threads calling plain read()/write(): every read waits on the hub
//   green         the same with green::wait() and non-blocking fds (no compat)
//   loop          the engine's raw readiness ping-pong: two loop watchers, no green threads
// The engine is GROVE_LOOP's (the hub's); run_compat.sh runs the binary once per engine.
#include "real.hpp"

#include <grove/compat.hpp>
#include <grove/green.hpp>
#include <grove/loop.hpp>

#include <benchmark/benchmark.h>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

namespace {

namespace real = grove::compat::detail::real;
namespace green = grove::green;

ssize_t empty_read(int, void*, size_t) { return 0; }
ssize_t (*volatile direct_empty)(int, void*, size_t) = &empty_read;

// --- pass-through -----------------------------------------------------------------------

void isolated(benchmark::State& state, bool through_interposer, bool patched) {
  if (patched) grove::compat::patch_all();
  auto saved = real::read_ptr.load();
  real::read_ptr.store(&empty_read);
  char c;
  for (auto _ : state) {
    ssize_t r = through_interposer ? ::read(-1, &c, 1) : direct_empty(-1, &c, 1);
    benchmark::DoNotOptimize(r);
  }
  real::read_ptr.store(saved);
}

void syscall_row(benchmark::State& state, bool through_interposer, bool patched) {
  if (patched) grove::compat::patch_all();
  char c;
  for (auto _ : state) {
    ssize_t r = through_interposer ? ::read(-1, &c, 1) : grove::compat::original::read(-1, &c, 1);
    benchmark::DoNotOptimize(r);
  }
}

// --- a read that must wait ----------------------------------------------------------------

constexpr int kBatch = 1000;

struct Pair {
  int a = -1, b = -1;
  explicit Pair(int flags) {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | flags, 0, sv) != 0) std::abort();
    a = sv[0];
    b = sv[1];
  }
  ~Pair() {
    // green::close tells the hub (it caches a watcher per fd); unpatched, ::close would not.
    green::close(a);
    green::close(b);
  }
};

void wait_compat(benchmark::State& state) {
  grove::compat::patch_all();
  Pair p(0);
  // The echo side: a plain blocking server loop.
  auto echo = green::spawn([&] {
    char c;
    while (::read(p.b, &c, 1) == 1 && c != 'q') ::write(p.b, &c, 1);
  });
  auto driver = green::spawn([&] {
    char c = 'x';
    while (state.KeepRunningBatch(kBatch))
      for (int i = 0; i < kBatch; ++i) {
        ::write(p.a, &c, 1);
        ::read(p.a, &c, 1);
      }
    ::write(p.a, "q", 1);
  });
  driver.join();
  echo.join();
}

void wait_green(benchmark::State& state) {
  Pair p(SOCK_NONBLOCK);
  auto echo = green::spawn([&] {
    char c;
    for (;;) {
      ssize_t n = grove::compat::original::read(p.b, &c, 1);
      if (n == 1) {
        if (c == 'q') return;
        grove::compat::original::write(p.b, &c, 1);
      } else {
        green::wait(p.b, grove::Events::read);
      }
    }
  });
  auto driver = green::spawn([&] {
    char c = 'x';
    while (state.KeepRunningBatch(kBatch))
      for (int i = 0; i < kBatch; ++i) {
        grove::compat::original::write(p.a, &c, 1);
        while (grove::compat::original::read(p.a, &c, 1) != 1)
          green::wait(p.a, grove::Events::read);
      }
    grove::compat::original::write(p.a, "q", 1);
  });
  driver.join();
  echo.join();
}

void wait_loop(benchmark::State& state) {
  auto loop = grove::make_loop();
  Pair p(SOCK_NONBLOCK);
  int remaining = 0;
  char c = 'x';
  auto wa = loop->watch(p.a, grove::Events::read, [&](grove::Events) {
    grove::compat::original::read(p.a, &c, 1);
    if (--remaining > 0) grove::compat::original::write(p.a, &c, 1);
    else loop->stop();
  });
  auto wb = loop->watch(p.b, grove::Events::read, [&](grove::Events) {
    grove::compat::original::read(p.b, &c, 1);
    grove::compat::original::write(p.b, &c, 1);
  });
  while (state.KeepRunningBatch(kBatch)) {
    remaining = kBatch;
    grove::compat::original::write(p.a, &c, 1);
    loop->run();
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "--engines") {  // for run_compat.sh
    for (const auto& e : grove::built_engines())
      if (e != "green") std::printf("%s\n", e.c_str());
    return 0;
  }
  const char* engine = std::getenv("GROVE_LOOP");
  std::string e = engine ? engine : grove::default_engine();
  auto add = [](const std::string& name, auto fn, auto... args) {
    return benchmark::RegisterBenchmark(name.c_str(), fn, args...);
  };
  // Unpatched rows first: patching is for the rest of the process.
  add("passthrough/isolated/libc", isolated, false, false);
  add("passthrough/isolated/unpatched", isolated, true, false);
  add("passthrough/syscall/libc", syscall_row, false, false);
  add("passthrough/syscall/unpatched", syscall_row, true, false);
  add("wait/" + e + "/loop", wait_loop)->UseRealTime();
  add("wait/" + e + "/green", wait_green)->UseRealTime();
  add("passthrough/isolated/patched", isolated, true, true);
  add("passthrough/syscall/patched", syscall_row, true, true);
  add("wait/" + e + "/compat", wait_compat)->UseRealTime();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
