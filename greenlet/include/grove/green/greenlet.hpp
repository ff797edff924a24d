// Green threads: spawn, join, kill, sleep, current.
//
// A green thread is a function running on its own small stack on the OS thread that spawned
// it (switched by grove's own code on x86-64 Linux, by Boost.Context's fcontext elsewhere).
// Green threads of one OS thread take turns: one runs until it waits (sleep, I/O, a lock,
// join, ...), then the thread's hub runs the next. They never migrate between OS threads, so
// errno and thread_local stay valid across a wait.
//
//   auto g = grove::green::spawn([](int x) { grove::green::sleep(10ms); return x * 2; }, 21);
//   int v = g.join();   // 42; the caller (a green thread or the main context) waits
//
// Handles are cheap to copy and belong to the OS thread that spawned the green thread: use
// them only there. Blocking calls made outside any spawned green thread (in `main`, say)
// make that context wait while the hub runs the green threads, as in gevent.
#pragma once

#include <grove/green/detail/core.hpp>

#include <cstddef>
#include <exception>
#include <functional>
#include <initializer_list>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace grove::green {

// Thrown into a green thread by kill() by default. A green thread that ends with it exited
// normally: it is not reported and join() does not rethrow it. Like Timeout, it does not
// derive from std::exception, so `catch (const std::exception&)` does not swallow a kill.
class GreenletExit {
 public:
  const char* what() const noexcept { return "grove::green::GreenletExit"; }
};

// A wait that nothing can ever end: no green thread is runnable and the hub's loop has no
// referenced watcher, timer, callback or outstanding work (gevent's LoopExit). Thrown into
// the context that waits (the main context first), instead of hanging.
class WouldBlockForever : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// How to start a green thread.
struct SpawnOptions {
  std::string name;            // for diagnostics; default "green-<id>"
  std::size_t stack_size = 0;  // usable bytes; 0: default_stack_size()
};

// An untyped handle: what current() returns and what kill(), Group and joinall() take.
class Greenlet {
 public:
  Greenlet() = default;
  explicit Greenlet(detail::GreenRef core) noexcept : core_(std::move(core)) {}

  std::string name() const;
  void set_name(std::string name) const;
  std::uint64_t id() const;
  // Started running (a green thread killed before its first turn never starts).
  bool started() const;
  // Finished: returned, threw, or was killed. gevent calls this ready().
  bool dead() const;
  bool ready() const { return dead(); }
  // Dead, and it returned or exited with GreenletExit.
  bool successful() const;
  // Why it died, if it died of an exception other than GreenletExit.
  std::exception_ptr exception() const;

  // Waits until it is dead and rethrows its exception (with its original type), if any.
  // Throws Timeout if `timeout` passes first. Joining yourself is a std::logic_error.
  void join(std::optional<Duration> timeout = std::nullopt) const;
  // Waits until it is dead, without rethrowing; returns dead().
  bool wait(std::optional<Duration> timeout = std::nullopt) const;
  // Throws `error` (default: GreenletExit) in it at its current switch point. A green thread
  // that has not started yet never runs. With `block`, waits until it is dead (up to
  // `timeout`, then returns). Killing a dead green thread does nothing.
  void kill(std::exception_ptr error = nullptr, bool block = true,
            std::optional<Duration> timeout = std::nullopt) const;
  // Runs `fn` when it dies (at once if it is dead). Callbacks run on the dying green thread
  // before it leaves the CPU and must not block. Returns an id for unlink().
  std::uint64_t link(Function<void()> fn) const;
  void unlink(std::uint64_t id) const;

  explicit operator bool() const noexcept { return bool(core_); }
  bool operator==(const Greenlet& o) const noexcept { return core_.get() == o.core_.get(); }
  detail::GreenletBase* core() const noexcept { return core_.get(); }

 protected:
  detail::GreenletBase& checked() const {
    if (!core_) [[unlikely]]
      empty_handle();
    return *core_.get();
  }
  [[noreturn]] static void empty_handle();
  detail::GreenRef core_;
};

namespace detail {

template <class R>
class TaskState : public GreenletBase {
 public:
  std::optional<R> value;
};
template <>
class TaskState<void> : public GreenletBase {};

template <class R, class Fn, class... Args>
class Task final : public TaskState<R> {
 public:
  template <class F, class... A>
  explicit Task(F&& fn, A&&... args)
      : call_(std::in_place, std::forward<F>(fn), std::forward<A>(args)...) {
    this->has_function = true;
  }
  void run() override {
    if constexpr (std::is_void_v<R>)
      std::apply([](auto& f, auto&... a) { std::invoke(std::move(f), std::move(a)...); }, *call_);
    else
      this->value.emplace(std::apply(
          [](auto& f, auto&... a) -> R { return std::invoke(std::move(f), std::move(a)...); },
          *call_));
  }
  void drop_function() noexcept override { call_.reset(); }

 private:
  std::optional<std::tuple<Fn, Args...>> call_;
};

GreenletBase* prepare_spawn(GreenletBase* g, SpawnOptions&& options);

}  // namespace detail

// A typed handle: join() returns the green thread's value.
template <class R>
class Handle : public Greenlet {
 public:
  Handle() = default;
  explicit Handle(detail::GreenRef core) noexcept : Greenlet(std::move(core)) {}

  // Waits until it is dead; returns its value or rethrows its exception. A green thread
  // killed with GreenletExit has no value: for a non-void R, join() throws GreenletExit.
  // The value is copied when R is copyable and moved out otherwise (then join it once).
  R join(std::optional<Duration> timeout = std::nullopt) const {
    Greenlet::join(timeout);
    return take(checked());
  }
  R get(std::optional<Duration> timeout = std::nullopt) const { return join(timeout); }

 public:
  // The value of a dead green thread (see join) without waiting.
  static R take(detail::GreenletBase& core) {
    if constexpr (!std::is_void_v<R>) {
      auto& state = static_cast<detail::TaskState<R>&>(core);
      if (!state.value) throw GreenletExit{};
      if constexpr (std::is_copy_constructible_v<R>) return *state.value;
      else return std::move(*state.value);
    }
  }
};

// Starts fn(args...) as a green thread on the hub's next turn (arguments are copied or moved,
// as by std::thread). The caller keeps running until it waits.
template <class F, class... Args>
auto spawn(SpawnOptions options, F&& fn, Args&&... args) {
  using R = std::invoke_result_t<std::decay_t<F>, std::decay_t<Args>...>;
  auto* task = new detail::Task<R, std::decay_t<F>, std::decay_t<Args>...>(
      std::forward<F>(fn), std::forward<Args>(args)...);
  detail::GreenRef ref(task);
  detail::prepare_spawn(task, std::move(options));
  return Handle<R>(std::move(ref));
}
template <class F, class... Args,
          class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, SpawnOptions>>>
auto spawn(F&& fn, Args&&... args) {
  return spawn(SpawnOptions{}, std::forward<F>(fn), std::forward<Args>(args)...);
}

// The running green thread; in the main context, a handle named "main"; inside the hub's
// loop callbacks, the hub ("hub").
Greenlet current();
// Whether the caller is a spawned green thread (not the main context, not the hub).
bool in_green_thread() noexcept;
// Whether the caller runs inside the hub (a loop callback or a coroutine on the green engine).
bool in_hub() noexcept;
// Green threads of the calling OS thread's hub that have started and not finished (0 when
// the thread has no hub): the metrics' grove_green_threads_alive.
std::size_t alive_count() noexcept;

// Suspends the calling green thread for `d`. sleep(0) (or less) yields: every other runnable
// green thread runs once, and the hub polls for I/O and timers regularly, before it returns.
void sleep(Duration d);
inline void yield() { sleep(Duration::zero()); }

// Throws `error` (default GreenletExit) in g; see Greenlet::kill.
void kill(const Greenlet& g, std::exception_ptr error = nullptr, bool block = true,
          std::optional<Duration> timeout = std::nullopt);
template <class E, class = std::enable_if_t<!std::is_same_v<std::decay_t<E>, std::exception_ptr> &&
                                            !std::is_null_pointer_v<std::decay_t<E>>>>
void kill(const Greenlet& g, E&& error, bool block = true,
          std::optional<Duration> timeout = std::nullopt) {
  kill(g, std::make_exception_ptr(std::forward<E>(error)), block, timeout);
}
// Kills every green thread in `gs` (they all get the exception before any is waited for).
void killall(const std::vector<Greenlet>& gs, std::exception_ptr error = nullptr, bool block = true,
             std::optional<Duration> timeout = std::nullopt);

// Waits until every green thread in `gs` is dead (or `timeout` passes); returns the dead
// ones, in order. With `raise_error`, rethrows the first exception found instead.
std::vector<Greenlet> joinall(const std::vector<Greenlet>& gs,
                              std::optional<Duration> timeout = std::nullopt,
                              bool raise_error = false);

// Stack configuration, process-wide; read when a green thread starts.
struct StackConfig {
  std::size_t size = 64 * 1024;   // usable bytes per green thread (rounded up to pages)
  std::size_t guard = 0;          // guard bytes below each stack; 0: one page. See docs.
  bool guarded = true;            // false: no guard page (one mapping less per stack)
  std::size_t pool_limit = 1024;  // free stacks each hub keeps for reuse
};
void set_stack_config(const StackConfig& config);
StackConfig stack_config();
std::size_t default_stack_size();

// A green thread that overflows its stack faults in its guard page; grove's SIGSEGV/SIGBUS
// handler (on an alternate signal stack) then prints "green thread <name> overflowed its
// <N>-byte stack" and aborts. Faults that are not overflows go to the handler installed
// before. Every new hub installs it; call this again after installing a handler of your own.
void install_overflow_handler();

}  // namespace grove::green
