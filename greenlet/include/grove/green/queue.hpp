// Queue<T> and Channel<T>: hand values between green threads.
//
// Both are FIFO for items and for waiters. A value put while a getter waits goes straight to
// that getter. put/get may be called from green threads (and the main context); the
// *_nowait forms also from loop callbacks.
#pragma once

#include <grove/green/detail/core.hpp>

#include <cstddef>
#include <deque>
#include <optional>
#include <stdexcept>
#include <utility>

namespace grove::green {

// get() on an empty queue whose timeout passed (or get_nowait() on an empty queue).
class QueueEmpty : public std::runtime_error {
 public:
  QueueEmpty() : std::runtime_error("grove::green queue is empty") {}
};
// put() on a full queue whose timeout passed (or put_nowait() on a full queue).
class QueueFull : public std::runtime_error {
 public:
  QueueFull() : std::runtime_error("grove::green queue is full") {}
};

namespace detail {
template <class T>
struct GetWaiter : Waiter {
  std::optional<T> item;
};
template <class T>
struct PutWaiter : Waiter {
  explicit PutWaiter(T&& v) : item(std::move(v)) {}
  std::optional<T> item;  // emptied by the getter that takes it
};
}  // namespace detail

// A FIFO queue holding up to `maxsize` items (0: unbounded).
template <class T>
class Queue {
 public:
  explicit Queue(std::size_t maxsize = 0) : maxsize_(maxsize) {}
  Queue(const Queue&) = delete;
  Queue& operator=(const Queue&) = delete;
  ~Queue() {
    detail::wake_all_closed(getters_);
    detail::wake_all_closed(putters_);
  }

  // Adds item, waiting up to `timeout` while the queue is full; throws QueueFull if the
  // timeout passes.
  void put(T item, std::optional<Duration> timeout = std::nullopt) {
    if (try_put(item)) return;
    detail::PutWaiter<T> w(std::move(item));
    if (!detail::wait_in(putters_, w, timeout)) throw QueueFull();
  }
  // Removes and returns the oldest item, waiting up to `timeout` for one; throws QueueEmpty
  // if the timeout passes.
  T get(std::optional<Duration> timeout = std::nullopt) {
    if (auto item = try_get()) return std::move(*item);
    detail::GetWaiter<T> w;
    if (!detail::wait_in(getters_, w, timeout) || !w.item) throw QueueEmpty();
    return std::move(*w.item);
  }
  // Adds item if there is room (moving from it only then); returns whether it did.
  bool try_put(T& item) {
    if (auto* w = static_cast<detail::GetWaiter<T>*>(getters_.front())) {
      w->item.emplace(std::move(item));
      getters_.notify_one();
      return true;
    }
    if (full()) return false;
    items_.push_back(std::move(item));
    return true;
  }
  std::optional<T> try_get() {
    if (items_.empty()) return std::nullopt;
    std::optional<T> item(std::move(items_.front()));
    items_.pop_front();
    admit_putter();
    return item;
  }
  void put_nowait(T item) {
    if (!try_put(item)) throw QueueFull();
  }
  T get_nowait() {
    if (auto item = try_get()) return std::move(*item);
    throw QueueEmpty();
  }
  // The oldest item, without removing it (nullptr if empty).
  const T* peek() const { return items_.empty() ? nullptr : &items_.front(); }

  std::size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }
  bool full() const { return maxsize_ != 0 && items_.size() >= maxsize_; }
  std::size_t maxsize() const { return maxsize_; }
  std::size_t getters_waiting() const { return getters_.size(); }
  std::size_t putters_waiting() const { return putters_.size(); }

 private:
  // A slot came free: the longest-waiting putter's item joins the queue.
  void admit_putter() {
    if (full()) return;
    if (auto* w = static_cast<detail::PutWaiter<T>*>(putters_.front())) {
      items_.push_back(std::move(*w->item));
      w->item.reset();
      putters_.notify_one();
    }
  }

  std::size_t maxsize_;
  std::deque<T> items_;
  detail::WaitList getters_;
  detail::WaitList putters_;
};

// A rendezvous channel: put() waits until a getter takes the item; get() waits for a putter.
template <class T>
class Channel {
 public:
  Channel() = default;
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;
  ~Channel() {
    detail::wake_all_closed(getters_);
    detail::wake_all_closed(putters_);
  }

  // Hands item to a getter, waiting up to `timeout` for one; throws QueueFull on timeout.
  void put(T item, std::optional<Duration> timeout = std::nullopt) {
    if (try_put(item)) return;
    detail::PutWaiter<T> w(std::move(item));
    if (!detail::wait_in(putters_, w, timeout)) throw QueueFull();
  }
  // Takes an item from a putter, waiting up to `timeout` for one; throws QueueEmpty on timeout.
  T get(std::optional<Duration> timeout = std::nullopt) {
    if (auto item = try_get()) return std::move(*item);
    detail::GetWaiter<T> w;
    if (!detail::wait_in(getters_, w, timeout) || !w.item) throw QueueEmpty();
    return std::move(*w.item);
  }
  // Succeeds only if a getter is waiting.
  bool try_put(T& item) {
    auto* w = static_cast<detail::GetWaiter<T>*>(getters_.front());
    if (!w) return false;
    w->item.emplace(std::move(item));
    getters_.notify_one();
    return true;
  }
  // Succeeds only if a putter is waiting.
  std::optional<T> try_get() {
    auto* w = static_cast<detail::PutWaiter<T>*>(putters_.front());
    if (!w) return std::nullopt;
    std::optional<T> item(std::move(*w->item));
    w->item.reset();
    putters_.notify_one();
    return item;
  }

  std::size_t getters_waiting() const { return getters_.size(); }
  std::size_t putters_waiting() const { return putters_.size(); }

 private:
  detail::WaitList getters_;
  detail::WaitList putters_;
};

}  // namespace grove::green
