// The raw libevent side (see main.cpp for what each row does).
#include "common.hpp"

#include <event2/event.h>
#include <event2/thread.h>

namespace loop_bench {

namespace {
// Single-threaded rows: no locks, as in a program that never turns libevent threading on
// (grove's libevent engine turns it on for the whole process).
event_base* new_unlocked_base() {
  event_config* cfg = event_config_new();
  event_config_set_flag(cfg, EVENT_BASE_FLAG_NOLOCK);
  event_base* base = event_base_new_with_config(cfg);
  event_config_free(cfg);
  if (!base) die("event_base_new_with_config");
  return base;
}

void count(evutil_socket_t, short, void* c) { ++*static_cast<std::uint64_t*>(c); }
}  // namespace

void libevent_post(benchmark::State& state) {
  event_base* base = new_unlocked_base();
  std::uint64_t n = 0;
  std::vector<event*> evs(kPostBatch);
  for (auto& ev : evs) ev = event_new(base, -1, 0, count, &n);
  while (state.KeepRunningBatch(kPostBatch)) {
    for (event* ev : evs) event_active(ev, EV_READ, 0);
    event_base_loop(base, EVLOOP_NONBLOCK);
  }
  check_count(state, n, state.iterations());
  for (event* ev : evs) event_free(ev);
  event_base_free(base);
}

namespace {
struct PingPong {
  event_base* base;
  SocketPair sp;
  int remaining = 0;
};

void on_a(evutil_socket_t, short, void* arg) {
  auto* p = static_cast<PingPong*>(arg);
  read1(p->sp.a);
  if (--p->remaining > 0) write1(p->sp.a);
  else event_base_loopbreak(p->base);
}

void on_b(evutil_socket_t, short, void* arg) {
  auto* p = static_cast<PingPong*>(arg);
  read1(p->sp.b);
  write1(p->sp.b);
}
}  // namespace

void libevent_pingpong(benchmark::State& state) {
  PingPong p;
  p.base = new_unlocked_base();
  event* a = event_new(p.base, p.sp.a, EV_READ | EV_PERSIST, on_a, &p);
  event* b = event_new(p.base, p.sp.b, EV_READ | EV_PERSIST, on_b, &p);
  event_add(a, nullptr);
  event_add(b, nullptr);
  while (state.KeepRunningBatch(kPingBatch)) {
    p.remaining = kPingBatch;
    write1(p.sp.a);
    event_base_loop(p.base, 0);
  }
  event_free(a);
  event_free(b);
  event_base_free(p.base);
}

void libevent_timers(benchmark::State& state, TimerMode mode) {
  event_base* base = new_unlocked_base();
  const auto& delays = timer_delays(mode);
  std::uint64_t fired = 0;
  std::vector<event*> timers(kTimers);
  for (auto& ev : timers) ev = event_new(base, -1, 0, count, &fired);
  for (auto _ : state) {
    for (int i = 0; i < kTimers; ++i) {
      std::int64_t us = delays[i] / 1000;
      timeval tv{time_t(us / 1000000), suseconds_t(us % 1000000)};
      event_add(timers[i], &tv);
    }
    if (mode == TimerMode::fire) {
      settle(state);
      event_base_loop(base, 0);  // returns when no event is pending: all have fired
    } else {
      for (event* ev : timers) event_del(ev);
    }
  }
  finish_timers(state, fired, mode);
  for (event* ev : timers) event_free(ev);
  event_base_free(base);
}

namespace {
struct Wakeup {
  std::atomic<std::uint32_t> seq{0};
  Reply reply;
};
}  // namespace

void libevent_wakeup(benchmark::State& state) {
  PinHere pin;
  evthread_use_pthreads();
  event_base* base = event_base_new();  // locked and notifiable: threading is on
  if (!base) die("event_base_new");
  Wakeup w;
  event* request = event_new(
      base, -1, 0,
      [](evutil_socket_t, short, void* arg) {
        auto* w = static_cast<Wakeup*>(arg);
        w->reply.answer(w->seq.load(std::memory_order_acquire));
      },
      &w);
  std::thread thread([&] { event_base_loop(base, EVLOOP_NO_EXIT_ON_EMPTY); });
  std::uint32_t seq = 0;
  for (auto _ : state) {
    ++seq;
    w.seq.store(seq, std::memory_order_release);
    event_active(request, EV_READ, 0);
    w.reply.await(seq);
  }
  event_base_loopbreak(base);
  thread.join();
  event_free(request);
  event_base_free(base);
}

}  // namespace loop_bench
