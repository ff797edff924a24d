// The raw libev side (see main.cpp for what each row does).
#include "common.hpp"

#include <ev.h>

namespace loop_bench {

namespace {
struct ev_loop* new_loop() {
  struct ev_loop* loop = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOSIGMASK);
  if (!loop) die("ev_loop_new");
  return loop;
}

std::uint64_t& counter_of(void* data) { return *static_cast<std::uint64_t*>(data); }
}  // namespace

void libev_post(benchmark::State& state) {
  struct ev_loop* loop = new_loop();
  std::uint64_t count = 0;
  std::vector<ev_watcher> ws(kPostBatch);
  for (auto& w : ws) {
    ev_init(
        &w, +[](struct ev_loop*, ev_watcher* w, int) { ++counter_of(w->data); });
    w.data = &count;
  }
  while (state.KeepRunningBatch(kPostBatch)) {
    for (auto& w : ws) ev_feed_event(loop, &w, EV_CUSTOM);
    ev_run(loop, EVRUN_NOWAIT);
  }
  check_count(state, count, state.iterations());
  ev_loop_destroy(loop);
}

namespace {
struct PingPong {
  SocketPair sp;
  int remaining = 0;
  ev_io a, b;
};

void on_a(struct ev_loop* loop, ev_io* w, int) {
  auto* p = static_cast<PingPong*>(w->data);
  read1(p->sp.a);
  if (--p->remaining > 0) write1(p->sp.a);
  else ev_break(loop, EVBREAK_ONE);
}

void on_b(struct ev_loop*, ev_io* w, int) {
  auto* p = static_cast<PingPong*>(w->data);
  read1(p->sp.b);
  write1(p->sp.b);
}
}  // namespace

void libev_pingpong(benchmark::State& state) {
  struct ev_loop* loop = new_loop();
  PingPong p;
  ev_io_init(&p.a, on_a, p.sp.a, EV_READ);
  ev_io_init(&p.b, on_b, p.sp.b, EV_READ);
  p.a.data = p.b.data = &p;
  ev_io_start(loop, &p.a);
  ev_io_start(loop, &p.b);
  while (state.KeepRunningBatch(kPingBatch)) {
    p.remaining = kPingBatch;
    write1(p.sp.a);
    ev_run(loop, 0);
  }
  ev_io_stop(loop, &p.a);
  ev_io_stop(loop, &p.b);
  ev_loop_destroy(loop);
}

void libev_timers(benchmark::State& state, TimerMode mode) {
  struct ev_loop* loop = new_loop();
  const auto& delays = timer_delays(mode);
  std::uint64_t fired = 0;
  std::vector<ev_timer> timers(kTimers);
  for (auto& t : timers) {
    ev_init(
        &t, +[](struct ev_loop*, ev_timer* w, int) { ++counter_of(w->data); });
    t.data = &fired;
  }
  for (auto _ : state) {
    for (int i = 0; i < kTimers; ++i) {
      ev_timer_set(&timers[i], double(delays[i]) * 1e-9, 0.);
      ev_timer_start(loop, &timers[i]);
    }
    if (mode == TimerMode::fire) {
      settle(state);
      ev_run(loop, 0);  // returns when no watcher is active: every timer has fired
    } else {
      for (auto& t : timers) ev_timer_stop(loop, &t);
    }
  }
  finish_timers(state, fired, mode);
  ev_loop_destroy(loop);
}

namespace {
struct Wakeup {
  ev_async request, quit;
  std::atomic<std::uint32_t> seq{0};
  Reply reply;
};
}  // namespace

void libev_wakeup(benchmark::State& state) {
  PinHere pin;
  struct ev_loop* loop = new_loop();
  Wakeup w;
  ev_async_init(
      &w.request, +[](struct ev_loop*, ev_async* a, int) {
        auto* w = static_cast<Wakeup*>(a->data);
        w->reply.answer(w->seq.load(std::memory_order_acquire));
      });
  ev_async_init(
      &w.quit, +[](struct ev_loop* l, ev_async*, int) { ev_break(l, EVBREAK_ALL); });
  w.request.data = &w;
  ev_async_start(loop, &w.request);
  ev_async_start(loop, &w.quit);
  std::thread thread([&] { ev_run(loop, 0); });
  std::uint32_t seq = 0;
  for (auto _ : state) {
    ++seq;
    w.seq.store(seq, std::memory_order_release);
    ev_async_send(loop, &w.request);
    w.reply.await(seq);
  }
  ev_async_send(loop, &w.quit);
  thread.join();
  ev_loop_destroy(loop);
}

}  // namespace loop_bench
