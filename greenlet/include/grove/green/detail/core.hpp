// Internals shared by grove::green's templates: the green thread record, wait lists and the
// park/wake primitive every blocking call is built on. Not part of the public contract.
#pragma once

#include <grove/context.hpp>
#include <grove/function.hpp>
#include <grove/loop.hpp>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <optional>
#include <string>

namespace grove::green::detail {

class Hub;
class GreenletBase;
struct LinkNode;

// Where a green thread is in its life.
enum class State : std::uint8_t {
  created,   // spawned, waiting for its first turn; no stack yet
  runnable,  // in the hub's run queue
  running,   // on the CPU
  parked,    // waiting for something to wake it
  dead,      // finished (returned, threw, or was killed)
};

// Why a parked green thread was woken.
enum class Wake : std::uint8_t {
  none,
  notified,      // what it waited for happened
  timed_out,     // its deadline passed
  thrown,        // an exception was thrown into it (kill, Timeout)
  closed,        // the fd it waited on was closed by another green thread
  nothing_left,  // the hub has no work left that could ever wake it
};

// What a parked green thread is waiting on. When something other than the thing itself
// wakes the thread (a deadline, a kill), cancel() unhooks it so nothing stale remains.
struct Parking {
  virtual void cancel() noexcept = 0;

 protected:
  ~Parking() = default;
};

// A FIFO of parked green threads. The waiter lives on the waiting thread's stack.
class WaitList;
struct Waiter : Parking {
  GreenletBase* green = nullptr;
  Waiter* prev = nullptr;
  Waiter* next = nullptr;
  WaitList* list = nullptr;
  void cancel() noexcept override;
};

class WaitList {
 public:
  WaitList() = default;
  WaitList(const WaitList&) = delete;
  WaitList& operator=(const WaitList&) = delete;

  bool empty() const noexcept { return head_ == nullptr; }
  std::size_t size() const noexcept;
  Waiter* front() const noexcept { return head_; }
  void push_back(Waiter& w) noexcept {
    w.list = this;
    w.next = nullptr;
    w.prev = tail_;
    (tail_ ? tail_->next : head_) = &w;
    tail_ = &w;
  }
  void remove(Waiter& w) noexcept {
    if (w.list != this) return;
    (w.prev ? w.prev->next : head_) = w.next;
    (w.next ? w.next->prev : tail_) = w.prev;
    w.prev = w.next = nullptr;
    w.list = nullptr;
  }
  Waiter* pop_front() noexcept {
    Waiter* w = head_;
    if (w) remove(*w);
    return w;
  }

  // Parks the calling green thread at the back of the list until notified, timed out or
  // thrown into. Does not throw the pending exception: callers first settle whatever a
  // notification handed them, then call throw_pending().
  Wake wait(Waiter& w, std::optional<Duration> timeout);
  Wake wait(std::optional<Duration> timeout) {
    Waiter w;
    return wait(w, timeout);
  }
  // Wakes the first waiter (removing it); returns it, or nullptr if none waited.
  Waiter* notify_one() noexcept;
  void notify_all() noexcept;

 private:
  Waiter* head_ = nullptr;
  Waiter* tail_ = nullptr;
};

// A pooled, guarded stack. `base` is the start of the mapping (the guard page comes first,
// because stacks grow down); the usable part is [base + guard, base + guard + usable).
struct Stack {
  char* base = nullptr;
  std::size_t guard = 0;
  std::size_t usable = 0;
  std::size_t requested = 0;  // the size asked for (usable is that, rounded up to pages)
  char* bottom() const { return base + guard; }
  char* top() const { return base + guard + usable; }
  explicit operator bool() const { return base != nullptr; }
};

// libstdc++'s per-thread exception state (__cxa_eh_globals): the chain of caught exceptions
// behind std::current_exception() and the count behind std::uncaught_exceptions(). Boost
// 1.74 does not switch it, so every green thread keeps its own copy.
struct EhState {
  void* caught = nullptr;
  unsigned int uncaught = 0;
};

// One green thread (also the hub's own fiber and the OS thread's main context). Shared by
// the hub and the handles; reference counted, confined to its OS thread.
class GreenletBase {
 public:
  GreenletBase() = default;
  GreenletBase(const GreenletBase&) = delete;
  GreenletBase& operator=(const GreenletBase&) = delete;

  // Records are recycled per OS thread (records.cpp): spawn+join is on the hot path.
  static void* operator new(std::size_t size);
  static void operator delete(void* p, std::size_t size) noexcept;

  void retain() noexcept { ++refs_; }
  void release() noexcept {
    if (--refs_ == 0) destroy();
  }

  // The function of the green thread; stores its result. Only spawned threads have one.
  virtual void run() {}
  // Forgets the function and its arguments once they are no longer needed.
  virtual void drop_function() noexcept {}

  // The name for diagnostics: the one given, or "green-<id>".
  std::string display_name() const;
  void set_name(std::string name);

  // --- what every switch touches, together in the first cache line ---
  void* fctx = nullptr;              // its suspended context (jump_context)
  GreenletBase* run_prev = nullptr;  // run queue (intrusive, doubly linked)
  GreenletBase* run_next = nullptr;
  Parking* parking = nullptr;  // what it waits on while parked
  EhState eh;                  // its exception globals while it is off the CPU
  State state = State::created;
  Wake wake_reason = Wake::none;
  bool queued = false;
  bool started = false;
  bool fresh = false;    // has a context that never ran (see start_context)
  bool is_root = false;  // the OS thread's own stack
  bool is_hub = false;   // the hub's fiber
  bool has_function = false;
  bool exited_normally = false;  // returned, or ended by GreenletExit
  std::exception_ptr pending;    // thrown at its next switch point

  // --- the rest ---
  Hub* hub = nullptr;
  std::uint64_t id = 0;
  std::string name;
  std::exception_ptr error;           // why it died, unless it returned or exited normally
  GreenletBase* live_prev = nullptr;  // the hub's list of live green threads
  GreenletBase* live_next = nullptr;
  LinkNode* links = nullptr;  // callbacks to run when it dies
  WaitList joiners;           // green threads in join()
  Stack stack;
  std::size_t stack_size = 0;  // requested usable size
  ExecutionContext context;
  void* asan_fake_stack = nullptr;
  const void* asan_bottom = nullptr;
  std::size_t asan_size = 0;
  void* tsan_fiber = nullptr;
  TimePoint born{};                 // when spawned (the hub loop's cached time): the dump's age
  std::int64_t runnable_since = 0;  // ns, while run-queue timing is on (introspect.hpp)

 protected:
  virtual ~GreenletBase();

 private:
  void destroy() noexcept;
  std::uint32_t refs_ = 0;
};

// Intrusive reference to a green thread.
class GreenRef {
 public:
  GreenRef() = default;
  explicit GreenRef(GreenletBase* g) noexcept : g_(g) {
    if (g_) g_->retain();
  }
  GreenRef(const GreenRef& o) noexcept : GreenRef(o.g_) {}
  GreenRef(GreenRef&& o) noexcept : g_(o.g_) { o.g_ = nullptr; }
  GreenRef& operator=(GreenRef o) noexcept {
    std::swap(g_, o.g_);
    return *this;
  }
  ~GreenRef() {
    if (g_) g_->release();
  }
  GreenletBase* get() const noexcept { return g_; }
  GreenletBase* operator->() const noexcept { return g_; }
  explicit operator bool() const noexcept { return g_ != nullptr; }

 private:
  GreenletBase* g_ = nullptr;
};

// --- the primitive, for the calling OS thread's hub --------------------------------------
// The running green thread (the hub creates itself on first use).
GreenletBase* current_green();
// Blocks the running green thread until wake() (or its deadline). `parking` may be null.
// Never throws the pending exception (see throw_pending); throws std::logic_error when
// called from inside the hub itself.
Wake park(Parking* parking, std::optional<TimePoint> deadline);
// Throws (and clears) the running green thread's pending exception, if any.
void throw_pending();
// Makes a parked green thread runnable; false if it was not parked. Hub thread only.
bool wake(GreenletBase* g, Wake why) noexcept;
// Arranges for `error` to be thrown in g at its switch point (at once if parked).
void throw_into(GreenletBase* g, std::exception_ptr error);
// The hub's event loop.
EventLoop& hub_loop();
// Puts a new green thread on the run queue.
void start(GreenletBase* g);
// Kills g (see green::kill).
void kill(GreenletBase* g, std::exception_ptr error, bool block, std::optional<Duration> timeout);
// Waits until g is dead; false on timeout.
bool wait_dead(GreenletBase* g, std::optional<Duration> timeout);

// Waits in `list`: true when notified; otherwise throws the pending exception, if any, or
// returns false (timed out, or the list's owner was destroyed).
bool wait_in(WaitList& list, Waiter& w, std::optional<Duration> timeout);
// wait_in() unless `ready` is already true.
bool wait_ready(bool& ready, WaitList& waiters, std::optional<Duration> timeout);
// Wakes every waiter with Wake::closed (their wait returns false): for destructors.
void wake_all_closed(WaitList& waiters) noexcept;

// Callbacks run (in the dying thread, before it leaves the CPU) when a green thread dies.
struct LinkNode {
  Function<void()> fn;
  LinkNode* next = nullptr;
  std::uint64_t id = 0;
};
std::uint64_t add_link(GreenletBase* g, Function<void()> fn);
void remove_link(GreenletBase* g, std::uint64_t id) noexcept;

// Thrown on `join(timeout)` and similar timed waits whose time ran out; defined in timeout.cpp.
[[noreturn]] void throw_timed_out(Duration after);

}  // namespace grove::green::detail
