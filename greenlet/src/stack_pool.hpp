// Guarded green-thread stacks, pooled per hub.
#pragma once

#include <grove/green/detail/core.hpp>

#include <cstddef>
#include <utility>
#include <vector>

namespace grove::green::detail {

// The process-wide stack configuration (greenlet.cpp).
std::size_t configured_stack_size() noexcept;
std::size_t configured_guard() noexcept;
std::size_t configured_pool_limit() noexcept;

// One hub's free stacks, by usable size. Not thread-safe (one per hub).
class StackPool {
 public:
  StackPool() = default;
  StackPool(const StackPool&) = delete;
  StackPool& operator=(const StackPool&) = delete;
  ~StackPool();

  // A stack with at least `usable` bytes (rounded up to pages) and the configured guard.
  // Throws std::system_error saying what to change when the kernel refuses the mapping.
  Stack acquire(std::size_t usable) {
    if (hot_.requested == usable && hot_ && hot_.guard == configured_guard()) [[likely]]
      return std::exchange(hot_, Stack{});
    return acquire_cached(usable);
  }
  // Keeps the stack for reuse (up to the configured limit) or unmaps it.
  void release(Stack stack) noexcept {
    if (!hot_ && stack && free_.size() < configured_pool_limit()) [[likely]] {
      hot_ = stack;
      return;
    }
    release_cached(stack);
  }
  std::size_t cached() const noexcept { return free_.size() + (hot_ ? 1 : 0); }

  static std::size_t page_size() noexcept;
  static void unmap(Stack stack) noexcept;

 private:
  Stack acquire_cached(std::size_t usable);
  void release_cached(Stack stack) noexcept;
  static Stack map(std::size_t usable, std::size_t guard);
  // The stack released last, kept apart: spawn after join takes it back without a search
  // (its pages are resident and in cache).
  Stack hot_;
  std::vector<Stack> free_;
};

}  // namespace grove::green::detail
