#pragma once
// The switch every wait goes through, inline so that a yield is one function deep. Internal;
// included by hub.hpp after the Hub class.

#include <cstddef>

#if defined(__SANITIZE_ADDRESS__)
#define GROVE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GROVE_ASAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define GROVE_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define GROVE_TSAN 1
#endif
#endif

#if GROVE_ASAN
extern "C" {
void __asan_unpoison_memory_region(void const volatile* addr, size_t size);
void __sanitizer_start_switch_fiber(void** fake_stack_save, const void* bottom, size_t size);
void __sanitizer_finish_switch_fiber(void* fake_stack_save, const void** bottom_old,
                                     size_t* size_old);
}
#endif
#if GROVE_TSAN
extern "C" {
void* __tsan_get_current_fiber(void);
void* __tsan_create_fiber(unsigned flags);
void __tsan_destroy_fiber(void* fiber);
void __tsan_switch_to_fiber(void* fiber, unsigned flags);
}
#endif

namespace grove::green::detail {

// Before leaving `from` for `to`. A dying context passes no fake-stack slot, which tells
// ASan to free its fake stack.
inline void sanitizer_leave(GreenletBase* from, GreenletBase* to, bool dying) noexcept {
#if GROVE_ASAN
  __sanitizer_start_switch_fiber(dying ? nullptr : &from->asan_fake_stack, to->asan_bottom,
                                 to->asan_size);
#endif
#if GROVE_TSAN
  __tsan_switch_to_fiber(to->tsan_fiber, 0);
#endif
  (void)from;
  (void)to;
  (void)dying;
}

// On arrival in `self`, coming from `from`: ASan tells us the stack we left, which is how
// root's stack bounds are learned.
inline void sanitizer_arrive(GreenletBase* self, GreenletBase* from) noexcept {
#if GROVE_ASAN
  const void* bottom = nullptr;
  std::size_t size = 0;
  __sanitizer_finish_switch_fiber(self->asan_fake_stack, &bottom, &size);
  if (from && from->state != State::dead) {
    from->asan_bottom = bottom;
    from->asan_size = size;
  }
#endif
  (void)self;
  (void)from;
}

// Whether a finished green thread leaves by returning from its entry function (the native
// switch's balanced exit, see context_x86_64_sysv.S) rather than by exit_to(). Not under the
// sanitizers: they must be told of the switch right before it, and the entry function's
// epilogue would run after that.
#if GROVE_GREEN_CONTEXT_NATIVE && !GROVE_ASAN && !GROVE_TSAN
#define GROVE_GREEN_ENTRY_RETURNS 1
#else
#define GROVE_GREEN_ENTRY_RETURNS 0
#endif

// Switches to `next`, which may never have run.
inline Transfer Hub::resume(GreenletBase* next, GreenletBase* self) noexcept {
  void* to = std::exchange(next->fctx, nullptr);
  if (next->fresh) [[unlikely]] {
    next->fresh = false;
    return start_context(to, self);
  }
  return jump_context(to, self);
}

inline void Hub::arrive(Transfer t) {
  auto* from = static_cast<GreenletBase*>(t.data);
  sanitizer_arrive(current_, from);
  if (from->state == State::dead) reap(from);
  else from->fctx = t.fctx;
  *eh_ = current_->eh;
}

inline void Hub::switch_to(GreenletBase* next) {
  GreenletBase* self = current_;
  if (next == self) {  // the scheduler picked the caller again: nothing to switch
    self->state = State::running;
    return;
  }
  self->eh = *eh_;
  current_ = next;
  next->state = State::running;
  note_switch(next);
  sanitizer_leave(self, next, false);
  Transfer t = resume(next, self);
  arrive(t);
}

}  // namespace grove::green::detail
