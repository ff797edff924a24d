// Async I/O: fd readiness, work on a thread pool, name resolution, TCP sockets.
//
//   aio::Listener server = aio::listen("127.0.0.1", 0);          // ephemeral port
//   aio::Socket s = co_await aio::connect("127.0.0.1", server.port(), 1s);
//   co_await s.send("ping");
//   std::string reply = co_await s.recv_some(4096, 1s);
//
// Every operation is a cancellation point and takes an optional timeout (TimeoutError on
// expiry, its message naming the operation and the peer).
#pragma once

#include <grove/aio/task.hpp>

#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace grove::aio {

namespace detail {
class IoWait;

// One direction (read or write) of an fd: a watcher kept across waits, and the task
// waiting on it. The watcher stays started between waits but unreferenced, so an idle
// socket costs no system call per wait and does not keep the loop alive.
class IoChannel {
 public:
  IoChannel() = default;
  IoChannel(const IoChannel&) = delete;
  IoChannel& operator=(const IoChannel&) = delete;
  ~IoChannel();

  void attach(EventLoop& loop, int fd, Events events, IoWait& waiter);
  void detach(IoWait& waiter) noexcept;
  // The fd is going away: the waiter (if any) fails with `error`; the watcher is closed.
  void shut(std::exception_ptr error) noexcept;
  bool busy() const noexcept { return waiter_ != nullptr; }
  EventLoop* loop() const noexcept { return loop_; }

 private:
  void on_event(Events events);
  EventLoop* loop_ = nullptr;
  IoWatcher watcher_;
  IoWait* waiter_ = nullptr;
};

// Waits for readiness on a channel, with an optional deadline.
class IoWait : public Wait {
 public:
  // `channel` null: a private channel for this one wait. `what` names the operation in a
  // TimeoutError, with `reported` as its timeout (the caller's, when `timeout` is what is
  // left of it).
  IoWait(IoChannel* channel, int fd, Events events, Duration timeout, std::string_view what,
         Duration reported = Duration::zero())
      : channel_(channel), fd_(fd), events_(events), timeout_(timeout),
        reported_(reported == Duration::zero() ? timeout : reported), what_(what) {}
  IoWait(IoWait&& o) noexcept
      : Wait(std::move(o)), channel_(o.channel_), fd_(o.fd_), events_(o.events_),
        timeout_(o.timeout_), reported_(o.reported_), what_(o.what_) {}
  ~IoWait() { withdraw(); }

  bool await_ready() const noexcept { return false; }
  template <class P>
  void await_suspend(std::coroutine_handle<P> h) {
    TaskCore* task = task_of(h);
    attach(task);  // may throw (bad fd): before begin()
    begin_in(task, h);
    arm();
    end_setup();
  }
  // The events that became ready (or Events::closed); throws TimeoutError.
  Events await_resume();

 private:
  friend class IoChannel;
  void attach(TaskCore* task);
  void arm();
  void ready(Events events);
  void withdraw() noexcept override;

  IoChannel* channel_;
  std::optional<IoChannel> own_;
  int fd_;
  Events events_;
  Duration timeout_;
  Duration reported_;
  std::string_view what_;  // a literal or owned by the caller's frame
  Timer timer_;
  Events got_ = Events::none;
  bool timed_out_ = false;
};

// --- thread pool ---
// Runs `job` on grove::aio's small shared pool of worker threads.
void submit_to_pool(Callback job);
// A job for `loop` starts: the loop stays alive until thread_job_finished() (called on the
// loop by the job's result), and run() waits until the returned counter (pool threads
// still inside the loop's call_soon_threadsafe for it) is back to zero before it destroys
// the loop. The job decrements it once call_soon_threadsafe has returned.
std::shared_ptr<std::atomic<int>> thread_job_started(EventLoop& loop);
void thread_job_finished(EventLoop& loop);

template <class F>
class ThreadWait : public Wait {
 public:
  using R = std::invoke_result_t<F&>;
  explicit ThreadWait(F fn) : state_(std::make_shared<State>(std::move(fn))) {}
  ThreadWait(ThreadWait&&) noexcept = default;
  ~ThreadWait() { withdraw(); }

  bool await_ready() const noexcept { return false; }
  template <class P>
  void await_suspend(std::coroutine_handle<P> h) {
    begin(h);
    state_->waiter = this;
    state_->loop = &loop();
    state_->posting = thread_job_started(loop());
    submit_to_pool([st = state_]() mutable { State::run(std::move(st)); });
    end_setup();
  }
  R await_resume() {
    finish();
    if (state_->error) std::rethrow_exception(state_->error);
    if constexpr (!std::is_void_v<R>) return std::move(*state_->result);
  }

 private:
  struct State {
    explicit State(F f) : fn(std::move(f)) {}
    // On a pool thread. Takes the pool's reference along to the loop, so that the state
    // (and `fn` with its captures) is destroyed on the loop's thread, never on this one.
    static void run(std::shared_ptr<State> self) {
      try {
        if constexpr (std::is_void_v<R>) self->fn();
        else self->result.emplace(self->fn());
      } catch (...) {
        self->error = std::current_exception();
      }
      // Wakes the loop now, not at its next unrelated event.
      EventLoop* loop = self->loop;
      std::shared_ptr<std::atomic<int>> posting = self->posting;
      loop->call_soon_threadsafe([self = std::move(self)] {
        thread_job_finished(*self->loop);
        if (self->waiter) self->waiter->wake();
      });
      // Only now may the loop go away: call_soon_threadsafe touched it after queueing.
      posting->fetch_sub(1, std::memory_order_release);
    }
    F fn;
    std::conditional_t<std::is_void_v<R>, bool, std::optional<R>> result{};
    std::exception_ptr error;
    EventLoop* loop = nullptr;
    std::shared_ptr<std::atomic<int>> posting;
    ThreadWait* waiter = nullptr;  // touched on the loop's thread only
  };
  // A cancelled or destroyed waiter lets the job finish; its result is dropped.
  void withdraw() noexcept override {
    if (state_) state_->waiter = nullptr;
  }
  std::shared_ptr<State> state_;
};

struct SocketState;
}  // namespace detail

// Waits until `fd` is readable (writable). Returns the ready events, Events::closed if the
// fd was closed or found invalid meanwhile. Throws TimeoutError after `timeout`.
[[nodiscard]] detail::IoWait wait_readable(int fd, Duration timeout = forever);
[[nodiscard]] detail::IoWait wait_writable(int fd, Duration timeout = forever);

// Runs `fn` on a worker thread (a small shared pool) and returns its result or rethrows
// its exception; the loop goes on meanwhile and is woken as soon as `fn` returns. The loop
// stays alive while the job runs. Cancelling the awaiting task does not interrupt `fn`; its
// result is dropped. (asyncio.to_thread)
template <class F>
Task<std::invoke_result_t<F&>> to_thread(F fn) {
  co_return co_await detail::ThreadWait<F>(std::move(fn));
}

// --- addresses and names -----------------------------------------------------------------
struct Address {
  sockaddr_storage storage{};
  socklen_t length = 0;

  int family() const noexcept { return storage.ss_family; }
  std::uint16_t port() const noexcept;
  // "127.0.0.1:8080", "[::1]:8080"
  std::string to_string() const;
  const sockaddr* sockaddr_ptr() const noexcept {
    return reinterpret_cast<const sockaddr*>(&storage);
  }
  // A numeric IPv4/IPv6 address, or nullopt if `host` is a name.
  static std::optional<Address> numeric(std::string_view host, std::uint16_t port);
};

// The TCP addresses of `host`. Numeric addresses are converted at once; names are looked
// up with getaddrinfo on the thread pool (to_thread), which wakes the loop when done.
Task<std::vector<Address>> resolve(std::string host, std::uint16_t port);

// --- sockets -------------------------------------------------------------------------------
// A non-blocking TCP stream socket. Operations may run concurrently in the two directions
// (one task receiving, one sending); two concurrent receives (or sends) throw
// InvalidStateError. close() fails pending operations with std::system_error(ECANCELED).
class Socket {
 public:
  Socket() noexcept;
  // Adopts a connected stream socket and makes it non-blocking.
  explicit Socket(int fd);
  Socket(Socket&&) noexcept;
  Socket& operator=(Socket&&) noexcept;
  ~Socket();

  bool is_open() const noexcept;
  int fd() const noexcept;

  // Receives up to `size` bytes into `buffer`; 0 means the peer closed its side.
  // `buffer` must stay valid until the task completes.
  Task<std::size_t> recv(void* buffer, std::size_t size, Duration timeout = forever);
  // Receives what is available (at most `max` bytes), waiting for at least one byte;
  // "" means the peer closed its side.
  Task<std::string> recv_some(std::size_t max = 65536, Duration timeout = forever);
  // Sends all of `data` (which must stay valid until the task completes).
  Task<void> send(std::string_view data, Duration timeout = forever);
  // No more sends: the peer reads end-of-stream.
  void shutdown_write();
  void close() noexcept;

  Address local_address() const;
  Address peer_address() const;

 private:
  friend class Listener;
  std::shared_ptr<detail::SocketState> state_;
};

// A listening TCP socket.
class Listener {
 public:
  Listener() noexcept;
  Listener(Listener&&) noexcept;
  Listener& operator=(Listener&&) noexcept;
  ~Listener();

  // Binds to a numeric address ("127.0.0.1", "::1", "0.0.0.0"; "" means every IPv4
  // address) and `port` (0: an ephemeral port, see port()), and listens. SO_REUSEADDR is
  // set. Throws std::system_error.
  static Listener bind(std::string_view host, std::uint16_t port = 0, int backlog = 128);

  std::uint16_t port() const;
  Address address() const;
  // Waits for and accepts the next connection.
  Task<Socket> accept(Duration timeout = forever);
  void close() noexcept;
  bool is_open() const noexcept;

 private:
  std::shared_ptr<detail::SocketState> state_;
};

// Listener::bind.
inline Listener listen(std::string_view host, std::uint16_t port = 0, int backlog = 128) {
  return Listener::bind(host, port, backlog);
}

// Connects to `host` (resolved with resolve()) and `port`, trying each address in turn.
// Throws std::system_error naming the address ("... 127.0.0.1:9: Connection refused") or
// TimeoutError after `timeout` (resolution included).
Task<Socket> connect(std::string host, std::uint16_t port, Duration timeout = forever);

}  // namespace grove::aio
