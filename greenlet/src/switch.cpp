// Context switching: Boost.Context's fcontext primitives (the layer under
// boost::context::fiber) plus what a switch must carry besides registers:
//  - libstdc++'s per-thread exception globals (current_exception, uncaught_exceptions);
//  - AddressSanitizer's and ThreadSanitizer's notion of the current stack;
//  - the blocking detector's switch counter.
// fcontext is used directly rather than through boost::context::fiber because a fiber's
// constructor makes a round trip into the new context before it can run, and spawn+join is
// on the hot path; the fiber API has nothing else we need.
#include "hub.hpp"
#include "monitor.hpp"

#include <cxxabi.h>

#include <cstdio>
#include <cstdlib>

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

namespace ctx = boost::context::detail;

namespace {

// The libstdc++ layout of __cxa_eh_globals (unwind-cxx.h) is what EhState mirrors.
EhState* thread_eh_globals() noexcept {
  return reinterpret_cast<EhState*>(abi::__cxa_get_globals());
}

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

}  // namespace

void init_machine_state(GreenletBase* root) noexcept {
#if GROVE_TSAN
  root->tsan_fiber = __tsan_get_current_fiber();
#endif
  (void)root;
}

EhState* current_eh_globals() noexcept { return thread_eh_globals(); }

inline void Hub::arrive(transfer_t t) {
  auto* from = static_cast<GreenletBase*>(t.data);
  sanitizer_arrive(current_, from);
  if (from->state == State::dead)
    reap(from);
  else
    from->fctx = t.fctx;
  *eh_ = current_->eh;
}

bool Hub::prepare(GreenletBase* g) noexcept {
  try {
    g->stack = stacks_.acquire(g->stack_size);
  } catch (...) {
    die_unstarted(g, std::current_exception());
    return false;
  }
  g->started = true;
  g->fctx = ctx::make_fcontext(g->stack.top(), g->stack.usable, &Hub::entry);
  g->asan_bottom = g->stack.bottom();
  g->asan_size = g->stack.usable;
#if GROVE_TSAN
  g->tsan_fiber = __tsan_create_fiber(0);
#endif
  return true;
}

void Hub::switch_to(GreenletBase* next) {
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
  transfer_t t = ctx::jump_fcontext(std::exchange(next->fctx, nullptr), self);
  arrive(t);
}

void Hub::exit_to(GreenletBase* next) {
  GreenletBase* self = current_;
  current_ = next;
  next->state = State::running;
  note_switch(next);
  sanitizer_leave(self, next, true);
  ctx::jump_fcontext(std::exchange(next->fctx, nullptr), self);
  std::fprintf(stderr, "grove: a dead green thread was resumed\n");
  std::abort();
}

// A context that died has left its stack for good: the stack can be reused.
void Hub::reap(GreenletBase* dead) noexcept {
#if GROVE_ASAN
  // Frames that never returned (the entry function's, those a switch left) keep their
  // redzones poisoned; the next green thread on this stack must not trip over them.
  if (dead->stack) __asan_unpoison_memory_region(dead->stack.bottom(), dead->stack.usable);
#endif
  stacks_.release(dead->stack);
  dead->stack = Stack{};
  dead->fctx = nullptr;
#if GROVE_TSAN
  if (dead->tsan_fiber) __tsan_destroy_fiber(dead->tsan_fiber);
  dead->tsan_fiber = nullptr;
#endif
  if (!dead->is_hub) dead->release();  // the hub's reference, taken in start()
}

void Hub::entry(transfer_t t) noexcept {
  Hub& hub = *t_hub;
  hub.arrive(t);
  GreenletBase* self = hub.current_;
  if (self->is_hub) {
    hub.hub_main();
    self->state = State::dead;
    hub.exit_to(hub.root());
  }
  hub.run_green(self);
  hub.finish(self);
  hub.exit_to(hub.next_to_run());
}

}  // namespace grove::green::detail
