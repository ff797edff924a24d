// Context switching: jump_context (context.hpp: grove's native switch, or Boost.Context's
// fcontext, the layer under boost::context::fiber) plus what a switch must carry besides
// registers:
//  - libstdc++'s per-thread exception globals (current_exception, uncaught_exceptions);
//  - AddressSanitizer's and ThreadSanitizer's notion of the current stack;
//  - the blocking detector's switch counter.
// With Boost, fcontext is used directly rather than through boost::context::fiber because a
// fiber's constructor makes a round trip into the new context before it can run, and
// spawn+join is on the hot path; the fiber API has nothing else we need.
#include "hub.hpp"
#include "monitor.hpp"

#include <grove/green/hub.hpp>

#include <cxxabi.h>

#include <cstdio>
#include <cstdlib>

namespace grove::green::detail {

namespace {

// The libstdc++ layout of __cxa_eh_globals (unwind-cxx.h) is what EhState mirrors.
EhState* thread_eh_globals() noexcept {
  return reinterpret_cast<EhState*>(abi::__cxa_get_globals());
}

}  // namespace

void init_machine_state(GreenletBase* root) noexcept {
#if GROVE_TSAN
  root->tsan_fiber = __tsan_get_current_fiber();
#endif
  (void)root;
}

EhState* current_eh_globals() noexcept { return thread_eh_globals(); }

bool Hub::prepare(GreenletBase* g) noexcept {
  try {
    g->stack = stacks_.acquire(g->stack_size);
  } catch (...) {
    die_unstarted(g, std::current_exception());
    return false;
  }
  g->started = true;
  g->fresh = true;
  g->fctx = make_context(g->stack.top(), g->stack.usable, &Hub::entry);
  g->asan_bottom = g->stack.bottom();
  g->asan_size = g->stack.usable;
#if GROVE_TSAN
  g->tsan_fiber = __tsan_create_fiber(0);
#endif
  return true;
}

void Hub::exit_to(GreenletBase* next) {
  GreenletBase* self = current_;
  current_ = next;
  next->state = State::running;
  note_switch(next);
  sanitizer_leave(self, next, true);
  resume(next, self);
  std::fprintf(stderr, "grove: a dead green thread was resumed\n");
  std::abort();
}

// What a finished context's entry returns to leave it for good (GROVE_GREEN_ENTRY_RETURNS):
// grove_context_start resumes `next`, whose arrive() reaps `self`. A fresh `next` is entered
// through the return-address slot grove_make_context left for that.
Transfer Hub::leave_dead(GreenletBase* self, GreenletBase* next) noexcept {
  current_ = next;
  next->state = State::running;
  next->fresh = false;
  note_switch(next);
  sanitizer_leave(self, next, true);
  return Transfer{std::exchange(next->fctx, nullptr), self};
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

EntryResult Hub::entry(Transfer t) noexcept {
  Hub& hub = *t_hub;
  hub.arrive(t);
  GreenletBase* self = hub.current_;
  GreenletBase* next;
  if (self->is_hub) {
    hub.hub_main();
    self->state = State::dead;
    next = hub.root();
  } else {
    hub.run_green(self);
    hub.finish(self);
    next = hub.next_to_run();
  }
#if GROVE_GREEN_ENTRY_RETURNS
  return hub.leave_dead(self, next);
#else
  hub.exit_to(next);
#endif
}

}  // namespace grove::green::detail

namespace grove::green {

std::string_view context_switch() noexcept {
#if GROVE_GREEN_CONTEXT_NATIVE
  return "native";
#else
  return "boost";
#endif
}

}  // namespace grove::green
