// The grove side of every row (see main.cpp for what each row does).
#include "common.hpp"

#include <grove/loop.hpp>

namespace loop_bench {

void grove_post(benchmark::State& state, const std::string& engine) {
  auto loop = grove::make_loop(engine);
  std::uint64_t count = 0;
  while (state.KeepRunningBatch(kPostBatch)) {
    for (int i = 0; i < kPostBatch; ++i) loop->call_soon([&count] { ++count; });
    loop->run();
  }
  check_count(state, count, state.iterations());
}

void grove_pingpong(benchmark::State& state, const std::string& engine) {
  auto loop = grove::make_loop(engine);
  SocketPair sp;
  int remaining = 0;
  auto wa = loop->watch(sp.a, grove::Events::read, [&](grove::Events) {
    read1(sp.a);
    if (--remaining > 0) write1(sp.a);
    else loop->stop();
  });
  auto wb = loop->watch(sp.b, grove::Events::read, [&](grove::Events) {
    read1(sp.b);
    write1(sp.b);
  });
  while (state.KeepRunningBatch(kPingBatch)) {
    remaining = kPingBatch;
    write1(sp.a);
    loop->run();
  }
}

void grove_timers(benchmark::State& state, const std::string& engine, TimerMode mode) {
  auto loop = grove::make_loop(engine);
  const auto& delays = timer_delays(mode);
  std::uint64_t fired = 0;
  std::vector<grove::Timer> handles;
  handles.reserve(kTimers);
  for (auto _ : state) {
    if (mode == TimerMode::fire) {
      for (auto d : delays) loop->call_later(grove::Duration(d), [&fired] { ++fired; });
      settle(state);
      loop->run();
    } else {
      for (auto d : delays)
        handles.push_back(loop->call_later(grove::Duration(d), [&fired] { ++fired; }));
      for (auto& h : handles) h.cancel();
      handles.clear();
    }
  }
  finish_timers(state, fired, mode);
}

void grove_wakeup(benchmark::State& state, const std::string& engine) {
  PinHere pin;
  auto loop = grove::make_loop(engine);
  loop->work_started();  // keeps run() going with nothing but the posts to wait for
  std::thread thread([&] { loop->run(); });
  Reply reply;
  std::uint32_t seq = 0;
  for (auto _ : state) {
    ++seq;
    loop->call_soon_threadsafe([&reply, s = seq] { reply.answer(s); });
    reply.await(seq);
  }
  loop->call_soon_threadsafe([&] {
    loop->work_finished();
    loop->stop();
  });
  thread.join();
}

}  // namespace loop_bench
