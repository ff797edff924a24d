// green_bench: grove's green threads beside their anchors, in one binary and one run.
//
//   switch round trips   raw Boost.Context fiber resume, Boost.Fiber yield, State Threads
//                        condition-variable hand-off, grove green sleep(0)
//   spawn + join         grove (pooled stack), Boost.Fiber, State Threads
//   memory               resident bytes per idle green thread blocked on a socket, 10,000 alive
//   capacity             green threads alive at once under vm.max_map_count, guarded stacks
//                        and unguarded ones
//
// Every "round trip" is two switches: A -> B -> A. Memory and capacity run in a forked child
// (a fresh hub and stack pool) and report through counters.
#include <grove/green.hpp>

#include <benchmark/benchmark.h>
#include <st.h>
#include <boost/context/detail/fcontext.hpp>
#include <boost/context/fiber.hpp>
#include <boost/fiber/all.hpp>

#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

namespace green = grove::green;
namespace ctx = boost::context;

namespace {

// st_init() lowers RLIMIT_NOFILE (soft and hard) to 1024; the memory benchmark needs 10,000
// fds, so the original limit is kept to restore in its child, and ST starts only when used.
rlimit g_original_nofile{};
void ensure_st() {
  static const bool started = (st_init(), true);
  (void)started;
}

// --- memory and capacity, in a fresh child process (first: ST lowers the fd limit)
// ------------------------------------------

long resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  long size = 0, resident = 0;
  statm >> size >> resident;
  return resident * ::sysconf(_SC_PAGESIZE);
}

long read_long(const char* path) {
  std::ifstream in(path);
  long v = -1;
  in >> v;
  return v;
}

// Runs body() in a forked child; returns the doubles it wrote to the pipe.
template <class F>
std::vector<double> in_child(F body) {
  int fds[2];
  if (::pipe(fds) != 0) return {};
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    std::vector<double> out;
    try {
      out = body();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "green_bench: %s\n", e.what());
      ::_exit(1);
    }
    (void)!::write(fds[1], out.data(), out.size() * sizeof(double));
    ::_exit(0);
  }
  ::close(fds[1]);
  std::vector<double> out(16);
  const ssize_t n = ::read(fds[0], out.data(), out.size() * sizeof(double));
  ::close(fds[0]);
  ::waitpid(pid, nullptr, 0);
  out.resize(n > 0 ? std::size_t(n) / sizeof(double) : 0);
  return out;
}

// 10,000 green threads, each blocked reading its own socket (5,000 socketpairs, both ends).
std::vector<double> measure_idle_memory() {
  constexpr int kThreads = 10000;
  rlimit lim = g_original_nofile;
  lim.rlim_cur = lim.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &lim);  // raising the hard limit back needs root; else it may fail
  ::getrlimit(RLIMIT_NOFILE, &lim);
  std::vector<int> fds;
  for (int i = 0; i < kThreads / 2; ++i) {
    int p[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, p) != 0) {
      std::fprintf(stderr, "green_bench: socketpair #%d failed (fd limit %ld): %s\n", i,
                   long(lim.rlim_cur), std::strerror(errno));
      return {};
    }
    fds.push_back(p[0]);
    fds.push_back(p[1]);
  }
  green::sleep(grove::Duration::zero());  // the hub and its loop exist before the baseline
  const long before = resident_bytes();
  int blocked = 0;
  std::vector<green::Greenlet> gs;
  gs.reserve(kThreads);
  for (int fd : fds)
    gs.push_back(green::spawn([fd, &blocked] {
      ++blocked;
      char buf[64];
      green::wait(fd, grove::Events::read);
      (void)!::read(fd, buf, sizeof buf);
    }));
  while (blocked < kThreads) green::sleep(grove::Duration::zero());
  green::sleep(grove::Duration::zero());  // every one is parked in its wait
  const long after = resident_bytes();
  return {double(after - before) / kThreads, double(after - before), double(kThreads)};
}

// Spawns parked green threads until a stack cannot be mapped (or `cap` is reached).
std::vector<double> measure_capacity(bool guarded, int cap) {
  green::StackConfig config = green::stack_config();
  config.guarded = guarded;
  green::set_stack_config(config);
  green::set_diagnostic_sink([](std::string_view) {});  // the failing spawn is expected
  green::Event never;
  int alive = 0;
  std::vector<green::Greenlet> gs;
  bool failed = false;
  while (!failed && alive < cap) {
    const std::size_t first = gs.size();
    for (int i = 0; i < 1000; ++i)
      gs.push_back(green::spawn([&] {
        ++alive;
        never.wait(std::chrono::hours(1));
      }));
    green::sleep(grove::Duration::zero());
    for (std::size_t i = first; i < gs.size(); ++i)
      if (gs[i].dead() && gs[i].exception()) failed = true;
  }
  return {double(alive), double(read_long("/proc/sys/vm/max_map_count")), failed ? 1.0 : 0.0};
}

void BM_IdleMemoryPerGreenThread(benchmark::State& state) {
  std::vector<double> r;
  for (auto _ : state) r = in_child(measure_idle_memory);
  if (r.size() >= 3) {
    state.counters["bytes_per_thread"] = r[0];
    state.counters["total_bytes"] = r[1];
    state.counters["threads"] = r[2];
  } else {
    state.SkipWithError("the child process failed");
  }
}
BENCHMARK(BM_IdleMemoryPerGreenThread)->Iterations(1)->Unit(benchmark::kMillisecond);

void BM_MaxGreenThreadsGuarded(benchmark::State& state) {
  std::vector<double> r;
  for (auto _ : state) r = in_child([] { return measure_capacity(true, 1'000'000); });
  if (r.size() >= 3) {
    state.counters["alive"] = r[0];
    state.counters["vm_max_map_count"] = r[1];
    state.counters["hit_limit"] = r[2];
  } else {
    state.SkipWithError("the child process failed");
  }
}
BENCHMARK(BM_MaxGreenThreadsGuarded)->Iterations(1)->Unit(benchmark::kMillisecond);

void BM_MaxGreenThreadsUnguarded(benchmark::State& state) {
  std::vector<double> r;
  for (auto _ : state) r = in_child([] { return measure_capacity(false, 100'000); });
  if (r.size() >= 3) {
    state.counters["alive"] = r[0];
    state.counters["vm_max_map_count"] = r[1];
    state.counters["hit_limit"] = r[2];
  } else {
    state.SkipWithError("the child process failed");
  }
}
BENCHMARK(BM_MaxGreenThreadsUnguarded)->Iterations(1)->Unit(benchmark::kMillisecond);

// --- switch round trips ---------------------------------------------------------------------

void BM_RawFiberRoundTrip(benchmark::State& state) {
  ctx::fiber f{[](ctx::fiber&& main) {
    for (;;) main = std::move(main).resume();
    return std::move(main);
  }};
  for (auto _ : state) f = std::move(f).resume();
  state.SetItemsProcessed(state.iterations());
  // `f` is suspended inside its endless loop; its destructor unwinds it.
}
BENCHMARK(BM_RawFiberRoundTrip);

// The floor for any scheduler that switches symmetrically: two raw fcontexts hand control
// to each other through a yield *function* that returns to its caller (the resume loop
// above never returns, which is the cheapest shape a switch can have). No queue, no state.
struct SymmetricContext {
  void* fctx = nullptr;
};
SymmetricContext g_sym_main, g_sym_other;
SymmetricContext* g_sym_current = nullptr;

__attribute__((noinline)) void symmetric_yield() {
  SymmetricContext* self = g_sym_current;
  SymmetricContext* next = self == &g_sym_main ? &g_sym_other : &g_sym_main;
  g_sym_current = next;
  auto t = ctx::detail::jump_fcontext(std::exchange(next->fctx, nullptr), self);
  static_cast<SymmetricContext*>(t.data)->fctx = t.fctx;
}

void symmetric_entry(ctx::detail::transfer_t t) {
  static_cast<SymmetricContext*>(t.data)->fctx = t.fctx;
  for (;;) symmetric_yield();
}

void BM_RawSymmetricYieldRoundTrip(benchmark::State& state) {
  constexpr std::size_t kStack = 64 * 1024;
  static char* stack = static_cast<char*>(std::malloc(kStack));
  g_sym_other.fctx = ctx::detail::make_fcontext(stack + kStack, kStack, &symmetric_entry);
  g_sym_current = &g_sym_main;
  for (auto _ : state) symmetric_yield();
  state.SetItemsProcessed(state.iterations());
  // The other context stays suspended in its loop; its stack is reused by the next run.
}
BENCHMARK(BM_RawSymmetricYieldRoundTrip);

// The main context and a green thread yield to each other: each iteration is main -> B -> main,
// two trips through the hub's scheduler (and, every 64 turns, a poll of the hub's loop).
void BM_GreenYieldRoundTrip(benchmark::State& state) {
  bool stop = false;
  auto partner = green::spawn([&] {
    while (!stop) green::sleep(grove::Duration::zero());
  });
  green::sleep(grove::Duration::zero());  // the partner starts
  for (auto _ : state) green::sleep(grove::Duration::zero());
  stop = true;
  partner.join();
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_GreenYieldRoundTrip);

// The same between two spawned green threads (the main context waits in join).
void BM_GreenYieldRoundTripTwoGreen(benchmark::State& state) {
  bool stop = false;
  auto partner = green::spawn([&] {
    while (!stop) green::sleep(grove::Duration::zero());
  });
  auto driver = green::spawn([&] {
    green::sleep(grove::Duration::zero());
    for (auto _ : state) green::sleep(grove::Duration::zero());
    stop = true;
  });
  driver.join();
  partner.join();
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_GreenYieldRoundTripTwoGreen);

// Two green threads running the same yield loop, the usual shape of a server (every
// connection's green thread runs the same handler): each resumes at the call site the other
// left from, which the CPU's return-stack predictor gets right with grove's native switch.
__attribute__((noipa)) void yield_times(std::int64_t n, const bool* stop) {
  for (std::int64_t i = 0; i < n && !*stop; ++i) green::sleep(grove::Duration::zero());
}

void BM_GreenYieldRoundTripSameCode(benchmark::State& state) {
  bool stop = false;
  auto partner = green::spawn([&] { yield_times(INT64_MAX, &stop); });
  green::sleep(grove::Duration::zero());  // the partner starts
  constexpr std::int64_t kBatch = 1000;
  for (auto _ : state) yield_times(kBatch, &stop);
  stop = true;
  partner.join();
  state.SetItemsProcessed(state.iterations() * kBatch);
}
BENCHMARK(BM_GreenYieldRoundTripSameCode);

void BM_BoostFiberYieldRoundTrip(benchmark::State& state) {
  bool stop = false;
  boost::fibers::fiber partner([&] {
    while (!stop) boost::this_fiber::yield();
  });
  boost::this_fiber::yield();
  for (auto _ : state) boost::this_fiber::yield();
  stop = true;
  partner.join();
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_BoostFiberYieldRoundTrip);

struct StPingPong {
  st_cond_t ping = nullptr, pong = nullptr;
  bool stop = false;
};

void* st_ponger(void* arg) {
  auto* p = static_cast<StPingPong*>(arg);
  while (!p->stop) {
    st_cond_wait(p->ping);
    st_cond_signal(p->pong);
  }
  return nullptr;
}

// State Threads' hand-off: a condition variable signalled by one thread and waited by the
// other; each hand-off is one switch (ST has no yield; st_usleep(0) goes through its idle
// thread and poll()).
void BM_StateThreadsHandoffRoundTrip(benchmark::State& state) {
  ensure_st();
  StPingPong p;
  p.ping = st_cond_new();
  p.pong = st_cond_new();
  st_thread_t t = st_thread_create(st_ponger, &p, 1, 64 * 1024);
  st_usleep(0);  // the ponger starts and waits on `ping`
  for (auto _ : state) {
    st_cond_signal(p.ping);
    st_cond_wait(p.pong);
  }
  p.stop = true;
  st_cond_signal(p.ping);
  st_thread_join(t, nullptr);
  st_cond_destroy(p.ping);
  st_cond_destroy(p.pong);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_StateThreadsHandoffRoundTrip);

// --- spawn + join ---------------------------------------------------------------------------

void BM_GreenSpawnJoin(benchmark::State& state) {
  for (auto _ : state) {
    auto g = green::spawn([] { return 1; });
    benchmark::DoNotOptimize(g.join());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_GreenSpawnJoin);

void BM_BoostFiberSpawnJoin(benchmark::State& state) {
  for (auto _ : state) {
    int v = 0;
    boost::fibers::fiber f([&v] { v = 1; });
    f.join();
    benchmark::DoNotOptimize(v);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_BoostFiberSpawnJoin);

void* st_return_one(void*) { return reinterpret_cast<void*>(1); }

void BM_StateThreadsSpawnJoin(benchmark::State& state) {
  ensure_st();
  for (auto _ : state) {
    st_thread_t t = st_thread_create(st_return_one, nullptr, 1, 64 * 1024);
    void* r = nullptr;
    st_thread_join(t, &r);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_StateThreadsSpawnJoin);

}  // namespace

int main(int argc, char** argv) {
  ::getrlimit(RLIMIT_NOFILE, &g_original_nofile);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
