// The green-thread dump (introspect.hpp): every live green thread of the hub, and for each
// suspended one the stack unwound from the registers its last context switch saved.
//
// Unwinding: libunwind (DWARF call-frame information, so builds without frame pointers
// unwind too) from a ucontext filled with the saved callee-saved registers, the return
// address and the stack pointer after it. libunwind is loaded with dlopen(RTLD_LOCAL) on the
// first dump rather than linked: libunwind.so exports its own _Unwind_RaiseException and
// friends, and linked into the process it would take over C++ exception handling from
// libgcc for every throw. Only its header is needed at build time (Debian libunwind-dev).
#include "hub.hpp"

#include <grove/green/introspect.hpp>

#include <cxxabi.h>
#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>

#if defined(__x86_64__) && defined(__linux__) && __has_include(<libunwind.h>)
#define UNW_LOCAL_ONLY
#include <libunwind.h>
#include <ucontext.h>
#define GROVE_GREEN_DUMP_STACKS 1
#else
#define GROVE_GREEN_DUMP_STACKS 0
#endif

namespace grove::green {

namespace {

const char* state_name(detail::State s) {
  switch (s) {
    case detail::State::created: return "created";
    case detail::State::runnable: return "runnable";
    case detail::State::running: return "running";
    case detail::State::parked: return "parked";
    case detail::State::dead: return "dead";
  }
  return "?";
}

std::string demangle(const char* name) {
  int status = 0;
  char* out = abi::__cxa_demangle(name, nullptr, nullptr, &status);
  std::string s = status == 0 && out ? out : name;
  std::free(out);
  return s;
}

std::string hex(std::uintptr_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%zx", std::size_t(v));
  return buf;
}

#if GROVE_GREEN_DUMP_STACKS

// libunwind's local-unwinding entry points (UNW_LOCAL_ONLY names them _UL<arch>_...).
struct Unwind {
  decltype(&unw_init_local) init_local = nullptr;
  decltype(&unw_step) step = nullptr;
  decltype(&unw_get_reg) get_reg = nullptr;
  decltype(&unw_get_proc_name) get_proc_name = nullptr;
};

const Unwind* unwind() {
  static const Unwind* loaded = [] {
    void* lib = ::dlopen("libunwind.so.8", RTLD_NOW | RTLD_LOCAL);
    if (!lib) return static_cast<Unwind*>(nullptr);
    auto* u = new Unwind;  // kept for the process's life, like the library
#define GROVE_SYM(field, sym) u->field = reinterpret_cast<decltype(u->field)>(::dlsym(lib, #sym))
    GROVE_SYM(init_local, _ULx86_64_init_local);
    GROVE_SYM(step, _ULx86_64_step);
    GROVE_SYM(get_reg, _ULx86_64_get_reg);
    GROVE_SYM(get_proc_name, _ULx86_64_get_proc_name);
#undef GROVE_SYM
    if (!u->init_local || !u->step || !u->get_reg || !u->get_proc_name) {
      delete u;
      return static_cast<Unwind*>(nullptr);
    }
    return u;
  }();
  return loaded;
}

// Where a suspended context's switch left the callee-saved registers and its return
// address (context_x86_64_sysv.S's SAVE_CALLEE_SAVED; Boost.Context's jump_fcontext, which
// keeps MXCSR and the x87 control word in the first 8 bytes).
struct SavedFrame {
  std::uint64_t r12, r13, r14, r15, rbx, rbp, rip;
};
const SavedFrame* saved_frame(void* fctx) {
#if GROVE_GREEN_CONTEXT_NATIVE
  return static_cast<const SavedFrame*>(fctx);
#else
  return reinterpret_cast<const SavedFrame*>(static_cast<char*>(fctx) + 8);
#endif
}

std::string frame_text(const Unwind& u, unw_cursor_t& cursor, unw_word_t ip) {
  char name[512];
  unw_word_t offset = 0;
  std::string out;
  if (u.get_proc_name(&cursor, name, sizeof name, &offset) == 0)
    out = demangle(name) + "+" + hex(offset);
  else out = hex(ip);
  Dl_info info{};
  if (::dladdr(reinterpret_cast<void*>(ip), &info) && info.dli_fname && *info.dli_fname) {
    std::string file = info.dli_fname;
    auto slash = file.rfind('/');
    out += " (" + (slash == std::string::npos ? file : file.substr(slash + 1)) + ")";
  }
  return out;
}

std::vector<std::string> unwind_suspended(void* fctx) {
  std::vector<std::string> frames;
  const Unwind* u = unwind();
  if (!u || !fctx) return frames;
  const SavedFrame* f = saved_frame(fctx);
  ucontext_t uc{};
  greg_t* r = uc.uc_mcontext.gregs;
  r[REG_R12] = greg_t(f->r12);
  r[REG_R13] = greg_t(f->r13);
  r[REG_R14] = greg_t(f->r14);
  r[REG_R15] = greg_t(f->r15);
  r[REG_RBX] = greg_t(f->rbx);
  r[REG_RBP] = greg_t(f->rbp);
  // The saved address is a return address: one byte back is inside the call, so the first
  // frame is looked up (function name, unwind rules) in the caller even when the call was its
  // last instruction; libunwind does the same for the outer frames.
  r[REG_RIP] = greg_t(f->rip - 1);
  r[REG_RSP] = greg_t(reinterpret_cast<std::uintptr_t>(&f->rip + 1));  // after the `ret`
  unw_cursor_t cursor;
  if (u->init_local(&cursor, &uc) != 0) return frames;
  constexpr int kMaxFrames = 64;
  for (int i = 0; i < kMaxFrames; ++i) {
    unw_word_t ip = 0;
    if (u->get_reg(&cursor, UNW_REG_IP, &ip) != 0 || ip == 0) break;
    frames.push_back(frame_text(*u, cursor, ip));
    if (u->step(&cursor) <= 0) break;
  }
  return frames;
}

#else

std::vector<std::string> unwind_suspended(void*) { return {}; }

#endif

GreenThreadInfo describe(detail::Hub& hub, detail::GreenletBase* g, TimePoint now) {
  GreenThreadInfo info;
  info.id = g->id;
  info.name = g->is_root ? "main" : g->display_name();
  info.state = state_name(g->state);
  if (g->state == detail::State::parked)
    if (const auto* w = dynamic_cast<const detail::FdWait*>(g->parking))
      info.waiting_on = "fd " + std::to_string(w->fd);
  if (!g->is_root) info.age = now - g->born;
  // A context that never ran has no frames yet; the caller's own is running.
  if (g != hub.running() && g->started && !g->fresh && g->fctx)
    info.frames = unwind_suspended(g->fctx);
  return info;
}

}  // namespace

bool dump_has_stacks() noexcept {
#if GROVE_GREEN_DUMP_STACKS
  return unwind() != nullptr;
#else
  return false;
#endif
}

std::vector<GreenThreadInfo> green_threads() {
  std::vector<GreenThreadInfo> out;
  detail::Hub* hub = detail::Hub::get_if_exists();
  if (!hub) return out;
  const TimePoint now = hub->loop().now();
  for (detail::GreenletBase* g = hub->live_head(); g; g = g->live_next)
    out.push_back(describe(*hub, g, now));
  detail::GreenletBase* root = hub->root();
  if (root != hub->running() && root->fctx) {
    GreenThreadInfo main = describe(*hub, root, now);
    main.frames = unwind_suspended(root->fctx);
    out.push_back(std::move(main));
  }
  return out;
}

std::string dump_green_threads() {
  std::vector<GreenThreadInfo> threads = green_threads();
  std::string out = "grove: " + std::to_string(threads.size()) + " green thread(s) on this hub";
  if (!dump_has_stacks()) out += " (no stacks: this build or system has no libunwind)";
  out += "\n";
  for (const auto& t : threads) {
    char age[32];
    std::snprintf(age, sizeof age, "%.3f", std::chrono::duration<double>(t.age).count());
    const std::string on = t.waiting_on.empty() ? "" : " on " + t.waiting_on;
    out += "\ngreen thread " + std::to_string(t.id) + " \"" + t.name + "\" [" + t.state + on +
           ", " + age + " s]\n";
    for (std::size_t i = 0; i < t.frames.size(); ++i)
      out += "    #" + std::to_string(i) + " " + t.frames[i] + "\n";
  }
  return out;
}

}  // namespace grove::green
