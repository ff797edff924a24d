// aio_bench: grove::aio beside its anchors, in one binary.
//
//   task/create_await/grove     create + co_await of a trivial Task<int> (co_return 1),
//                               inside a running task
//   task/create_await/bare      the same with a minimal hand-written C++20 lazy coroutine
//                               type (symmetric transfer, nothing else): the anchor
//   sleep0/<engine>/grove       one `co_await aio::sleep(0s)` round trip through the loop
//   sleep0/<engine>/call_soon   one call_soon round trip on the same engine: a callback that
//                               re-queues itself (the anchor)
//   gather10k/<engine>          gather of 10,000 tasks that each sleep(0) once
//   memory/pending_task         bytes allocated per pending task (a task parked on an Event),
//                               counted by a replacement operator new
//
// Every row reports time per item (items = awaits, round trips, tasks).
#include <grove/aio.hpp>

#include <benchmark/benchmark.h>

#include <atomic>
#include <coroutine>
#include <cstdlib>
#include <new>
#include <string>
#include <utility>
#include <vector>

namespace aio = grove::aio;
using namespace std::chrono_literals;

// --- counting allocations ----------------------------------------------------------------
namespace {
thread_local bool t_counting = false;
thread_local std::size_t t_bytes = 0;
thread_local std::size_t t_allocations = 0;
}  // namespace

void* operator new(std::size_t size) {
  if (t_counting) {
    t_bytes += size;
    ++t_allocations;
  }
  if (void* p = std::malloc(size ? size : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace {

// --- the anchor: a bare lazy coroutine type ------------------------------------------------
template <class T>
struct Bare {
  struct promise_type {
    std::coroutine_handle<> continuation;
    T value{};
    Bare get_return_object() {
      return Bare{std::coroutine_handle<promise_type>::from_promise(*this)};
    }
    std::suspend_always initial_suspend() noexcept { return {}; }
    struct Final {
      bool await_ready() noexcept { return false; }
      std::coroutine_handle<> await_suspend(std::coroutine_handle<promise_type> h) noexcept {
        return h.promise().continuation ? h.promise().continuation : std::noop_coroutine();
      }
      void await_resume() noexcept {}
    };
    Final final_suspend() noexcept { return {}; }
    void return_value(T v) { value = v; }
    void unhandled_exception() { std::terminate(); }
  };
  std::coroutine_handle<promise_type> h;
  Bare(Bare&& o) noexcept : h(std::exchange(o.h, {})) {}
  explicit Bare(std::coroutine_handle<promise_type> handle) : h(handle) {}
  ~Bare() {
    if (h) h.destroy();
  }
  bool await_ready() noexcept { return false; }
  std::coroutine_handle<> await_suspend(std::coroutine_handle<> c) noexcept {
    h.promise().continuation = c;
    return h;
  }
  T await_resume() noexcept { return h.promise().value; }
};

Bare<int> bare_one() { co_return 1; }

Bare<int> bare_driver(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(co_await bare_one());
  co_return 0;
}

void task_create_await_bare(benchmark::State& state) {
  Bare<int> driver = bare_driver(state);
  driver.h.resume();
  state.SetItemsProcessed(state.iterations());
}

aio::Task<int> task_one() { co_return 1; }

void task_create_await_grove(benchmark::State& state) {
  aio::run(aio::co_invoke([&]() -> aio::Task<void> {
    for (auto _ : state) benchmark::DoNotOptimize(co_await task_one());
  }));
  state.SetItemsProcessed(state.iterations());
}

// --- sleep(0) against call_soon ----------------------------------------------------------
constexpr int kHops = 1000;

void sleep0_grove(benchmark::State& state, const std::string& engine) {
  auto loop = grove::make_loop(engine);
  while (state.KeepRunningBatch(kHops))
    aio::run_until_complete(*loop, []() -> aio::Task<void> {
      for (int i = 0; i < kHops; ++i) co_await aio::sleep(0s);
    }());
  state.SetItemsProcessed(state.iterations());
}

struct Hop {
  grove::EventLoop* loop;
  int* left;
  void operator()() const {
    if (--*left > 0) loop->call_soon(Hop{loop, left});
  }
};

void sleep0_call_soon(benchmark::State& state, const std::string& engine) {
  auto loop = grove::make_loop(engine);
  int left = 0;
  while (state.KeepRunningBatch(kHops)) {
    left = kHops;
    loop->call_soon(Hop{loop.get(), &left});
    loop->run();
  }
  state.SetItemsProcessed(state.iterations());
}

// --- gather of 10,000 sleep(0) tasks -------------------------------------------------------
constexpr int kGather = 10'000;

aio::Task<int> sleep0_then(int v) {
  co_await aio::sleep(0s);
  co_return v;
}

void gather10k(benchmark::State& state, const std::string& engine) {
  auto loop = grove::make_loop(engine);
  for (auto _ : state) {
    const long sum = aio::run_until_complete(*loop, []() -> aio::Task<long> {
      std::vector<aio::Task<int>> tasks;
      tasks.reserve(kGather);
      for (int i = 0; i < kGather; ++i) tasks.push_back(sleep0_then(i));
      std::vector<int> out = co_await aio::gather(std::move(tasks));
      long s = 0;
      for (int v : out) s += v;
      co_return s;
    }());
    benchmark::DoNotOptimize(sum);
  }
  state.SetItemsProcessed(state.iterations() * kGather);
}

// --- memory per pending task ---------------------------------------------------------------
aio::Task<void> parked(aio::Event& ev) { co_await ev.wait(); }

void memory_pending_task(benchmark::State& state) {
  constexpr int kTasks = 10'000;
  double bytes_per_task = 0, allocations_per_task = 0;
  for (auto _ : state) {
    aio::run(aio::co_invoke([&]() -> aio::Task<void> {
      // Round 0 grows the loop's queues to their working size; round 1 is counted, so the
      // figure is what each pending task holds, not the queues' growth.
      for (int round = 0; round < 2; ++round) {
        aio::Event ev;
        std::vector<aio::TaskHandle<void>> handles;
        handles.reserve(kTasks);
        t_bytes = t_allocations = 0;
        t_counting = round == 1;
        for (int i = 0; i < kTasks; ++i) handles.push_back(aio::create_task(parked(ev)));
        co_await aio::sleep(0s);  // every task has started and is parked on the event
        t_counting = false;
        bytes_per_task = double(t_bytes) / kTasks;
        allocations_per_task = double(t_allocations) / kTasks;
        ev.set();
        co_await aio::gather(std::move(handles));
      }
    }));
  }
  state.counters["bytes_per_task"] = bytes_per_task;
  state.counters["allocs_per_task"] = allocations_per_task;
  state.counters["task_object_bytes"] = double(sizeof(aio::detail::TaskResult<void>));
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::RegisterBenchmark("task/create_await/grove", task_create_await_grove);
  benchmark::RegisterBenchmark("task/create_await/bare", task_create_await_bare);
  for (const std::string& engine : grove::built_engines()) {
    benchmark::RegisterBenchmark(("sleep0/" + engine + "/grove").c_str(), sleep0_grove, engine);
    benchmark::RegisterBenchmark(("sleep0/" + engine + "/call_soon").c_str(), sleep0_call_soon,
                                 engine);
    benchmark::RegisterBenchmark(("gather10k/" + engine).c_str(), gather10k, engine)
        ->Unit(benchmark::kMillisecond);
  }
  benchmark::RegisterBenchmark("memory/pending_task", memory_pending_task)->Iterations(1);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
