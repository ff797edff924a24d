// Stack overflow detection: a SIGSEGV/SIGBUS handler, running on an alternate signal stack
// (the faulting stack has no room left), that recognises a fault in the running green
// thread's guard page, names the thread and aborts. Any other fault goes to the handler that
// was installed before (the default action, or a sanitizer's).
#include "hub.hpp"

#include <signal.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <utility>

namespace grove::green::detail {

namespace {

struct sigaction g_previous_segv;
struct sigaction g_previous_bus;

void write_all(const char* s, std::size_t n) noexcept {
  while (n > 0) {
    const ssize_t w = ::write(STDERR_FILENO, s, n);
    if (w <= 0) return;
    s += w;
    n -= std::size_t(w);
  }
}
void write_str(const char* s) noexcept { write_all(s, std::strlen(s)); }
void write_number(std::uint64_t v) noexcept {
  char buf[24];
  char* p = buf + sizeof buf;
  do {
    *--p = char('0' + v % 10);
    v /= 10;
  } while (v);
  write_all(p, std::size_t(buf + sizeof buf - p));
}

std::uintptr_t stack_pointer_of(void* uctx) noexcept {
#if defined(__x86_64__)
  return std::uintptr_t(static_cast<ucontext_t*>(uctx)->uc_mcontext.gregs[REG_RSP]);
#elif defined(__aarch64__)
  return std::uintptr_t(static_cast<ucontext_t*>(uctx)->uc_mcontext.sp);
#else
  (void)uctx;
  return 0;
#endif
}

// A fault in the guard page, or with the stack pointer already below the usable stack (a
// frame larger than the guard jumped over it), is an overflow of this green thread.
bool overflowed(const Stack& s, std::uintptr_t addr, std::uintptr_t sp) noexcept {
  const auto base = std::uintptr_t(s.base);
  const auto bottom = std::uintptr_t(s.bottom());
  if (addr >= base && addr < bottom) return true;
  return sp != 0 && sp < bottom && sp + 1024 * 1024 > base;
}

[[noreturn]] void report_overflow(const GreenletBase* g) noexcept {
  // Only async-signal-safe calls from here on.
  write_str("green thread ");
  if (!g->name.empty()) {
    write_all(g->name.data(), g->name.size());
  } else {
    write_str("green-");
    write_number(g->id);
  }
  write_str(" overflowed its ");
  write_number(g->stack.usable);
  write_str("-byte stack\n");
  write_str(
      "grove: give it a bigger stack (SpawnOptions::stack_size, StackConfig::size) or "
      "move large buffers off the stack\n");
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  ::sigaction(SIGABRT, &dfl, nullptr);
  std::abort();
}

// Not ours: hand the signal back to whoever had it before. For a real fault, reinstalling
// that handler and returning makes the faulting instruction fault again, straight into it.
// A raised signal (kill, raise) is not re-executed, so it gets the default action.
void chain(int sig, siginfo_t* info) noexcept {
  if (info && info->si_code > 0) {
    const struct sigaction& prev = sig == SIGBUS ? g_previous_bus : g_previous_segv;
    ::sigaction(sig, &prev, nullptr);
    return;
  }
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  ::sigaction(sig, &dfl, nullptr);
  ::raise(sig);
}

void on_fault(int sig, siginfo_t* info, void* uctx) {
  if (Hub* hub = t_hub) {
    const GreenletBase* g = hub->running();
    if (g && g->stack &&
        overflowed(g->stack, std::uintptr_t(info->si_addr), stack_pointer_of(uctx)))
      report_overflow(g);
  }
  chain(sig, info);
}

}  // namespace

void install_overflow_handler() {
  static std::mutex mutex;
  std::lock_guard lock(mutex);
  struct sigaction sa {};
  sa.sa_sigaction = &on_fault;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
  sigemptyset(&sa.sa_mask);
  for (auto [sig, previous] : {std::pair{SIGSEGV, &g_previous_segv}, {SIGBUS, &g_previous_bus}}) {
    struct sigaction current {};
    ::sigaction(sig, nullptr, &current);
    if ((current.sa_flags & SA_SIGINFO) && current.sa_sigaction == &on_fault) continue;  // ours
    ::sigaction(sig, &sa, previous);
  }
}

// The alternate signal stack is per thread: every thread with a hub needs one. A thread
// that already has one (a sanitizer's) keeps it.
AltStack::AltStack() {
  stack_t current{};
  if (::sigaltstack(nullptr, &current) == 0 && !(current.ss_flags & SS_DISABLE)) return;
  const long min = ::sysconf(_SC_SIGSTKSZ);
  size = std::size_t(min > 65536 ? min : 65536);
  void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return;
  stack_t ss{};
  ss.ss_sp = p;
  ss.ss_size = size;
  if (::sigaltstack(&ss, nullptr) != 0) {
    ::munmap(p, size);
    return;
  }
  memory = p;
}

AltStack::~AltStack() {
  if (!memory) return;
  stack_t ss{};
  ss.ss_flags = SS_DISABLE;
  ::sigaltstack(&ss, nullptr);
  ::munmap(memory, size);
}

}  // namespace grove::green::detail

namespace grove::green {
void install_overflow_handler() { detail::install_overflow_handler(); }
}  // namespace grove::green
