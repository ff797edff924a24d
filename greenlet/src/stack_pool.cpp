// Guarded stacks: one anonymous mapping per stack, its lowest page(s) PROT_NONE so that an
// overflow faults (and overflow.cpp names the green thread) instead of corrupting memory.
// Memory is reserved, not committed: only the pages a green thread touches become resident.
#include "stack_pool.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <string>
#include <system_error>

namespace grove::green::detail {

namespace {

std::size_t round_up(std::size_t n, std::size_t page) { return (n + page - 1) / page * page; }

std::string max_map_count() {
  std::ifstream in("/proc/sys/vm/max_map_count");
  std::string value;
  if (!(in >> value)) value = "?";
  return value;
}

[[noreturn]] void throw_map_error(int err, std::size_t bytes) {
  throw std::system_error(
      err, std::generic_category(),
      "grove: cannot map a " + std::to_string(bytes) +
          "-byte green thread stack. Each guarded stack takes two memory mappings and the "
          "kernel allows vm.max_map_count=" +
          max_map_count() +
          " per process: raise it (sysctl -w vm.max_map_count=262144), use smaller stacks "
          "(SpawnOptions::stack_size), or drop the guard pages (StackConfig::guarded=false)");
}

}  // namespace

std::size_t StackPool::page_size() noexcept {
  static const std::size_t page = std::size_t(::sysconf(_SC_PAGESIZE));
  return page;
}

Stack StackPool::map(std::size_t usable, std::size_t guard) {
  const std::size_t total = usable + guard;
  void* p = ::mmap(nullptr, total, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
  if (p == MAP_FAILED) throw_map_error(errno, total);
  if (guard && ::mprotect(p, guard, PROT_NONE) != 0) {
    const int err = errno;
    ::munmap(p, total);
    throw_map_error(err, total);
  }
  return Stack{static_cast<char*>(p), guard, usable};
}

void StackPool::unmap(Stack stack) noexcept {
  if (stack) ::munmap(stack.base, stack.guard + stack.usable);
}

Stack StackPool::acquire_cached(std::size_t usable) {
  const std::size_t guard = configured_guard();
  // (hot_ did not match: acquire() looked at it.) The newest free stack first: its pages are the
  // likeliest to be resident and in cache.
  if (!free_.empty() && free_.back().requested == usable && free_.back().guard == guard) {
    Stack s = free_.back();
    free_.pop_back();
    return s;
  }
  const std::size_t page = page_size();
  for (std::size_t i = free_.size(); i-- > 0;) {
    if (free_[i].requested == usable && free_[i].guard == guard) {
      Stack s = free_[i];
      free_[i] = free_.back();
      free_.pop_back();
      return s;
    }
  }
  Stack s = map(round_up(usable, page), round_up(guard, page));
  s.requested = usable;
  return s;
}

void StackPool::release_cached(Stack stack) noexcept {
  if (!stack) return;
  if (free_.size() + (hot_ ? 1 : 0) < configured_pool_limit()) {
    try {
      free_.push_back(stack);
      return;
    } catch (...) {
    }
  }
  unmap(stack);
}

StackPool::~StackPool() {
  unmap(hot_);
  for (const Stack& s : free_) unmap(s);
}

}  // namespace grove::green::detail
