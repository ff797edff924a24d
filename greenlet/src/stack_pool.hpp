// Guarded green-thread stacks, pooled per hub.
#pragma once

#include <grove/green/detail/core.hpp>

#include <cstddef>
#include <vector>

namespace grove::green::detail {

// One hub's free stacks, by usable size. Not thread-safe (one per hub).
class StackPool {
 public:
  StackPool() = default;
  StackPool(const StackPool&) = delete;
  StackPool& operator=(const StackPool&) = delete;
  ~StackPool();

  // A stack with at least `usable` bytes (rounded up to pages) and the configured guard.
  // Throws std::system_error saying what to change when the kernel refuses the mapping.
  Stack acquire(std::size_t usable);
  // Keeps the stack for reuse (up to the configured limit) or unmaps it.
  void release(Stack stack) noexcept;
  std::size_t cached() const noexcept { return free_.size(); }

  static std::size_t page_size() noexcept;
  static void unmap(Stack stack) noexcept;

 private:
  static Stack map(std::size_t usable, std::size_t guard);
  std::vector<Stack> free_;
};

// The process-wide stack configuration (greenlet.cpp).
std::size_t configured_stack_size() noexcept;
std::size_t configured_guard() noexcept;
std::size_t configured_pool_limit() noexcept;

}  // namespace grove::green::detail
