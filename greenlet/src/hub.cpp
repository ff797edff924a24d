// The hub: creation per OS thread, the run queue, park/wake, kill, the hub's own loop turn,
// "would block forever", and shutdown at thread exit.
#include "hub.hpp"

#include "green_loop_impl.hpp"
#include "monitor.hpp"
#include "thread_pool_impl.hpp"

#include <grove/green/green_loop.hpp>

#include <mutex>
#include <string>

namespace grove::green::detail {

constinit thread_local Hub* t_hub GROVE_GREEN_TLS = nullptr;

namespace {

// Owns the thread's hub; its destructor runs at thread exit.
struct HubOwner {
  std::unique_ptr<Hub> hub;
  ~HubOwner() {
    if (!hub) return;
    if (hub->running() != hub->root()) {
      // The thread ends from inside a green thread (exit() or pthread_exit() there): nothing
      // can be unwound safely, so everything is left as it is.
      (void)hub.release();
      t_hub = nullptr;
      return;
    }
    hub->shutdown();
    hub.reset();
    t_hub = nullptr;
  }
};
thread_local HubOwner t_owner;

// Each green thread has its own ExecutionContext; the main context keeps the OS thread's.
ExecutionContext* green_context() noexcept {
  Hub* hub = t_hub;
  if (!hub) return nullptr;
  GreenletBase* g = hub->running();
  return g->is_root ? nullptr : &g->context;
}

std::unique_ptr<EventLoop> make_hub_loop() {
  std::string engine = selected_engine();
  // GROVE_LOOP=green asks for green loops; the hub underneath them needs a real engine.
  if (engine == "green") engine = default_engine();
  return make_loop(engine);
}

bool is_greenlet_exit(const std::exception_ptr& e) noexcept {
  if (!e) return false;
  try {
    std::rethrow_exception(e);
  } catch (const GreenletExit&) {
    return true;
  } catch (...) {
    return false;
  }
}

}  // namespace

Hub& Hub::create() {
  auto hub = std::make_unique<Hub>();
  t_hub = hub.get();
  t_owner.hub = std::move(hub);
  return *t_hub;
}

Hub::Hub() : loop_(make_hub_loop()), root_(new PlainGreenlet), self_(new PlainGreenlet) {
  static std::once_flag once;
  std::call_once(once, [] {
    set_context_provider(&green_context);
    register_green_engine();
    start_detector_from_env();
  });
  // Again for every hub: a handler installed since the last one (a test framework's, say)
  // would otherwise see our guard-page faults first.
  install_overflow_handler();
  alt_stack_ = std::make_unique<AltStack>();
  eh_ = current_eh_globals();

  root_->hub = this;
  root_->is_root = true;
  root_->started = true;
  root_->state = State::running;
  root_->name = "main";
  init_machine_state(root_.get());

  self_->hub = this;
  self_->is_hub = true;
  self_->name = "hub";
  self_->stack_size = kHubStackSize;

  current_ = root_.get();
  monitor_ = register_monitor();
  remote_ = make_remote(loop_.get());
}

Hub::~Hub() {
  shutdown();
  own_facade_.reset();
  for (GreenLoop* f : facades_) f->detach_hub();
  facades_.clear();
  fds_.clear();
  // Whatever would not die is abandoned: its stack stays mapped (it may hold pointers into
  // it), its handles see it dead.
  while (GreenletBase* g = live_head_) {
    report("grove: green thread '" + g->display_name() +
           "' did not exit when its OS thread ended; it is abandoned");
    unlink_live(g);
    if (g->queued) unqueue(g);
    g->stack = Stack{};
    g->state = State::dead;
    g->hub = nullptr;
    g->release();
  }
  unregister_monitor(monitor_);
  root_->state = State::dead;
  root_->hub = nullptr;
  self_->state = State::dead;
  self_->hub = nullptr;
  loop_.reset();
}

// --- the hub's own fiber --------------------------------------------------------------------

void Hub::hub_main() noexcept {
  while (!stopping_) {
    poll_once();
    runs_since_poll_ = 0;
    if (GreenletBase* g = next_ready()) {
      ++runs_since_poll_;
      switch_to(g);
    }
  }
}

void Hub::poll_once() noexcept {
  bool block = run_head_ == nullptr && nonblocking_polls_ == 0;
  nonblocking_polls_ = 0;
  if (block && !loop_->alive()) {
    on_stuck();
    if (run_head_) return;
    block = false;
  }
  if (block) note_switch(nullptr);  // idle in the poller, not holding the hub
  try {
    loop_->run_once(block);
  } catch (...) {
    report("grove: the hub's loop threw: " + describe_current_exception());
  }
  if (block) note_switch(self_.get());
  last_poll_ = std::chrono::time_point_cast<Duration>(Clock::now());
  // Facades may be added or removed by what runs below; iterate over a copy.
  if (!facades_.empty()) {
    std::vector<GreenLoop*> facades = facades_;
    for (GreenLoop* f : facades) f->after_turn();
  }
}

// Nothing is runnable and the loop has no referenced work: no wait can ever end. Loops
// running on the green engine simply finish; otherwise the main context hears it (gevent's
// LoopExit), or, if it is not waiting, every waiting green thread does.
void Hub::on_stuck() noexcept {
  bool woke = false;
  if (!facades_.empty()) {
    std::vector<GreenLoop*> facades = facades_;
    for (GreenLoop* f : facades) woke |= f->finish_waiters();
  }
  if (woke) return;
  auto message = [&](GreenletBase* g) {
    std::size_t others = 0;
    for (GreenletBase* l = live_head_; l; l = l->live_next)
      if (l != g && l->state == State::parked) ++others;
    return "grove: green thread '" + g->display_name() +
           "' would block forever: no green thread can run and the hub's loop (engine " +
           loop_->engine() +
           ") has no referenced watcher, timer, callback or outstanding work left that could "
           "wake it (" +
           std::to_string(others) +
           " other green threads wait too). What it waits for can no longer happen: look "
           "for a missing set()/release()/put(), or give the wait a timeout";
  };
  auto throw_stuck = [&](GreenletBase* g) {
    try {
      throw_into(g, std::make_exception_ptr(WouldBlockForever(message(g))));
    } catch (...) {
    }
  };
  if (root_->state == State::parked) {
    throw_stuck(root_.get());
    return;
  }
  std::vector<GreenletBase*> parked;
  for (GreenletBase* g = live_head_; g; g = g->live_next)
    if (g->state == State::parked) parked.push_back(g);
  for (GreenletBase* g : parked) throw_stuck(g);
  if (!run_head_) {
    report("grove: the hub has nothing to run and nothing to wait for; this is a bug in grove");
    std::abort();
  }
}

// --- a green thread's life ------------------------------------------------------------------

void Hub::run_green(GreenletBase* g) noexcept {
  try {
    throw_pending();
    g->run();
    g->exited_normally = true;
  } catch (const GreenletExit&) {
    g->exited_normally = true;
  } catch (...) {
    g->error = std::current_exception();
  }
  g->drop_function();
}

void Hub::finish(GreenletBase* g) noexcept {
  g->state = State::dead;
  if (g->pending) g->pending = nullptr;
  unlink_live(g);
  while (Waiter* w = g->joiners.pop_front()) wake(w->green, Wake::notified);
  while (LinkNode* link = g->links) {
    g->links = link->next;
    try {
      link->fn();
    } catch (...) {
      report("grove: a link callback of green thread '" + g->display_name() +
             "' threw: " + describe_current_exception());
    }
    delete link;
  }
  if (g->error)
    report("grove: green thread '" + g->display_name() + "' died: " + describe(g->error));
}

void Hub::die_unstarted(GreenletBase* g, std::exception_ptr error) noexcept {
  if (g->is_hub) {
    report("grove: cannot start the hub: " + describe(error));
    return;
  }
  if (is_greenlet_exit(error)) g->exited_normally = true;
  else g->error = std::move(error);
  g->drop_function();
  finish(g);
  g->release();  // the hub's reference: there is no stack to reap
}

// --- park and wake --------------------------------------------------------------------------

void Hub::cannot_park() {
  if (current_->is_hub)
    throw std::logic_error(
        "grove: a blocking green call (sleep, wait, join, a lock, a queue, ...) was made "
        "inside the hub: from a loop callback or a coroutine running on the green engine. "
        "The hub cannot wait; spawn a green thread for the blocking work (green::spawn) or "
        "await instead");
  if (current_->state == State::dead)
    throw std::logic_error(
        "grove: a link callback of a dying green thread tried to wait; "
        "link callbacks must not block");
  throw_pending();
  throw std::logic_error("grove: cannot_park() without a reason");
}

Wake Hub::park(Parking* parking, std::optional<TimePoint> deadline) {
  check_can_park();
  return park_now(parking, deadline);
}

Wake Hub::park_until(Parking* parking, TimePoint deadline) {
  GreenletBase* self = current_;
  Timer timer = loop_->call_at(deadline, [this, self] { wake(self, Wake::timed_out); });
  const Wake why = park_now(parking, std::nullopt);
  timer.cancel();
  return why;
}

GreenletBase* Hub::hub_fiber() noexcept {
  GreenletBase* hub = self_.get();
  if (!hub->started && !prepare(hub)) std::abort();  // prepare() reported why
  return hub;
}

void Hub::throw_into(GreenletBase* g, std::exception_ptr error) {
  if (g->state == State::dead) return;
  if (g == current_) std::rethrow_exception(error);
  if (g->state == State::created) {
    unqueue(g);
    die_unstarted(g, std::move(error));
    return;
  }
  if (!g->pending) g->pending = std::move(error);
  wake(g, Wake::thrown);
}

void Hub::kill(GreenletBase* g, std::exception_ptr error, bool block,
               std::optional<Duration> timeout) {
  if (g->is_root || g->is_hub)
    throw std::logic_error(
        "grove: green::kill() on the main context or the hub; only spawned "
        "green threads can be killed");
  if (g->state == State::dead) return;
  if (!error) error = std::make_exception_ptr(GreenletExit{});
  throw_into(g, std::move(error));
  if (block && !in_hub()) wait_dead(g, timeout);
}

void Hub::cannot_join_self(GreenletBase* g) {
  throw std::logic_error("grove: green thread '" + g->display_name() +
                         "' tried to join itself, which would wait forever");
}

// --- shutdown at thread exit ----------------------------------------------------------------

void Hub::shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  root_->pending = nullptr;  // nothing of the main context's is left to deliver
  // As gevent does with green threads it collects: GreenletExit in each, a little time to
  // unwind (their destructors may still wait), then the hub's fiber ends.
  for (int round = 0; round < 3 && live_count_ > 0; ++round) {
    std::vector<GreenRef> live;
    for (GreenletBase* g = live_head_; g; g = g->live_next) live.emplace_back(g);
    for (auto& g : live) {
      try {
        throw_into(g.get(), std::make_exception_ptr(GreenletExit{}));
      } catch (...) {
      }
    }
    const auto deadline = Clock::now() + std::chrono::seconds(1);
    for (auto& g : live) {
      const auto left = deadline - Clock::now();
      if (left <= Duration::zero()) break;
      try {
        wait_dead(g.get(), std::chrono::duration_cast<Duration>(left));
      } catch (...) {
      }
    }
  }
  root_->pending = nullptr;
  detach_remote(*remote_);
  if (self_->started && self_->state != State::dead) {
    stopping_ = true;
    root_->state = State::parked;
    switch_to(self_.get());
  }
}

}  // namespace grove::green::detail
