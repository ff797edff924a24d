// grove::EventLoop — the contract every engine meets.
//
// One EventLoop runs on one OS thread at a time. Every member is called from that thread,
// except call_soon_threadsafe(), which any thread may call. The engines asio, libev and
// libevent differ only in the readiness poller underneath; the ready queue, the timer heap,
// fd-watcher multiplexing, signal delivery and the poll timeout live in the shared core, so
// behaviour is identical on them. The `green` engine (greenlet/) forwards to its thread's
// hub loop, one of those, and differs in one point, which its capabilities().emulated
// names: a watcher made through a green loop belongs to the hub's loop and stays active()
// after the green loop is destroyed (inert: its callback no longer runs) until it is
// closed. What an engine cannot do natively is listed in capabilities().emulated.
//
//   auto loop = grove::make_loop();                // GROVE_LOOP, else the build default
//   loop->call_later(10ms, [&] { loop->stop(); });
//   loop->run();
#pragma once

#include <grove/function.hpp>

#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace grove {

using Clock = std::chrono::steady_clock;
using Duration = std::chrono::nanoseconds;
using TimePoint = std::chrono::time_point<Clock, Duration>;

// Readiness bits. `closed` is delivered once to every watcher on an fd that the loop was
// told is going away (close_fd/forget_fd) or that the poller found invalid; such a watcher
// is stopped before its callback runs.
enum class Events : unsigned { none = 0, read = 1, write = 2, closed = 4 };
constexpr Events operator|(Events a, Events b) { return Events(unsigned(a) | unsigned(b)); }
constexpr Events operator&(Events a, Events b) { return Events(unsigned(a) & unsigned(b)); }
constexpr Events operator~(Events a) { return Events(~unsigned(a) & 7u); }
constexpr Events& operator|=(Events& a, Events b) { return a = a | b; }
constexpr bool any(Events e) { return e != Events::none; }

class EventLoop;

namespace detail {

// Intrusive, single-threaded reference counting for loop objects: handles and the loop
// share them, and nothing here is touched from two threads.
class RefCounted {
 public:
  void retain() noexcept { ++refs_; }
  void release() noexcept {
    if (--refs_ == 0) delete this;
  }

 protected:
  virtual ~RefCounted() = default;

 private:
  std::uint32_t refs_ = 0;
};

template <class T>
class Ref {
 public:
  Ref() = default;
  explicit Ref(T* p) : p_(p) {
    if (p_) p_->retain();
  }
  Ref(const Ref& o) : Ref(o.p_) {}
  Ref(Ref&& o) noexcept : p_(o.p_) { o.p_ = nullptr; }
  Ref& operator=(Ref o) noexcept {
    std::swap(p_, o.p_);
    return *this;
  }
  ~Ref() {
    if (p_) p_->release();
  }
  T* get() const { return p_; }
  T* operator->() const { return p_; }
  T& operator*() const { return *p_; }
  explicit operator bool() const { return p_ != nullptr; }
  bool operator==(const Ref& o) const { return p_ == o.p_; }

 private:
  T* p_ = nullptr;
};

struct TimerNode;
struct IoNode;
struct SignalNode;

}  // namespace detail

// A scheduled callback from call_at/call_later/call_every. Copies share the timer.
// Dropping every handle does NOT cancel it (as with asyncio's TimerHandle); cancel() does.
class Timer {
 public:
  Timer() noexcept;
  explicit Timer(detail::Ref<detail::TimerNode> node) noexcept;
  Timer(const Timer&) noexcept;
  Timer(Timer&&) noexcept;
  Timer& operator=(const Timer&) noexcept;
  Timer& operator=(Timer&&) noexcept;
  ~Timer();

  // After cancel() returns the callback never runs (again). Idempotent; safe from the
  // timer's own callback (stops a repeating timer).
  void cancel();
  // Scheduled and not yet fired (one-shot) or not cancelled (repeating).
  bool active() const;
  bool cancelled() const;
  TimePoint when() const;
  // An unreferenced timer does not keep run() alive.
  void ref();
  void unref();
  explicit operator bool() const { return bool(node_); }

 private:
  detail::Ref<detail::TimerNode> node_;
};

// A readiness watcher on one fd. Several watchers may watch one fd; the loop registers
// the union of their interests with the engine. The handle owns the watcher: destroying
// it (or close()) stops it for good. The callback receives the ready subset of events(),
// or Events::closed.
//
// Registrations persist: stopping a watcher, narrowing its events or (for a socket) closing
// the last one leaves the fd registered with the libevent engine until an event nobody
// wants arrives, so a stop/start per wait costs no system call. Hence: close an fd through
// close_fd()/forget_fd(), or close its watchers first; a watcher that is only stopped when
// its fd is closed behind the loop's back and the number reused may miss the new file's
// events when restarted. (watch() itself recognises a new file under a number whose
// watchers were all closed.)
class IoWatcher {
 public:
  IoWatcher() noexcept;
  explicit IoWatcher(detail::Ref<detail::IoNode> node) noexcept;
  IoWatcher(IoWatcher&&) noexcept;
  IoWatcher& operator=(IoWatcher&& o) noexcept;
  IoWatcher(const IoWatcher&) = delete;
  IoWatcher& operator=(const IoWatcher&) = delete;
  ~IoWatcher();

  void start();
  void stop();
  bool active() const;
  // Changes what the watcher waits for; takes effect at the next poll.
  void set_events(Events events);
  Events events() const;
  int fd() const;
  void ref();
  void unref();
  // Stops the watcher and releases it; the handle becomes empty.
  void close();
  explicit operator bool() const { return bool(node_); }

 private:
  detail::Ref<detail::IoNode> node_;
};

// A signal watcher: the callback runs on the loop's thread after the signal arrives.
// The handle owns the watcher, like IoWatcher.
class SignalWatcher {
 public:
  SignalWatcher() noexcept;
  explicit SignalWatcher(detail::Ref<detail::SignalNode> node) noexcept;
  SignalWatcher(SignalWatcher&&) noexcept;
  SignalWatcher& operator=(SignalWatcher&& o) noexcept;
  SignalWatcher(const SignalWatcher&) = delete;
  SignalWatcher& operator=(const SignalWatcher&) = delete;
  ~SignalWatcher();

  void start();
  void stop();
  bool active() const;
  int signum() const;
  void ref();
  void unref();
  void close();
  explicit operator bool() const { return bool(node_); }

 private:
  detail::Ref<detail::SignalNode> node_;
};

// What an engine is and what it does not do natively.
struct Capabilities {
  std::string engine;                 // "asio", "libev", "libevent", "green"
  std::string poller;                 // the kernel mechanism underneath, e.g. "epoll"
  Duration timer_resolution{};        // the finest wait the poller can express
  std::vector<std::string> emulated;  // features grove provides above the engine, by name
};

class EventLoop {
 public:
  using IoCallback = Function<void(Events)>;
  using SignalCallback = Function<void(int)>;
  // Receives exceptions that escape callbacks; `context` names the callback's kind and
  // source. The loop keeps running after the handler returns. The handler may rethrow to
  // make run() propagate the exception (the loop stays usable).
  using ExceptionHandler = Function<void(std::exception_ptr, std::string_view context)>;

  virtual ~EventLoop() = default;
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // --- callbacks ---------------------------------------------------------------------
  // Runs cb on a later iteration, in FIFO order with other call_soon callbacks. A callback
  // scheduled by a running callback runs on the next iteration, never the current one, so
  // a callback that reschedules itself cannot starve I/O or timers.
  virtual void call_soon(Callback cb) = 0;
  // The only thread-safe member: queues cb and wakes the loop at once if it is waiting.
  // The loop must outlive every call in progress: the call still wakes the loop after cb is
  // queued, so a loop destroyed on the strength of cb having run may race with that wake.
  // Join (or otherwise hear back from) the calling threads before destroying the loop.
  virtual void call_soon_threadsafe(Callback cb) = 0;

  // --- timers ------------------------------------------------------------------------
  // Never fire before `when`; timers due together fire in deadline order, ties in the
  // order they were scheduled.
  virtual Timer call_at(TimePoint when, Callback cb) = 0;
  Timer call_later(Duration delay, Callback cb) { return call_at(now() + delay, std::move(cb)); }
  // Repeats every `interval` (first run after one interval) until cancelled. A late loop
  // does not fire a burst to catch up: the next deadline is at least now + interval.
  virtual Timer call_every(Duration interval, Callback cb) = 0;

  // --- file descriptors ----------------------------------------------------------------
  // Starts a readiness watcher. Throws std::system_error if fd is not open, and
  // std::invalid_argument for fds that cannot be polled (regular files, directories).
  virtual IoWatcher watch(int fd, Events events, IoCallback cb) = 0;
  // The fd is going away: every watcher on it gets Events::closed (on the next iteration)
  // and is stopped, and the engine forgets it. close_fd then closes it.
  virtual void forget_fd(int fd) = 0;
  void close_fd(int fd);

  // --- signals -----------------------------------------------------------------------
  // The first watcher of a signal in the process installs grove's handler for it; the
  // previous disposition comes back when the last watcher of that signal closes.
  virtual SignalWatcher watch_signal(int signum, SignalCallback cb) = 0;

  // --- running -----------------------------------------------------------------------
  // Runs until stop() or until no referenced watcher, timer or queued callback is left.
  virtual void run() = 0;
  // One iteration: poll (waiting for the next event if `block` and nothing is ready),
  // fire due timers, run the ready callbacks. Returns whether referenced work remains.
  virtual bool run_once(bool block = true) = 0;
  // Makes run() return once the current iteration is done. Call it from the loop's thread
  // (from another thread: call_soon_threadsafe([&] { loop.stop(); })).
  virtual void stop() = 0;
  // Whether run()/run_once() is on the stack of this loop's thread.
  virtual bool is_running() const = 0;
  // Whether run() would go on: a referenced watcher or timer is active, a callback is
  // queued, or a work_started() is outstanding.
  virtual bool alive() const = 0;
  // Work that will come back through call_soon_threadsafe (a thread-pool job, a DNS
  // lookup) keeps run() going between work_started() and work_finished(). Loop thread only.
  virtual void work_started() = 0;
  virtual void work_finished() = 0;

  // --- time ----------------------------------------------------------------------------
  // Monotonic time cached at the start of each iteration; update_now() refreshes it.
  TimePoint now() const { return now_; }
  void update_now() { now_ = std::chrono::time_point_cast<Duration>(Clock::now()); }

  // --- errors --------------------------------------------------------------------------
  void set_exception_handler(ExceptionHandler handler) { handler_ = std::move(handler); }
  // Passes an exception to the handler. Without one it goes to grove's diagnostic sink
  // (grove/diagnostics.hpp): source "loop", level error, "exception in <context>: <type>:
  // <what>" with the type demangled.
  void report_exception(std::exception_ptr error, std::string_view context);

  // --- fork --------------------------------------------------------------------------
  // In a fork child that keeps using this loop: rebuilds the engine's kernel state, the
  // wake-up channel and the signal pipe. Watchers, timers and queued callbacks survive.
  virtual void reinit_after_fork() = 0;

  // --- capabilities ------------------------------------------------------------------
  virtual const Capabilities& capabilities() const = 0;
  const std::string& engine() const { return capabilities().engine; }

  // The loop whose run()/run_once() is executing on this thread, or nullptr.
  static EventLoop* current() noexcept;

 protected:
  EventLoop() { update_now(); }
  // Engines mark the loop running on this thread for the duration of a run.
  class CurrentScope {
   public:
    explicit CurrentScope(EventLoop* loop) noexcept;
    ~CurrentScope();
    CurrentScope(const CurrentScope&) = delete;
    CurrentScope& operator=(const CurrentScope&) = delete;

   private:
    EventLoop* previous_;
  };
  TimePoint now_;

 private:
  ExceptionHandler handler_;
};

// --- selection -----------------------------------------------------------------------
// Thrown when asking for an engine that was not built; what() lists the built ones.
class UnknownEngine : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// An engine that is built but cannot run here: io_uring on a kernel without it, or where
// /proc/sys/kernel/io_uring_disabled or a seccomp policy forbids it. The message names the
// reason.
class EngineUnavailable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A new loop of the engine named by GROVE_LOOP, or of default_engine() if unset. An
// unavailable default falls back to the next built engine that runs (in the build's order)
// with a warning through the diagnostics sink; an engine named by GROVE_LOOP does not.
std::unique_ptr<EventLoop> make_loop();
// A new loop of the named engine; throws UnknownEngine if it was not built and
// EngineUnavailable if it cannot run on this system.
std::unique_ptr<EventLoop> make_loop(std::string_view engine);
// Engines compiled in (and registered, e.g. "green" once greenlet/ is linked), sorted.
std::vector<std::string> built_engines();
// The build's default engine (CMake GROVE_DEFAULT_ENGINE).
std::string default_engine();
// The engine make_loop() picks: GROVE_LOOP if set (validated), else default_engine().
std::string selected_engine();
// The names above before they said "engine"; they forward to them.
[[deprecated("use grove::built_engines()")]] inline std::vector<std::string> built_backends() {
  return built_engines();
}
[[deprecated("use grove::default_engine()")]] inline std::string default_backend() {
  return default_engine();
}
[[deprecated("use grove::selected_engine()")]] inline std::string selected_backend() {
  return selected_engine();
}
// The library's version, "MAJOR.MINOR.PATCH".
std::string_view version() noexcept;

// For engines that live outside backends/ (greenlet's `green`): makes
// make_loop(name) call factory. Registering a name twice replaces the factory.
using EngineFactory = std::unique_ptr<EventLoop> (*)();
void register_engine(std::string name, EngineFactory factory);

}  // namespace grove
