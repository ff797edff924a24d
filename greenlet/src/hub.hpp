// The hub: the per-OS-thread scheduler of green threads. Internal to grove::green.
//
// Switching model: every context (the OS thread's own stack, "root"; the hub's fiber; each
// green thread) is a GreenletBase. A context that waits picks the next one to run itself
// (next_to_run): the head of the run queue, or the hub's fiber when it is time to poll the
// loop (the queue is empty, or kPollEvery green threads ran since the last poll). So a
// yield between two green threads is one context switch, and the loop is still polled
// often enough that a yield loop cannot starve I/O or timers.
#pragma once

#include <grove/green/detail/core.hpp>
#include <grove/green/greenlet.hpp>

#include "stack_pool.hpp"

#include <boost/context/detail/fcontext.hpp>

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

using boost::context::detail::transfer_t;

// A context that is not a spawned green thread: root and the hub's fiber.
class PlainGreenlet final : public GreenletBase {
 public:
  PlainGreenlet() = default;
  ~PlainGreenlet() override = default;
};

class Hub {
 public:
  // Green threads run at most this many turns between two polls of the loop.
  static constexpr int kPollEvery = 64;
  static constexpr std::size_t kHubStackSize = 256 * 1024;

  // The calling thread's hub, created on first use.
  static Hub& get();
  static Hub* get_if_exists() noexcept;

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

  // --- scheduling (scheduler.cpp / hub.cpp) ---------------------------------------------
  void start(GreenletBase* g);
  // Throws std::logic_error in the hub and the pending exception, if any (a switch point).
  void check_can_park();
  // check_can_park(), then park_now().
  Wake park(Parking* parking, std::optional<TimePoint> deadline);
  // Parks without the checks; returns why it woke.
  Wake park_now(Parking* parking, std::optional<TimePoint> deadline);
  bool wake(GreenletBase* g, Wake why) noexcept;
  void throw_into(GreenletBase* g, std::exception_ptr error);
  void yield();
  void kill(GreenletBase* g, std::exception_ptr error, bool block, std::optional<Duration> timeout);
  bool wait_dead(GreenletBase* g, std::optional<Duration> timeout);
  std::size_t live_count() const noexcept { return live_count_; }

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
  void arrive(transfer_t t);
  void reap(GreenletBase* dead) noexcept;
  bool prepare(GreenletBase* g) noexcept;
  static void entry(transfer_t t) noexcept;
  void note_switch(GreenletBase* next) noexcept;

  // --- scheduling -----------------------------------------------------------------------
  void enqueue(GreenletBase* g) noexcept;
  GreenletBase* dequeue() noexcept;
  void unqueue(GreenletBase* g) noexcept;
  GreenletBase* next_ready() noexcept;
  GreenletBase* next_to_run() noexcept;
  void run_green(GreenletBase* g) noexcept;
  void finish(GreenletBase* g) noexcept;
  void die_unstarted(GreenletBase* g, std::exception_ptr error) noexcept;
  void hub_main() noexcept;
  void poll_once() noexcept;
  void on_stuck() noexcept;
  void link_live(GreenletBase* g) noexcept;
  void unlink_live(GreenletBase* g) noexcept;

  std::unique_ptr<EventLoop> loop_;
  GreenRef root_;
  GreenRef self_;
  GreenletBase* current_ = nullptr;
  EhState* eh_ = nullptr;  // this thread's __cxa_eh_globals
  StackPool stacks_;

  GreenletBase* run_head_ = nullptr;
  GreenletBase* run_tail_ = nullptr;
  int runs_since_poll_ = 0;
  GreenletBase* live_head_ = nullptr;
  std::size_t live_count_ = 0;
  std::uint64_t ids_ = 0;
  bool stopping_ = false;
  bool shut_down_ = false;

  std::vector<FdSlot> fds_;

  std::vector<GreenLoop*> facades_;
  std::unique_ptr<GreenLoop> own_facade_;
  int nonblocking_polls_ = 0;

  std::shared_ptr<HubMonitor> monitor_;
  std::shared_ptr<Remote> remote_;
  std::unique_ptr<AltStack> alt_stack_;

  friend struct HubAccess;
};

// The hub of the calling thread, if it has one. Read by the overflow signal handler.
extern thread_local Hub* t_hub;

// hub.cpp / switch.cpp
std::optional<TimePoint> deadline_for(std::optional<Duration> timeout);
EhState* current_eh_globals() noexcept;
void init_machine_state(GreenletBase* root) noexcept;

// diagnostics.cpp
void report(std::string_view message);
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
bool detector_on() noexcept;
void start_detector_from_env();

}  // namespace grove::green::detail
