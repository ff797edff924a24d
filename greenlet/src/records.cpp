// Green thread records, recycled per OS thread. spawn+join allocates one record and frees it,
// and going through malloc for that was a sixth of its cost. A freed record goes to the
// freeing thread's cache by size class; a thread's cache is freed when the thread exits.
// Under AddressSanitizer records are not recycled, so that a use after free is still caught.
#include "hub.hpp"

#include <cstdint>
#include <new>

namespace grove::green::detail {

namespace {

constexpr std::size_t kGrain = 64;    // size classes: 64, 128, ... bytes
constexpr std::size_t kClasses = 16;  // records up to 1 KiB are recycled
constexpr std::uint32_t kKeep = 64;   // records kept per class and thread

struct FreeRecord {
  FreeRecord* next;
};

struct RecordCache {
  FreeRecord* head[kClasses];
  std::uint32_t count[kClasses];
  bool armed;   // the thread-exit cleanup is registered
  bool closed;  // the thread is exiting: free records at once
};

constinit thread_local RecordCache t_cache GROVE_GREEN_TLS{};

std::size_t size_class(std::size_t size) noexcept { return (size - 1) / kGrain; }

void drain() noexcept {
  for (std::size_t c = 0; c < kClasses; ++c) {
    while (FreeRecord* r = t_cache.head[c]) {
      t_cache.head[c] = r->next;
      ::operator delete(r, (c + 1) * kGrain);
    }
    t_cache.count[c] = 0;
  }
}

struct CacheCleanup {
  ~CacheCleanup() {
    drain();
    t_cache.closed = true;
  }
};

[[gnu::noinline]] void arm() {
  static thread_local CacheCleanup cleanup;
  (void)&cleanup;
  t_cache.armed = true;
}

}  // namespace

void* GreenletBase::operator new(std::size_t size) {
#if !GROVE_ASAN
  if (size <= kClasses * kGrain) {
    const std::size_t c = size_class(size);
    if (FreeRecord* r = t_cache.head[c]) {
      t_cache.head[c] = r->next;
      --t_cache.count[c];
      return r;
    }
    return ::operator new((c + 1) * kGrain);
  }
#endif
  return ::operator new(size);
}

void GreenletBase::operator delete(void* p, std::size_t size) noexcept {
#if !GROVE_ASAN
  if (size <= kClasses * kGrain) {
    const std::size_t c = size_class(size);
    if (t_cache.count[c] < kKeep && !t_cache.closed) [[likely]] {
      if (!t_cache.armed) [[unlikely]]
        arm();
      auto* r = static_cast<FreeRecord*>(p);
      r->next = t_cache.head[c];
      t_cache.head[c] = r;
      ++t_cache.count[c];
      return;
    }
    ::operator delete(p, (c + 1) * kGrain);
    return;
  }
#endif
  ::operator delete(p, size);
}

}  // namespace grove::green::detail
