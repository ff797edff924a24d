// Group and Pool: manage green threads together (gevent's Group and Pool).
#pragma once

#include <grove/green/event.hpp>
#include <grove/green/greenlet.hpp>

#include <cstddef>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

namespace grove::green {

// A set of green threads: members leave it when they die. Destroying a Group does not
// kill its members (call kill() first if that is what you want).
class Group {
 public:
  Group();
  Group(const Group&) = delete;
  Group& operator=(const Group&) = delete;
  virtual ~Group();

  // Spawns fn(args...) as a member.
  template <class F, class... Args>
  auto spawn(F&& fn, Args&&... args) {
    return spawn(SpawnOptions{}, std::forward<F>(fn), std::forward<Args>(args)...);
  }
  template <class F, class... Args>
  auto spawn(SpawnOptions options, F&& fn, Args&&... args) {
    before_spawn();
    auto g = green::spawn(std::move(options), std::forward<F>(fn), std::forward<Args>(args)...);
    add(g);
    return g;
  }

  // Adds a green thread spawned elsewhere (a dead one is not added).
  virtual void add(const Greenlet& g);
  void discard(const Greenlet& g);
  bool contains(const Greenlet& g) const;
  std::size_t size() const { return members_.size(); }
  bool empty() const { return members_.empty(); }
  std::vector<Greenlet> greenlets() const;

  // Waits until the group is empty (members added meanwhile included); returns false if
  // `timeout` passed first. With `raise_error`, rethrows the first member exception seen.
  bool join(std::optional<Duration> timeout = std::nullopt, bool raise_error = false);
  // Kills every member (all get the exception before any is waited for); with `block`,
  // waits until they are dead or `timeout` passes.
  void kill(std::exception_ptr error = nullptr, bool block = true,
            std::optional<Duration> timeout = std::nullopt);

 protected:
  virtual void before_spawn() {}
  virtual void member_died() {}

 private:
  void on_death(detail::GreenletBase* g);
  std::unordered_map<detail::GreenletBase*, std::pair<Greenlet, std::uint64_t>> members_;
  std::exception_ptr first_error_;  // the first member failure since join(raise_error) last saw one
  Event empty_;
};

// A Group with at most `size` live members: spawn() waits while it is full.
class Pool : public Group {
 public:
  explicit Pool(std::size_t size);
  ~Pool() override;

  std::size_t capacity() const { return capacity_; }
  std::size_t free_count() const { return size() >= capacity_ ? 0 : capacity_ - size(); }
  bool full() const { return free_count() == 0; }
  // Waits until a slot is free; returns false if `timeout` passed first.
  bool wait_available(std::optional<Duration> timeout = std::nullopt);
  // Adding beyond the capacity waits for a slot, as spawn() does.
  void add(const Greenlet& g) override;

 protected:
  void before_spawn() override;
  void member_died() override;

 private:
  std::size_t capacity_;
  detail::WaitList slot_waiters_;
};

}  // namespace grove::green
