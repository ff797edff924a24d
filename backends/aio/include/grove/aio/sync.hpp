// Coroutine synchronization primitives: Event, Lock, Semaphore, Queue<T> (asyncio's).
//
//   aio::Event ready;                 ready.set();        co_await ready.wait();
//   aio::Lock lock;                   { auto guard = co_await lock.scoped(); ... }
//   aio::Queue<int> q(16);            co_await q.put(1);  int v = co_await q.get();
//
// They belong to no loop: a waiter is resumed on the loop of the task that waits. Like
// asyncio's, they are for tasks of one thread; they are not thread-safe. Waiters are served
// first come, first served. Destroying a primitive while tasks wait on it makes those waits
// throw InvalidStateError.
//
// Cancellation: a task cancelled while it waits leaves the queue of waiters and gets
// CancelledError. A wait that was already satisfied (the lock handed over, the item
// delivered) completes, and the CancelledError is thrown at the task's next await.
#pragma once

#include <grove/aio/task.hpp>

#include <cstddef>
#include <deque>
#include <optional>

namespace grove::aio {

class Event;
class Lock;
class Semaphore;

namespace detail {
struct WaiterTag {};

// A Wait that queues in a primitive's FIFO of waiters.
class ListedWait : public Wait, public Hook<WaiterTag> {
 public:
  ListedWait() = default;
  ListedWait(ListedWait&&) noexcept = default;

 protected:
  ~ListedWait() = default;
  void withdraw() noexcept override { Hook<WaiterTag>::unlink(); }
};

template <class W>
using WaitList = List<W, WaiterTag>;

// Makes every waiter still queued throw InvalidStateError naming `what`.
void fail_waiters(List<ListedWait, WaiterTag>& waiters, const char* what);

class EventWait : public ListedWait {
 public:
  explicit EventWait(Event& event) noexcept : event_(&event) {}
  EventWait(EventWait&&) noexcept = default;
  ~EventWait() { withdraw(); }
  bool await_ready() const noexcept;
  template <class P>
  void await_suspend(std::coroutine_handle<P> h) {
    begin(h);
    enqueue();
    end_setup();
  }
  void await_resume() { finish(); }

 private:
  void enqueue() noexcept;
  Event* event_;
};

// A source of permits: the core of Lock (one permit) and Semaphore.
class Permits {
 public:
  explicit Permits(std::size_t count) noexcept : available_(count) {}
  Permits(const Permits&) = delete;
  Permits& operator=(const Permits&) = delete;
  ~Permits();

  // Takes a permit at once if one is free and nobody queues for it (FIFO fairness).
  bool try_take() noexcept;
  // Hands the permit to the first waiter, or makes it free.
  void give() noexcept;
  std::size_t available() const noexcept { return available_; }
  bool has_waiters() const noexcept { return !waiters_.empty(); }

  class Acquire : public ListedWait {
   public:
    explicit Acquire(Permits& permits) noexcept : permits_(&permits) {}
    Acquire(Acquire&&) noexcept = default;
    ~Acquire();
    bool await_ready() noexcept { return permits_->try_take(); }
    template <class P>
    void await_suspend(std::coroutine_handle<P> h) {
      begin(h);
      permits_->waiters_.push_back(*this);
      end_setup();
    }
    void await_resume() {
      finish(false);  // a permit handed over is ours; a late cancel hits the next await
      handed_ = false;
    }

   private:
    friend class Permits;
    Permits* permits_;
    bool handed_ = false;  // given a permit, not yet resumed: give it back if destroyed
  };

 private:
  std::size_t available_;
  List<ListedWait, WaiterTag> waiters_;
};
}  // namespace detail

// --- Event -------------------------------------------------------------------------------
// A flag tasks can wait for. set() wakes every waiter; wait() on a set event returns at once.
class Event {
 public:
  Event() = default;
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  ~Event();

  bool is_set() const noexcept { return set_; }
  void set() noexcept;
  void clear() noexcept { set_ = false; }
  [[nodiscard]] detail::EventWait wait() noexcept { return detail::EventWait(*this); }

 private:
  friend class detail::EventWait;
  bool set_ = false;
  detail::List<detail::ListedWait, detail::WaiterTag> waiters_;
};

// --- Lock --------------------------------------------------------------------------------
class Lock;
// Releases the lock it holds when destroyed.
class [[nodiscard]] LockGuard {
 public:
  explicit LockGuard(Lock& lock) noexcept : lock_(&lock) {}
  LockGuard(LockGuard&& o) noexcept : lock_(std::exchange(o.lock_, nullptr)) {}
  LockGuard& operator=(LockGuard&&) = delete;
  ~LockGuard() { unlock(); }
  void unlock() noexcept;

 private:
  Lock* lock_;
};

// A mutual-exclusion lock for tasks. Not reentrant: a task that holds it and acquires it
// again waits forever (as in asyncio).
//
//   { auto guard = co_await lock.scoped(); ... }    // or acquire() / release()
class Lock {
 public:
  Lock() noexcept : permits_(1) {}

  [[nodiscard]] detail::Permits::Acquire acquire() noexcept {
    return detail::Permits::Acquire(permits_);
  }
  struct ScopedAcquire : detail::Permits::Acquire {
    Lock* lock;
    ScopedAcquire(Lock& l) noexcept : Acquire(l.permits_), lock(&l) {}
    LockGuard await_resume() {
      Acquire::await_resume();
      return LockGuard(*lock);
    }
  };
  // Acquires and returns a guard that releases.
  [[nodiscard]] ScopedAcquire scoped() noexcept { return ScopedAcquire(*this); }
  bool try_acquire() noexcept { return permits_.try_take(); }
  // Hands the lock to the first waiting task, or unlocks it. Throws InvalidStateError if
  // the lock is not locked.
  void release();
  bool locked() const noexcept { return permits_.available() == 0; }

 private:
  detail::Permits permits_;
};

inline void LockGuard::unlock() noexcept {
  if (lock_) std::exchange(lock_, nullptr)->release();
}

// --- Semaphore ---------------------------------------------------------------------------
class [[nodiscard]] SemaphoreGuard {
 public:
  explicit SemaphoreGuard(Semaphore& s) noexcept : sem_(&s) {}
  SemaphoreGuard(SemaphoreGuard&& o) noexcept : sem_(std::exchange(o.sem_, nullptr)) {}
  SemaphoreGuard& operator=(SemaphoreGuard&&) = delete;
  ~SemaphoreGuard() { release(); }
  void release() noexcept;

 private:
  Semaphore* sem_;
};

// A counter of permits: acquire() waits while it is zero. release() may raise it above its
// initial value (asyncio's Semaphore, not BoundedSemaphore).
class Semaphore {
 public:
  explicit Semaphore(std::size_t value = 1) noexcept : permits_(value) {}

  [[nodiscard]] detail::Permits::Acquire acquire() noexcept {
    return detail::Permits::Acquire(permits_);
  }
  struct ScopedAcquire : detail::Permits::Acquire {
    Semaphore* sem;
    ScopedAcquire(Semaphore& s) noexcept : Acquire(s.permits_), sem(&s) {}
    SemaphoreGuard await_resume() {
      Acquire::await_resume();
      return SemaphoreGuard(*sem);
    }
  };
  [[nodiscard]] ScopedAcquire scoped() noexcept { return ScopedAcquire(*this); }
  bool try_acquire() noexcept { return permits_.try_take(); }
  void release() noexcept { permits_.give(); }
  // Free permits (0 while tasks wait).
  std::size_t value() const noexcept { return permits_.available(); }
  bool locked() const noexcept { return value() == 0; }

 private:
  detail::Permits permits_;
};

inline void SemaphoreGuard::release() noexcept {
  if (sem_) std::exchange(sem_, nullptr)->release();
}

// --- Queue -------------------------------------------------------------------------------
// A FIFO queue for tasks. maxsize 0 is unbounded; otherwise put() waits while the queue is
// full. An item handed to a waiting get() skips the buffer. task_done()/join() count items
// whose processing finished, as asyncio.Queue does.
template <class T>
class Queue {
 public:
  explicit Queue(std::size_t maxsize = 0) : maxsize_(maxsize) { all_done_.set(); }
  Queue(const Queue&) = delete;
  Queue& operator=(const Queue&) = delete;
  ~Queue() {
    detail::fail_waiters(getters_, "Queue");
    detail::fail_waiters(putters_, "Queue");
  }

  std::size_t size() const noexcept { return items_.size(); }
  std::size_t maxsize() const noexcept { return maxsize_; }
  bool empty() const noexcept { return items_.empty(); }
  bool full() const noexcept { return maxsize_ > 0 && items_.size() >= maxsize_; }

  class Put : public detail::ListedWait {
   public:
    Put(Queue& q, T item) : queue_(&q), item_(std::move(item)) {}
    Put(Put&&) = default;
    ~Put() { withdraw(); }
    bool await_ready() { return queue_->try_put(item_); }
    template <class P>
    void await_suspend(std::coroutine_handle<P> h) {
      begin(h);
      queue_->putters_.push_back(*this);
      end_setup();
    }
    void await_resume() { finish(false); }

   private:
    friend class Queue;
    Queue* queue_;
    T item_;
  };

  class Get : public detail::ListedWait {
   public:
    explicit Get(Queue& q) noexcept : queue_(&q) {}
    Get(Get&&) = default;
    ~Get() {
      withdraw();
      if (item_) queue_->give_back(std::move(*item_));  // delivered, never resumed
    }
    bool await_ready() { return queue_->try_get(item_); }
    template <class P>
    void await_suspend(std::coroutine_handle<P> h) {
      begin(h);
      queue_->getters_.push_back(*this);
      end_setup();
    }
    T await_resume() {
      finish(false);
      T out = std::move(*item_);
      item_.reset();
      return out;
    }

   private:
    friend class Queue;
    Queue* queue_;
    std::optional<T> item_;
  };

  // Waits while the queue is full, then appends `item`.
  [[nodiscard]] Put put(T item) { return Put(*this, std::move(item)); }
  // Waits while the queue is empty, then removes and returns the first item.
  [[nodiscard]] Get get() { return Get(*this); }

  void put_nowait(T item) {
    if (!try_put(item)) throw QueueFull("grove::aio::Queue::put_nowait(): the queue is full");
  }
  T get_nowait() {
    std::optional<T> out;
    if (!try_get(out)) throw QueueEmpty("grove::aio::Queue::get_nowait(): the queue is empty");
    return std::move(*out);
  }

  // One item taken from the queue is processed. Throws InvalidStateError if called more
  // often than items were put.
  void task_done() {
    if (unfinished_ == 0)
      throw InvalidStateError(
          "grove::aio::Queue::task_done() called more times than items were put");
    if (--unfinished_ == 0) all_done_.set();
  }
  // Waits until every item put has been marked task_done().
  [[nodiscard]] detail::EventWait join() noexcept { return all_done_.wait(); }

 private:
  using Waiters = detail::List<detail::ListedWait, detail::WaiterTag>;

  bool try_put(T& item) {
    if (!getters_.empty()) {  // the queue is empty: hand the item straight over
      auto& g = static_cast<Get&>(getters_.pop_front());
      g.item_.emplace(std::move(item));
      count_put();
      g.wake();
      return true;
    }
    if (full()) return false;
    items_.push_back(std::move(item));
    count_put();
    return true;
  }
  bool try_get(std::optional<T>& out) {
    if (items_.empty()) return false;
    out.emplace(std::move(items_.front()));
    items_.pop_front();
    admit_putter();
    return true;
  }
  void admit_putter() {
    if (putters_.empty() || full()) return;
    auto& p = static_cast<Put&>(putters_.pop_front());
    items_.push_back(std::move(p.item_));
    count_put();
    p.wake();
  }
  // An item delivered to a getter whose frame was destroyed before it resumed.
  void give_back(T item) {
    --unfinished_;  // counted again below
    if (!getters_.empty()) {
      try_put(item);
    } else {
      items_.push_front(std::move(item));
      count_put();
    }
  }
  void count_put() {
    ++unfinished_;
    all_done_.clear();
  }

  std::size_t maxsize_;
  std::deque<T> items_;
  Waiters getters_;
  Waiters putters_;
  std::size_t unfinished_ = 0;
  Event all_done_;
};

}  // namespace grove::aio
