// The raw Asio side (see main.cpp for what each row does).
#include "common.hpp"

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>

namespace loop_bench {

void asio_post(benchmark::State& state) {
  asio::io_context io(1);
  std::uint64_t count = 0;
  while (state.KeepRunningBatch(kPostBatch)) {
    for (int i = 0; i < kPostBatch; ++i) asio::post(io, [&count] { ++count; });
    io.run();
    io.restart();
  }
  check_count(state, count, state.iterations());
}

namespace {
struct PingPong {
  asio::io_context io{1};
  SocketPair sp;
  asio::posix::stream_descriptor a{io, sp.a}, b{io, sp.b};
  int remaining = 0;

  ~PingPong() {
    a.release();  // SocketPair closes them
    b.release();
  }
  void arm_a() {
    a.async_wait(asio::posix::descriptor_base::wait_read, [this](asio::error_code ec) {
      if (ec) return;
      read1(sp.a);
      if (--remaining > 0) {
        write1(sp.a);
        arm_a();
      } else {
        io.stop();
      }
    });
  }
  void arm_b() {
    b.async_wait(asio::posix::descriptor_base::wait_read, [this](asio::error_code ec) {
      if (ec) return;
      read1(sp.b);
      write1(sp.b);
      arm_b();
    });
  }
};
}  // namespace

void asio_pingpong(benchmark::State& state) {
  PingPong p;
  p.arm_b();
  while (state.KeepRunningBatch(kPingBatch)) {
    p.remaining = kPingBatch;
    p.arm_a();
    write1(p.sp.a);
    p.io.restart();
    p.io.run();
  }
}

void asio_timers(benchmark::State& state, TimerMode mode) {
  asio::io_context io(1);
  const auto& delays = timer_delays(mode);
  std::uint64_t fired = 0;
  std::vector<asio::steady_timer> timers;
  timers.reserve(kTimers);
  for (int i = 0; i < kTimers; ++i) timers.emplace_back(io);
  auto on_timer = [&fired](asio::error_code ec) {
    if (!ec) ++fired;
  };
  for (auto _ : state) {
    for (int i = 0; i < kTimers; ++i) {
      timers[i].expires_after(std::chrono::nanoseconds(delays[i]));
      timers[i].async_wait(on_timer);
    }
    if (mode == TimerMode::fire) {
      settle(state);
      io.run();
    } else {
      for (auto& t : timers) t.cancel();
      io.poll();
    }
    io.restart();
  }
  finish_timers(state, fired, mode);
}

void asio_wakeup(benchmark::State& state) {
  PinHere pin;
  asio::io_context io(1);
  auto work = asio::make_work_guard(io);
  std::thread thread([&] { io.run(); });
  Reply reply;
  std::uint32_t seq = 0;
  for (auto _ : state) {
    ++seq;
    asio::post(io, [&reply, s = seq] { reply.answer(s); });
    reply.await(seq);
  }
  io.stop();
  thread.join();
}

}  // namespace loop_bench
