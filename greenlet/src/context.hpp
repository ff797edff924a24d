// The context switch under the hub: make a context on a stack, jump to one. Internal.
//
// Two implementations with the same contract, chosen at build time (GROVE_GREEN_CONTEXT):
//  - native (the default on x86-64): context_x86_64_sysv.S, which keeps the CPU's return-stack
//    predictor in step and leaves the floating-point environment to the OS thread;
//  - boost: Boost.Context's fcontext, on every CPU Boost supports; each context keeps its own
//    MXCSR and x87 control word.
//
// Contract (fcontext's): jump_context(to, data) suspends the caller and resumes `to`; the
// resumed side receives {the caller's suspended context, data}. A context made by
// make_context first runs entry(that transfer).
#pragma once

#include <cstddef>

#if GROVE_GREEN_CONTEXT_NATIVE
extern "C" {
struct GroveTransfer {
  void* fctx;
  void* data;
};
GroveTransfer grove_jump_context(void* to, void* data) noexcept;
GroveTransfer grove_start_context(void* to, void* data) noexcept;
void* grove_make_context(void* top, std::size_t size,
                         GroveTransfer (*entry)(GroveTransfer) noexcept) noexcept;
}
#else
#include <boost/context/detail/fcontext.hpp>
#endif

namespace grove::green::detail {

// start_context(to, data) is jump_context for the first resumption of a made context; it
// may be cheaper (native: it keeps the return-stack predictor in step). jump_context works
// for that too.
//
// EntryResult is what a context's entry function returns. Native: {the context to resume,
// data}, and the finished context is left for good (entry may also leave with jump_context
// and never return). Boost: void, and entry must leave with jump_context.
#if GROVE_GREEN_CONTEXT_NATIVE
using Transfer = GroveTransfer;
using EntryResult = Transfer;
using ContextEntry = EntryResult (*)(Transfer) noexcept;

inline Transfer jump_context(void* to, void* data) noexcept { return grove_jump_context(to, data); }
inline Transfer start_context(void* to, void* data) noexcept {
  return grove_start_context(to, data);
}
inline void* make_context(void* top, std::size_t size, ContextEntry entry) noexcept {
  return grove_make_context(top, size, entry);
}
#else
using Transfer = boost::context::detail::transfer_t;
using EntryResult = void;
using ContextEntry = void (*)(Transfer);

inline Transfer jump_context(void* to, void* data) noexcept {
  return boost::context::detail::jump_fcontext(to, data);
}
inline Transfer start_context(void* to, void* data) noexcept { return jump_context(to, data); }
inline void* make_context(void* top, std::size_t size, ContextEntry entry) noexcept {
  return boost::context::detail::make_fcontext(top, size, entry);
}
#endif

}  // namespace grove::green::detail
