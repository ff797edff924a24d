// fd readiness waits, the worker pool, name resolution.
#include <grove/aio/io.hpp>

#include <grove/aio/combinators.hpp>

#include "internal.hpp"

#include <arpa/inet.h>
#include <netdb.h>

#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

namespace grove::aio {

namespace detail {

// --- IoChannel -------------------------------------------------------------------------
IoChannel::~IoChannel() { shut(nullptr); }

void IoChannel::attach(EventLoop& loop, int fd, Events events, IoWait& waiter) {
  if (waiter_)
    throw InvalidStateError(
        "grove::aio: two tasks wait on the same socket in the same direction; let one task "
        "receive (or send) at a time");
  if (loop_ && loop_ != &loop)
    throw InvalidStateError(
        "grove::aio: a socket is used from a second event loop; "
        "use each socket on one loop");
  if (!watcher_) {
    watcher_ = loop.watch(fd, events, [this](Events e) { on_event(e); });
    loop_ = &loop;
  } else {
    if (!watcher_.active()) watcher_.start();
    watcher_.ref();
  }
  waiter_ = &waiter;
}

void IoChannel::detach(IoWait& waiter) noexcept {
  if (waiter_ != &waiter) return;
  waiter_ = nullptr;
  watcher_.unref();  // idle: stays registered but does not keep the loop alive
}

void IoChannel::on_event(Events events) {
  if (!waiter_) {  // readiness nobody waits for: stop reporting it until someone does
    watcher_.stop();
    return;
  }
  IoWait* w = waiter_;
  detach(*w);
  w->ready(events);
}

void IoChannel::shut(std::exception_ptr error) noexcept {
  if (IoWait* w = std::exchange(waiter_, nullptr)) {
    w->channel_ = nullptr;
    if (w->timer_) w->timer_.cancel();
    if (error) w->fail(error);
    else w->ready(Events::closed);
  }
  watcher_.close();
}

// --- IoWait ------------------------------------------------------------------------------
void IoWait::attach(TaskCore* task) {
  if (!task) return;  // begin_in() reports it
  if (!channel_) channel_ = &own_.emplace();
  channel_->attach(task->loop(), fd_, events_, *this);
}

void IoWait::arm() {
  if (timeout_ == forever) return;
  timer_ = loop().call_later(timeout_, [this] {
    timed_out_ = true;
    withdraw();
    wake();
  });
}

void IoWait::ready(Events events) {
  got_ = events;
  if (timer_) timer_.cancel();
  wake();
}

void IoWait::withdraw() noexcept {
  if (channel_) channel_->detach(*this);
  if (timer_) timer_.cancel();
}

Events IoWait::await_resume() {
  finish();
  if (timed_out_)
    throw TimeoutError(std::string(what_) + " timed out after " + format_duration(reported_));
  return got_;
}

// --- the worker pool -----------------------------------------------------------------------
namespace {
class Pool {
 public:
  static constexpr std::size_t kMaxThreads = 4;

  ~Pool() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    ready_.notify_all();
    for (auto& t : threads_) t.join();
  }

  void submit(Callback job) {
    {
      std::lock_guard lock(mutex_);
      jobs_.push_back(std::move(job));
      // Threads are started on demand, up to a few: most programs never need one.
      if (idle_ == 0 && threads_.size() < kMaxThreads) threads_.emplace_back([this] { work(); });
    }
    ready_.notify_one();
  }

 private:
  void work() {
    std::unique_lock lock(mutex_);
    for (;;) {
      ++idle_;
      ready_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
      --idle_;
      if (jobs_.empty()) return;  // stopping
      Callback job = std::move(jobs_.front());
      jobs_.pop_front();
      lock.unlock();
      job();
      job.reset();
      lock.lock();
    }
  }

  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<Callback> jobs_;
  std::vector<std::thread> threads_;
  std::size_t idle_ = 0;
  bool stopping_ = false;
};

Pool& pool() {
  static Pool instance;
  return instance;
}
}  // namespace

void submit_to_pool(Callback job) { pool().submit(std::move(job)); }

std::shared_ptr<std::atomic<int>> thread_job_started(EventLoop& loop) {
  loop.work_started();
  ++thread_jobs(loop);
  std::shared_ptr<std::atomic<int>> posts = thread_posts_counter(loop);
  posts->fetch_add(1, std::memory_order_relaxed);
  return posts;
}

void thread_job_finished(EventLoop& loop) {
  loop.work_finished();
  --thread_jobs(loop);
}

}  // namespace detail

detail::IoWait wait_readable(int fd, Duration timeout) {
  return detail::IoWait(nullptr, fd, Events::read, timeout, "grove::aio::wait_readable");
}

detail::IoWait wait_writable(int fd, Duration timeout) {
  return detail::IoWait(nullptr, fd, Events::write, timeout, "grove::aio::wait_writable");
}

// --- addresses -----------------------------------------------------------------------------
std::uint16_t Address::port() const noexcept {
  if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in&>(storage).sin_port);
  if (family() == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6&>(storage).sin6_port);
  return 0;
}

std::string Address::to_string() const {
  char buf[INET6_ADDRSTRLEN] = "?";
  if (family() == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(storage).sin_addr, buf, sizeof buf);
    std::string out = buf;
    out += ':';
    out += std::to_string(port());
    return out;
  }
  if (family() == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(storage).sin6_addr, buf, sizeof buf);
    std::string out = "[";
    out += buf;
    out += "]:";
    out += std::to_string(port());
    return out;
  }
  return "(unknown address family)";
}

std::optional<Address> Address::numeric(std::string_view host, std::uint16_t port) {
  std::string h(host);
  if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  Address a;
  auto& v4 = reinterpret_cast<sockaddr_in&>(a.storage);
  if (inet_pton(AF_INET, h.c_str(), &v4.sin_addr) == 1) {
    v4.sin_family = AF_INET;
    v4.sin_port = htons(port);
    a.length = sizeof(sockaddr_in);
    return a;
  }
  auto& v6 = reinterpret_cast<sockaddr_in6&>(a.storage);
  if (inet_pton(AF_INET6, h.c_str(), &v6.sin6_addr) == 1) {
    v6.sin6_family = AF_INET6;
    v6.sin6_port = htons(port);
    a.length = sizeof(sockaddr_in6);
    return a;
  }
  return std::nullopt;
}

namespace {
std::vector<Address> lookup(const std::string& host, std::uint16_t port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  if (int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &found); rc != 0)
    throw std::runtime_error("grove::aio::resolve(\"" + host + "\"): " + gai_strerror(rc));
  std::vector<Address> out;
  for (addrinfo* ai = found; ai; ai = ai->ai_next) {
    Address a;
    std::memcpy(&a.storage, ai->ai_addr, ai->ai_addrlen);
    a.length = ai->ai_addrlen;
    out.push_back(a);
  }
  ::freeaddrinfo(found);
  return out;
}
}  // namespace

Task<std::vector<Address>> resolve(std::string host, std::uint16_t port) {
  if (auto a = Address::numeric(host, port)) co_return std::vector<Address>{*a};
  // Named before the co_await: g++ 12 destroys the members of a lambda (or aggregate)
  // temporary created inside a co_await expression twice (here: a double free of `host`).
  auto job = [host, port] { return lookup(host, port); };
  co_return co_await to_thread(std::move(job));
}

}  // namespace grove::aio
