// The loop core: asyncio's model (ready queue, timer heap, selector) over any Poller.
// Internal; users see only grove::EventLoop.
#pragma once

#include "poller.hpp"

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

namespace grove::detail {

class CoreLoop;
class SignalPipe;

struct TimerNode final : RefCounted {
  CoreLoop* loop = nullptr;
  Callback cb;
  std::int64_t at = 0;        // deadline, ns on the loop's clock
  std::uint64_t seq = 0;      // tie-break: scheduling order
  Duration interval{0};       // non-zero: repeating
  int heap_index = -1;        // -1: not scheduled
  bool cancelled = false;
  bool referenced = true;
};

struct IoNode final : RefCounted {
  CoreLoop* loop = nullptr;
  EventLoop::IoCallback cb;
  int fd = -1;
  Events events = Events::none;
  bool active = false;
  bool referenced = true;
  bool attached = true;  // still listed on its fd
  bool in_callback = false;
};

struct SignalNode final : RefCounted {
  CoreLoop* loop = nullptr;
  EventLoop::SignalCallback cb;
  int signum = 0;
  bool active = false;
  bool referenced = true;
  bool attached = true;
  bool in_callback = false;
};

class CoreLoop final : public EventLoop {
 public:
  explicit CoreLoop(std::unique_ptr<Poller> poller);
  ~CoreLoop() override;

  void call_soon(Callback cb) override;
  void call_soon_threadsafe(Callback cb) override;
  Timer call_at(TimePoint when, Callback cb) override;
  Timer call_every(Duration interval, Callback cb) override;
  IoWatcher watch(int fd, Events events, IoCallback cb) override;
  void forget_fd(int fd) override;
  SignalWatcher watch_signal(int signum, SignalCallback cb) override;
  void run() override;
  bool run_once(bool block) override;
  void stop() override { stopping_ = true; }
  bool is_running() const override { return running_depth_ > 0; }
  bool alive() const override { return !ready_.empty() || referenced_ > 0; }
  void work_started() override { ++referenced_; }
  void work_finished() override { --referenced_; }
  void reinit_after_fork() override;
  const Capabilities& capabilities() const override { return caps_; }

  // --- used by the handles (handles.cpp) ---
  void cancel_timer(TimerNode* t);
  void set_timer_ref(TimerNode* t, bool referenced);
  void start_io(IoNode* w);
  void stop_io(IoNode* w);
  void set_io_events(IoNode* w, Events events);
  void set_io_ref(IoNode* w, bool referenced);
  void close_io(IoNode* w);
  void start_signal(SignalNode* s);
  void stop_signal(SignalNode* s);
  void set_signal_ref(SignalNode* s, bool referenced);
  void close_signal(SignalNode* s);
  // --- used by the signal pipe ---
  void dispatch_signal(int signum);

 private:
  struct FdState {
    std::vector<IoNode*> watchers;  // each holds a reference; nullptr: removed mid-dispatch
    Events registered = Events::none;
    bool dirty = false;
    int dispatching = 0;
  };

  void iterate(bool block);
  Duration poll_timeout(bool block) const;
  void drain_remote();
  void run_ready();
  void invoke(Callback& cb, const char* context);

  // timers (timers.cpp)
  void heap_push(TimerNode* t);
  void heap_remove(TimerNode* t);
  void heap_up(int i);
  void heap_down(int i);
  void fire_due_timers();
  // fds (io.cpp)
  FdState& fd_state(int fd);
  void mark_dirty(int fd);
  void apply_fd_changes();
  void dispatch_io(const ReadyEvent& ev);
  void close_watchers_of(int fd);
  void compact(FdState& st);
  void count(bool active, bool referenced, int delta) {
    if (active && referenced) referenced_ += delta;
  }

  std::unique_ptr<Poller> poller_;
  const Capabilities& caps_;

  std::vector<Callback> ready_;
  std::vector<Callback> running_batch_;
  std::mutex remote_mutex_;
  std::vector<Callback> remote_;
  std::atomic<bool> remote_pending_{false};
  std::atomic<bool> wake_sent_{false};

  struct HeapEntry {
    std::int64_t at;
    TimerNode* node;
  };
  std::vector<HeapEntry> heap_;
  std::uint64_t timer_seq_ = 0;

  std::vector<FdState> fds_;
  std::vector<int> dirty_fds_;
  std::vector<ReadyEvent> ready_events_;

  std::vector<std::vector<SignalNode*>> signals_;  // by signum
  std::unique_ptr<SignalPipe> signal_pipe_;

  std::int64_t referenced_ = 0;  // active referenced watchers/timers + work_started()
  int running_depth_ = 0;
  bool stopping_ = false;
};

// The self-pipe that carries signals from grove's process-wide handler to one loop.
class SignalPipe {
 public:
  explicit SignalPipe(CoreLoop& loop);
  ~SignalPipe();
  void add(int signum);     // installs the process handler for signum if first anywhere
  void remove(int signum);  // restores the old disposition if last anywhere
  void after_fork();

 private:
  void open_pipe();
  void on_readable();
  CoreLoop& loop_;
  int slot_ = -1;
  int read_fd_ = -1;
  int write_fd_ = -1;
  IoWatcher watcher_;
};

}  // namespace grove::detail
