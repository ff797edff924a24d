// The hub: the per-OS-thread scheduler of green threads. Internal to grove::green.
//
// Switching model: every context (the OS thread's own stack, "root"; the hub's fiber; each
// green thread) is a GreenletBase. A context that waits picks the next one to run itself
// (next_to_run): the head of the run queue, or the hub's fiber when it is time to poll the
// loop: the queue is empty, or kPollEvery green threads ran and kPollInterval passed since
// the last poll. So a yield between two green threads is one context switch, and the loop
// is still polled often enough that a yield loop cannot starve I/O or timers: about every
// kPollInterval when turns are short, every kPollEvery turns when they are long.
#pragma once

#include <grove/diagnostics.hpp>
#include <grove/green/detail/core.hpp>
#include <grove/green/greenlet.hpp>
#include <grove/green/introspect.hpp>

#include "context.hpp"
#include "monitor.hpp"
#include "stack_pool.hpp"

#include <cstdint>
#include <memory>
#include <vector>

namespace grove::green::detail {

struct HubMonitor;
class GreenLoop;
struct AltStack;
class Hub;

// A green thread waiting on an fd (lives on its stack).
struct FdWait final : Parking {
  Hub* hub = nullptr;
  int fd = -1;
  GreenletBase* green = nullptr;
  Events got = Events::none;
  void cancel() noexcept override;
};

// The hub's state for one fd: a cached watcher (created on the first wait, kept while the fd
// lives, so that a wait costs no watcher allocation) and who waits in each direction.
struct FdSlot {
  IoWatcher watcher;
  FdWait* reader = nullptr;
  FdWait* writer = nullptr;
};

// Initial-exec TLS: grove is built position-independent, and the default model for that
// would make every access to the hub a call to __tls_get_addr.
#if defined(__GNUC__)
#define GROVE_GREEN_TLS __attribute__((tls_model("initial-exec")))
#else
#define GROVE_GREEN_TLS
#endif

// Whether run-queue timing is on (introspect.hpp): what enqueue and dequeue check.
extern std::atomic<bool> g_queue_timing_on;
inline bool queue_timing_on() noexcept { return g_queue_timing_on.load(std::memory_order_relaxed); }
std::int64_t monotonic_ns() noexcept;

// The hub of the calling thread, if it has one. Also read by the overflow signal handler.
extern constinit thread_local Hub* t_hub GROVE_GREEN_TLS;

// A context that is not a spawned green thread: root and the hub's fiber.
class PlainGreenlet final : public GreenletBase {
 public:
  PlainGreenlet() = default;
  ~PlainGreenlet() override = default;
};

class Hub {
 public:
  // Green threads run this many turns between two looks at the clock; the hub polls the
  // loop at such a look when kPollInterval has passed since its last poll. A poll is a
  // system call (about 0.4 us here); polling every 64 turns made it a third of the cost of
  // a yield.
  static constexpr int kPollEvery = 64;
  static constexpr Duration kPollInterval = std::chrono::microseconds(50);
  static constexpr std::size_t kHubStackSize = 256 * 1024;

  // The calling thread's hub, created on first use.
  static Hub& get();
  static Hub* get_if_exists() noexcept;
  static Hub& create();

  Hub();
  ~Hub();
  Hub(const Hub&) = delete;
  Hub& operator=(const Hub&) = delete;

  EventLoop& loop() noexcept { return *loop_; }
  GreenletBase* running() const noexcept { return current_; }
  GreenletBase* root() const noexcept { return root_.get(); }
  GreenletBase* self() const noexcept { return self_.get(); }
  bool in_hub() const noexcept { return current_ == self_.get(); }
  std::uint64_t next_id() noexcept { return ++ids_; }
  StackPool& stacks() noexcept { return stacks_; }
  HubMonitor& monitor() noexcept { return *monitor_; }

  // --- scheduling (hub.cpp) --------------------------------------------------------------
  void start(GreenletBase* g);
  // Throws std::logic_error in the hub and the pending exception, if any (a switch point).
  void check_can_park();
  [[noreturn]] void cannot_park();
  // check_can_park(), then park_now().
  Wake park(Parking* parking, std::optional<TimePoint> deadline);
  // Parks without the checks; returns why it woke.
  Wake park_now(Parking* parking, std::optional<TimePoint> deadline);
  Wake park_until(Parking* parking, TimePoint deadline);
  bool wake(GreenletBase* g, Wake why) noexcept;
  void throw_into(GreenletBase* g, std::exception_ptr error);
  void yield();
  void kill(GreenletBase* g, std::exception_ptr error, bool block, std::optional<Duration> timeout);
  bool wait_dead(GreenletBase* g, std::optional<Duration> timeout);
  Wake wait_in(WaitList& list, Waiter& w, std::optional<Duration> timeout);
  [[noreturn]] void cannot_join_self(GreenletBase* g);
  std::size_t live_count() const noexcept { return live_count_; }
  // The live green threads, newest first (the dump walks them).
  GreenletBase* live_head() const noexcept { return live_head_; }
  const RunQueueDelay& queue_delay() const noexcept { return queue_delay_; }

  // --- fd waits (fd_wait.cpp) -----------------------------------------------------------
  Events wait_fd(int fd, Events events, std::optional<Duration> timeout);
  void forget_fd(int fd);
  void drop_fd_wait(FdWait& w) noexcept;
  void on_fd_event(int fd, Events events) noexcept;
  void update_interest(FdSlot& slot) noexcept;

  // --- the green engine (green_loop.cpp) ------------------------------------------------
  void add_facade(GreenLoop* loop);
  void remove_facade(GreenLoop* loop) noexcept;
  bool has_facade(const GreenLoop* loop) const noexcept;
  GreenLoop& own_facade();  // the facade that is the hub's own "running loop"
  void request_nonblocking_poll() noexcept { ++nonblocking_polls_; }
  bool has_runnable() const noexcept { return run_head_ != nullptr; }

  // --- the thread pool (thread_pool.cpp) ------------------------------------------------
  // Shared with worker threads: lets a late job find out the hub is gone.
  struct Remote;
  const std::shared_ptr<Remote>& remote() const noexcept { return remote_; }

  // Runs the hub's shutdown; the destructor does the rest.
  void shutdown();

 private:
  // --- switching (switch.cpp) -----------------------------------------------------------
  void switch_to(GreenletBase* next);
  [[noreturn]] void exit_to(GreenletBase* next);
  void arrive(Transfer t);
  Transfer resume(GreenletBase* next, GreenletBase* self) noexcept;
  Transfer leave_dead(GreenletBase* self, GreenletBase* next) noexcept;
  void reap(GreenletBase* dead) noexcept;
  bool prepare(GreenletBase* g) noexcept;
  static EntryResult entry(Transfer t) noexcept;
  void note_switch(GreenletBase* next) noexcept;

  // --- scheduling -----------------------------------------------------------------------
  void enqueue(GreenletBase* g) noexcept;
  GreenletBase* dequeue() noexcept;
  void unqueue(GreenletBase* g) noexcept;
  GreenletBase* next_ready() noexcept;
  GreenletBase* next_to_run() noexcept;
  bool poll_due() const noexcept;
  GreenletBase* hub_fiber() noexcept;
  void run_green(GreenletBase* g) noexcept;
  void finish(GreenletBase* g) noexcept;
  void die_unstarted(GreenletBase* g, std::exception_ptr error) noexcept;
  void hub_main() noexcept;
  void poll_once() noexcept;
  void on_stuck() noexcept;
  void link_live(GreenletBase* g) noexcept;
  void unlink_live(GreenletBase* g) noexcept;
  // run_queue_delay.cpp: `g` leaves the run queue for the CPU; counts its wait.
  void note_queue_delay(GreenletBase* g) noexcept;

  std::unique_ptr<EventLoop> loop_;
  GreenRef root_;
  GreenRef self_;
  GreenletBase* current_ = nullptr;
  EhState* eh_ = nullptr;  // this thread's __cxa_eh_globals
  StackPool stacks_;

  GreenletBase* run_head_ = nullptr;
  GreenletBase* run_tail_ = nullptr;
  int runs_since_poll_ = 0;
  TimePoint last_poll_{};
  GreenletBase* live_head_ = nullptr;
  std::size_t live_count_ = 0;
  std::uint64_t ids_ = 0;
  bool stopping_ = false;
  bool shut_down_ = false;

  std::vector<FdSlot> fds_;

  std::vector<GreenLoop*> facades_;
  std::unique_ptr<GreenLoop> own_facade_;
  int nonblocking_polls_ = 0;

  RunQueueDelay queue_delay_;

  std::shared_ptr<HubMonitor> monitor_;
  std::shared_ptr<Remote> remote_;
  std::unique_ptr<AltStack> alt_stack_;

  friend struct HubAccess;
};

// Inline below: what every switch and every wait goes through.

inline Hub* Hub::get_if_exists() noexcept { return t_hub; }

inline Hub& Hub::get() {
  if (Hub* h = t_hub) [[likely]]
    return *h;
  return create();
}

inline void Hub::note_switch(GreenletBase* next) noexcept {
  if (detector_on()) [[unlikely]]
    monitor_->note(next);
}

inline void Hub::enqueue(GreenletBase* g) noexcept {
  if (queue_timing_on()) [[unlikely]]
    g->runnable_since = monotonic_ns();
  g->queued = true;
  g->run_next = nullptr;
  g->run_prev = run_tail_;
  if (run_tail_) run_tail_->run_next = g;
  else run_head_ = g;
  run_tail_ = g;
}

inline void Hub::unqueue(GreenletBase* g) noexcept {
  if (!g->queued) return;
  (g->run_prev ? g->run_prev->run_next : run_head_) = g->run_next;
  (g->run_next ? g->run_next->run_prev : run_tail_) = g->run_prev;
  g->run_prev = g->run_next = nullptr;
  g->queued = false;
}

inline GreenletBase* Hub::dequeue() noexcept {
  GreenletBase* g = run_head_;
  if (!g) return nullptr;
  run_head_ = g->run_next;
  if (run_head_) run_head_->run_prev = nullptr;
  else run_tail_ = nullptr;
  g->run_next = nullptr;
  g->queued = false;
  return g;
}

inline GreenletBase* Hub::next_ready() noexcept {
  while (GreenletBase* g = dequeue())
    if (g->started || prepare(g)) [[likely]] {
      if (queue_timing_on()) [[unlikely]]
        note_queue_delay(g);
      return g;
    }
  return nullptr;
}

inline bool Hub::poll_due() const noexcept { return Clock::now() - last_poll_ >= kPollInterval; }

// What runs when the running context stops: the head of the run queue, unless it is time
// for the hub to poll (the queue is empty, or kPollEvery turns ran and the poll is due).
inline GreenletBase* Hub::next_to_run() noexcept {
  if (runs_since_poll_ >= kPollEvery) [[unlikely]] {
    if (poll_due()) return hub_fiber();
    runs_since_poll_ = 0;
  }
  if (GreenletBase* g = next_ready()) {
    ++runs_since_poll_;
    return g;
  }
  return hub_fiber();
}

inline void Hub::check_can_park() {
  if (current_->is_hub || current_->pending || current_->state == State::dead) [[unlikely]]
    cannot_park();
}

inline bool Hub::wake(GreenletBase* g, Wake why) noexcept {
  if (g->state != State::parked) return false;
  g->wake_reason = why;
  if (Parking* p = std::exchange(g->parking, nullptr)) p->cancel();
  g->state = State::runnable;
  enqueue(g);
  return true;
}

inline Wake Hub::park_now(Parking* parking, std::optional<TimePoint> deadline) {
  if (deadline) return park_until(parking, *deadline);
  GreenletBase* self = current_;
  self->parking = parking;
  self->wake_reason = Wake::none;
  self->state = State::parked;
  switch_to(next_to_run());
  return self->wake_reason;
}

inline void Hub::yield() {
  check_can_park();
  GreenletBase* self = current_;
  self->state = State::runnable;
  enqueue(self);
  switch_to(next_to_run());
  if (self->pending) [[unlikely]]
    throw_pending();
}

inline void Hub::link_live(GreenletBase* g) noexcept {
  g->live_prev = nullptr;
  g->live_next = live_head_;
  if (live_head_) live_head_->live_prev = g;
  live_head_ = g;
  monitor_->live.store(++live_count_, std::memory_order_relaxed);
}

inline void Hub::unlink_live(GreenletBase* g) noexcept {
  if (g->live_prev) g->live_prev->live_next = g->live_next;
  else if (live_head_ == g) live_head_ = g->live_next;
  else return;  // not listed
  if (g->live_next) g->live_next->live_prev = g->live_prev;
  g->live_prev = g->live_next = nullptr;
  monitor_->live.store(--live_count_, std::memory_order_relaxed);
}

inline void Hub::start(GreenletBase* g) {
  g->retain();  // the hub's reference, dropped when its stack is reaped
  g->born = loop_->now();
  link_live(g);
  g->state = State::created;
  enqueue(g);
}

// Parks in `list` until notified (true), or until the timeout or an exception (false, or
// thrown). The waiter lives on the caller's stack.
inline Wake Hub::wait_in(WaitList& list, Waiter& w, std::optional<Duration> timeout) {
  check_can_park();
  if (timeout && *timeout <= Duration::zero()) return Wake::timed_out;
  w.green = current_;
  list.push_back(w);
  if (!timeout) [[likely]]
    return park_now(&w, std::nullopt);
  try {
    return park_until(&w, std::chrono::time_point_cast<Duration>(Clock::now()) + *timeout);
  } catch (...) {
    list.remove(w);
    throw;
  }
}

inline bool Hub::wait_dead(GreenletBase* g, std::optional<Duration> timeout) {
  if (g->state == State::dead) return true;
  if (g == current_) [[unlikely]]
    cannot_join_self(g);
  Waiter w;
  if (wait_in(g->joiners, w, timeout) == Wake::notified) return true;
  throw_pending();
  return g->state == State::dead;
}

inline std::optional<TimePoint> deadline_for(std::optional<Duration> timeout) {
  if (!timeout) return std::nullopt;
  return std::chrono::time_point_cast<Duration>(Clock::now()) + *timeout;
}

// hub.cpp / switch.cpp
EhState* current_eh_globals() noexcept;
void init_machine_state(GreenletBase* root) noexcept;

// diagnostics.cpp
// The hub's diagnostics: to the green sink if one is set, else to grove::report() (source
// "green"). Messages start with "grove: ", which the standard line adds itself.
void report(std::string_view message, Severity level = Severity::error);
std::string describe(std::exception_ptr error);
std::string describe_current_exception();

// overflow.cpp
void install_overflow_handler();
struct AltStack {
  AltStack();
  ~AltStack();
  void* memory = nullptr;
  std::size_t size = 0;
};

// blocking_detector.cpp
void start_detector_from_env();

}  // namespace grove::green::detail

#include "switch.hpp"
