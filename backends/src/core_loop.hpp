// The loop core: asyncio's model (ready queue, timer heap, selector) over any Poller.
// Internal; users see only grove::EventLoop.
#pragma once

#include "deadline_fd.hpp"
#include "poller.hpp"

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <new>
#include <vector>

namespace grove::detail {

class CoreLoop;
class SignalPipe;

// Laid out to stay within 112 bytes (glibc serves that size from its fast bins): the flags
// sit in RefCounted's tail padding.
struct TimerNode final : RefCounted {
  bool cancelled = false;
  bool referenced = true;
  bool in_heap = false;  // an entry in the heap refers to it (a cancelled timer's
                         // entry stays there until popped or swept: lazy deletion)
  CoreLoop* loop = nullptr;
  std::int64_t at = 0;  // deadline, ns on the loop's clock
  Callback cb;
  std::uint64_t seq = 0;  // tie-break: scheduling order
  Duration interval{0};   // non-zero: repeating

  // The storage comes from the loop's TimerPool (call_at); deleting the node returns it.
  static void operator delete(void* p) noexcept;
};

// Storage for TimerNodes, in 64 KiB slabs. A timer costs no malloc/free pair, and the nodes
// of timers scheduled together lie together in memory, as an array of ev_timer would.
// Owned jointly by the loop and the live nodes (a Timer handle may outlive its loop): it
// goes away when the loop has and the last node is freed. A slab that empties is given
// back to the system, except one kept to absorb churn at a slab boundary.
class TimerPool {
 public:
  static constexpr std::size_t kSlabBytes = 64 * 1024;

  // Inline for the common case: a slot in the first slab with room, which is not the last.
  void* allocate() {
    Slab* s = room_;
    if (s && s->free && s->free->next) [[likely]] {
      FreeSlot* p = s->free;
      s->free = p->next;
      ++s->used;
      ++live_;
      return p;
    }
    if (s && !s->free && s->fresh + 2 * kSlot <= slab_end(s)) [[likely]] {
      void* p = s->fresh;
      s->fresh += kSlot;
      ++s->used;
      ++live_;
      return p;
    }
    return allocate_slow();
  }
  static void deallocate(void* p) noexcept;
  void owner_gone() noexcept;  // the loop is being destroyed

 private:
  struct FreeSlot {
    FreeSlot* next;
  };
  struct alignas(64) Slab {
    TimerPool* pool;
    Slab* prev;  // links in the pool's list of slabs with room
    Slab* next;
    FreeSlot* free;  // freed slots
    char* fresh;     // first never-used slot
    std::uint32_t used = 0;
    bool listed = false;
  };
  static constexpr std::size_t kSlot =
      (sizeof(TimerNode) + alignof(TimerNode) - 1) / alignof(TimerNode) * alignof(TimerNode);
  static_assert(alignof(TimerNode) <= alignof(Slab));

  ~TimerPool() = default;
  static Slab* slab_of(void* p) noexcept {
    return reinterpret_cast<Slab*>(reinterpret_cast<std::uintptr_t>(p) & ~(kSlabBytes - 1));
  }
  static char* slab_end(Slab* s) noexcept { return reinterpret_cast<char*>(s) + kSlabBytes; }
  void* allocate_slow();
  Slab* new_slab();
  void list(Slab* s) noexcept;
  void unlist(Slab* s) noexcept;

  Slab* room_ = nullptr;   // slabs with a free or fresh slot; allocation takes the first
  Slab* spare_ = nullptr;  // an empty slab, not listed
  std::size_t live_ = 0;   // nodes allocated and not yet freed
  bool owner_gone_ = false;
};

struct IoNode final : RefCounted {
  CoreLoop* loop = nullptr;
  EventLoop::IoCallback cb;
  int fd = -1;
  Events events = Events::none;
  bool active = false;
  bool referenced = true;
  bool attached = true;  // still listed on its fd
  bool in_callback = false;
};

struct SignalNode final : RefCounted {
  CoreLoop* loop = nullptr;
  EventLoop::SignalCallback cb;
  int signum = 0;
  bool active = false;
  bool referenced = true;
  bool attached = true;
  bool in_callback = false;
};

// The ready queue's storage: a vector of callbacks whose push is a capacity check and a
// move, with growth kept out of line (std::vector::push_back inlines its reallocation,
// which makes call_soon save and restore six registers on every call).
class CallbackQueue {
 public:
  CallbackQueue() = default;
  CallbackQueue(const CallbackQueue&) = delete;
  CallbackQueue& operator=(const CallbackQueue&) = delete;
  ~CallbackQueue() {
    clear();
    ::operator delete(data_);
  }
  void push(Callback&& cb) {
    if (size_ == capacity_) [[unlikely]]
      grow(size_ + 1);
    ::new (static_cast<void*>(data_ + size_)) Callback(std::move(cb));
    ++size_;
  }
  void reserve(std::size_t n) {
    if (n > capacity_) grow(n);
  }
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  Callback& operator[](std::size_t i) { return data_[i]; }
  Callback* begin() { return data_; }
  Callback* end() { return data_ + size_; }
  void clear() noexcept {
    for (std::size_t i = 0; i < size_; ++i) data_[i].~Callback();
    size_ = 0;
  }
  // Drops every entry without destroying it: each must be empty (reset or moved from).
  void forget_empty() noexcept { size_ = 0; }
  void swap(CallbackQueue& o) noexcept {
    std::swap(data_, o.data_);
    std::swap(size_, o.size_);
    std::swap(capacity_, o.capacity_);
  }

 private:
  [[gnu::noinline]] void grow(std::size_t at_least) {
    std::size_t cap = capacity_ ? capacity_ * 2 : 64;
    while (cap < at_least) cap *= 2;
    auto* fresh = static_cast<Callback*>(::operator new(cap * sizeof(Callback)));
    for (std::size_t i = 0; i < size_; ++i) {
      ::new (static_cast<void*>(fresh + i)) Callback(std::move(data_[i]));
      data_[i].~Callback();
    }
    ::operator delete(data_);
    data_ = fresh;
    capacity_ = cap;
  }

  Callback* data_ = nullptr;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
};

class CoreLoop final : public EventLoop {
 public:
  explicit CoreLoop(std::unique_ptr<Poller> poller);
  ~CoreLoop() override;

  void call_soon(Callback cb) override;
  void call_soon_threadsafe(Callback cb) override;
  Timer call_at(TimePoint when, Callback cb) override;
  Timer call_every(Duration interval, Callback cb) override;
  IoWatcher watch(int fd, Events events, IoCallback cb) override;
  void forget_fd(int fd) override;
  SignalWatcher watch_signal(int signum, SignalCallback cb) override;
  void run() override;
  bool run_once(bool block) override;
  void stop() override { stopping_ = true; }
  bool is_running() const override { return running_depth_ > 0; }
  bool alive() const override { return !ready_.empty() || referenced_ > 0; }
  void work_started() override { ++referenced_; }
  void work_finished() override { --referenced_; }
  void reinit_after_fork() override;
  const Capabilities& capabilities() const override { return caps_; }

  // --- used by the handles (handles.cpp) ---
  void cancel_timer(TimerNode* t);
  void set_timer_ref(TimerNode* t, bool referenced);
  void start(IoNode* w);
  void stop(IoNode* w);
  void set_io_events(IoNode* w, Events events);
  void set_ref(IoNode* w, bool referenced);
  void close(IoNode* w);
  void start(SignalNode* s);
  void stop(SignalNode* s);
  void set_ref(SignalNode* s, bool referenced);
  void close(SignalNode* s);
  // --- used by the signal pipe ---
  void dispatch_signal(int signum);

 private:
  struct FdState {
    std::vector<IoNode*> watchers;  // each holds a reference; nullptr: removed mid-dispatch
    // What the engine reports for the fd. With a poller that allows lazy removal it may be
    // more than the watchers want (interest that dropped is kept until an unwanted event
    // arrives), and it may outlive the last watcher of a socket.
    Events registered = Events::none;
    bool dirty = false;
    bool narrow = false;  // an event nobody wanted arrived: fit `registered` at the next poll
    bool socket = false;  // from the last fstat: a socket, whose inode is its own
    int dispatching = 0;
    bool holes = false;  // a watcher was closed mid-dispatch: compact when it ends
    // The file the registration belongs to (st_dev, st_ino): a watch() that finds another
    // file under the number drops the registration, as the old file was closed behind the
    // loop's back.
    std::uint64_t dev = 0;
    std::uint64_t ino = 0;
  };

  void iterate(bool block);
  Duration poll_timeout(bool block);
  void drain_remote(bool force = false);
  void run_ready();
  void invoke(Callback& cb, const char* context);

  // timers (timers.cpp)
 public:
  struct HeapEntry {  // public for the heap's helper functions in timers.cpp
    std::int64_t at;
    TimerNode* node;
  };

 private:
  bool heap_empty() const { return heap_.size() == kHeap0; }
  const HeapEntry& heap_top() const { return heap_[kHeap0]; }
  void heap_push(TimerNode* t);
  TimerNode* heap_pop();  // the earliest entry's node, still holding the heap's reference
  void heap_up(std::size_t i);
  void heap_down(std::size_t i);
  void prune_cancelled_top();
  void sweep_cancelled();
  void fire_due_timers();
  // fds (io.cpp)
  FdState& fd_state(int fd);
  void adopt_file(int fd);
  void drop_registration(int fd, FdState& st);
  void mark_dirty(int fd);
  void apply_fd_changes();
  void dispatch_io(const ReadyEvent& ev);
  void note_unwanted(const ReadyEvent& ev);
  void close_watchers_of(int fd);
  void compact(FdState& st);
  void count(bool active, bool referenced, int delta) {
    if (active && referenced) referenced_ += delta;
  }

  void watch_deadline();

  std::unique_ptr<Poller> poller_;
  const bool lazy_removal_;  // poller_->lazy_removal()
  DeadlineFd deadline_;      // bounds a blocking poll; watched through the poller like any fd
  Capabilities caps_;

  CallbackQueue ready_;
  CallbackQueue running_batch_;
  std::mutex remote_mutex_;
  std::vector<Callback> remote_;
  std::vector<Callback> remote_batch_;  // loop thread only
  std::atomic<bool> remote_pending_{false};

  // A 4-ary min-heap of (deadline, node), deadlines inline so that sifting reads only this
  // array. It starts at index kHeap0 = 3 in 64-byte aligned storage so that every group of
  // four siblings fills exactly one cache line (libev's layout); slots 0-2 are unused.
  static constexpr std::size_t kHeap0 = 3;
  // The heap's storage: 64-byte aligned, entries are trivially copyable, and a push is a
  // capacity check and a store (std::vector::push_back inlines its reallocation path,
  // which costs every push a prologue saving six registers).
  class HeapArray {
   public:
    HeapArray() = default;
    HeapArray(const HeapArray&) = delete;
    HeapArray& operator=(const HeapArray&) = delete;
    ~HeapArray() { ::operator delete(data_, std::align_val_t(64)); }
    std::size_t size() const { return size_; }
    HeapEntry* data() { return data_; }
    HeapEntry& operator[](std::size_t i) { return data_[i]; }
    const HeapEntry& operator[](std::size_t i) const { return data_[i]; }
    HeapEntry& back() { return data_[size_ - 1]; }
    void pop_back() { --size_; }
    void push_back(const HeapEntry& e) {
      if (size_ == capacity_) [[unlikely]]
        grow();
      data_[size_++] = e;
    }
    void shrink_to(std::size_t n) { size_ = n; }  // n <= size()

   private:
    [[gnu::noinline]] void grow() {
      const std::size_t cap = capacity_ ? capacity_ * 2 : 64;
      auto* fresh =
          static_cast<HeapEntry*>(::operator new(cap * sizeof(HeapEntry), std::align_val_t(64)));
      for (std::size_t i = 0; i < size_; ++i) fresh[i] = data_[i];
      ::operator delete(data_, std::align_val_t(64));
      data_ = fresh;
      capacity_ = cap;
    }
    HeapEntry* data_ = nullptr;
    std::size_t size_ = 0;
    std::size_t capacity_ = 0;
  };
  HeapArray heap_;
  TimerPool* timer_pool_;
  std::size_t cancelled_in_heap_ = 0;  // entries whose timer was cancelled (lazy deletion)
  std::uint64_t timer_seq_ = 0;

  std::vector<FdState> fds_;
  std::vector<int> dirty_fds_;
  std::vector<ReadyEvent> ready_events_;

  std::vector<std::vector<SignalNode*>> signals_;  // by signum
  std::unique_ptr<SignalPipe> signal_pipe_;

  std::int64_t referenced_ = 0;  // active referenced watchers/timers + work_started()
  int running_depth_ = 0;
  bool stopping_ = false;
};

// The self-pipe that carries signals from grove's process-wide handler to one loop.
class SignalPipe {
 public:
  explicit SignalPipe(CoreLoop& loop);
  ~SignalPipe();
  void add(int signum);     // installs the process handler for signum if first anywhere
  void remove(int signum);  // restores the old disposition if last anywhere
  void after_fork();

 private:
  void open_pipe();
  void on_readable();
  CoreLoop& loop_;
  int slot_ = -1;
  int read_fd_ = -1;
  int write_fd_ = -1;
  IoWatcher watcher_;
};

}  // namespace grove::detail
