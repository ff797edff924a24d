// run_in_thread: a process-wide pool of native threads. A finished job comes back to its
// hub through call_soon_threadsafe, which wakes the poller at once; between submission and
// that callback the hub holds work_started(), so the wait never looks like "blocks forever".
#include "thread_pool_impl.hpp"

#include <grove/green/thread_pool.hpp>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <thread>

namespace grove::green {

namespace detail {

namespace {

// Hub-thread state shared by a waiting green thread and its job's completion callback.
struct Ticket {
  GreenletBase* green = nullptr;
  bool waiting = true;  // false once the green thread stopped waiting (killed, timed out)
};

struct TicketWait final : Parking {
  Ticket* ticket = nullptr;
  void cancel() noexcept override { ticket->waiting = false; }
};

struct Carrier {
  std::shared_ptr<ThreadJob> job;
  std::shared_ptr<Hub::Remote> remote;
  std::shared_ptr<Ticket> ticket;
};

class ThreadPool {
 public:
  static ThreadPool& instance() {
    // Never destroyed: idle workers may still hold it at process exit.
    static ThreadPool* pool = new ThreadPool;
    return *pool;
  }

  void submit(Carrier carrier) {
    std::unique_lock lock(mutex_);
    queue_.push_back(std::move(carrier));
    if (idle_ > 0) {
      lock.unlock();
      ready_.notify_one();
      return;
    }
    if (threads_ < max_) {
      ++threads_;
      std::thread([this] { work(); }).detach();
    }
  }

  void set_max(std::size_t n) {
    std::lock_guard lock(mutex_);
    max_ = n ? n : 1;
  }
  std::size_t max() {
    std::lock_guard lock(mutex_);
    return max_;
  }

 private:
  static constexpr auto kIdleExit = std::chrono::seconds(5);

  void work() {
    std::unique_lock lock(mutex_);
    for (;;) {
      ++idle_;
      const bool got = ready_.wait_for(lock, kIdleExit, [this] { return !queue_.empty(); });
      --idle_;
      if (!got) {
        --threads_;
        return;
      }
      Carrier c = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      c.job->run();
      post_back(std::move(c));
      lock.lock();
    }
  }

  static void post_back(Carrier c) {
    std::lock_guard lock(c.remote->mutex);
    EventLoop* loop = c.remote->loop;
    if (!loop) return;  // the hub is gone; the result is dropped
    loop->call_soon_threadsafe([ticket = std::move(c.ticket), loop] {
      loop->work_finished();
      if (ticket->waiting) wake(ticket->green, Wake::notified);
    });
  }

  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<Carrier> queue_;
  std::size_t threads_ = 0;
  std::size_t idle_ = 0;
  std::size_t max_ = 10;
};

}  // namespace

std::shared_ptr<Hub::Remote> make_remote(EventLoop* loop) {
  auto remote = std::make_shared<Hub::Remote>();
  remote->loop = loop;
  return remote;
}

void detach_remote(Hub::Remote& remote) noexcept {
  std::lock_guard lock(remote.mutex);
  remote.loop = nullptr;
}

void run_job(std::shared_ptr<ThreadJob> job) {
  Hub& hub = Hub::get();
  hub.check_can_park();
  auto ticket = std::make_shared<Ticket>();
  ticket->green = hub.running();
  hub.loop().work_started();
  try {
    ThreadPool::instance().submit(Carrier{std::move(job), hub.remote(), ticket});
  } catch (...) {
    hub.loop().work_finished();
    throw;
  }
  TicketWait wait;
  wait.ticket = ticket.get();
  for (;;) {
    const Wake why = hub.park_now(&wait, std::nullopt);
    if (why == Wake::notified) return;
    throw_pending();         // killed or timed out: the job finishes on its own, unobserved
    ticket->waiting = true;  // any other wake-up is spurious: the job still runs
  }
}

}  // namespace detail

void set_thread_pool_size(std::size_t threads) { detail::ThreadPool::instance().set_max(threads); }

std::size_t thread_pool_size() { return detail::ThreadPool::instance().max(); }

}  // namespace grove::green
