// Timers: a 4-ary min-heap of (deadline, node) with asyncio's lazy cancellation.
//
// Sifting reads and writes only the heap array: nodes do not record their position, so a
// cancelled timer cannot be taken out of the middle of the heap. cancel() marks the node
// and drops its callback; its entry is discarded when it reaches the top, or all such
// entries are swept at once when they outnumber the live ones (asyncio's rule), which
// bounds the heap at twice the live timers. Keeping node positions instead would cost a
// write into a scattered node for every entry a sift moves. Ties fire in scheduling order.
#include "core_loop.hpp"

namespace grove::detail {

namespace {
constexpr std::size_t kArity = 4;
// Below this many entries a sweep is not worth its pass over the heap.
constexpr std::size_t kMinSweep = 64;
constexpr std::size_t kSweepAhead = 24;

// Children of i are kArity * (i - kHeap0) + kHeap0 + 1 ... + kArity.
constexpr std::size_t first_child(std::size_t i, std::size_t heap0) {
  return kArity * (i - heap0) + heap0 + 1;
}
constexpr std::size_t parent(std::size_t i, std::size_t heap0) {
  return (i - heap0 - 1) / kArity + heap0;
}
}  // namespace

// --- TimerPool -----------------------------------------------------------------------

void* TimerPool::allocate_slow() {
  Slab* s = room_ ? room_ : new_slab();
  void* p;
  if (s->free) {
    p = s->free;
    s->free = s->free->next;
  } else {
    p = s->fresh;
    s->fresh += kSlot;
  }
  ++s->used;
  ++live_;
  if (!s->free && s->fresh + kSlot > slab_end(s)) unlist(s);  // full
  return p;
}

void TimerPool::deallocate(void* p) noexcept {
  Slab* s = slab_of(p);
  TimerPool* pool = s->pool;
  auto* slot = static_cast<FreeSlot*>(p);
  slot->next = s->free;
  s->free = slot;
  --pool->live_;
  if (--s->used == 0) {
    if (s->listed) pool->unlist(s);
    if (pool->spare_ || pool->owner_gone_) {
      ::operator delete(static_cast<void*>(s), std::align_val_t(kSlabBytes));
    } else {
      s->free = nullptr;
      s->fresh = reinterpret_cast<char*>(s + 1);
      pool->spare_ = s;
    }
  } else if (!s->listed) {
    pool->list(s);  // it was full
  }
  if (pool->owner_gone_ && pool->live_ == 0) delete pool;
}

void TimerPool::owner_gone() noexcept {
  owner_gone_ = true;
  if (spare_) ::operator delete(static_cast<void*>(spare_), std::align_val_t(kSlabBytes));
  spare_ = nullptr;
  if (live_ > 0) return;  // the last node to go deletes the pool
  while (room_) {
    Slab* s = room_;
    unlist(s);
    ::operator delete(static_cast<void*>(s), std::align_val_t(kSlabBytes));
  }
  delete this;
}

TimerPool::Slab* TimerPool::new_slab() {
  Slab* s = spare_;
  spare_ = nullptr;
  if (!s) {
    void* mem = ::operator new(kSlabBytes, std::align_val_t(kSlabBytes));
    s = new (mem) Slab;
    s->pool = this;
    s->free = nullptr;
    s->fresh = reinterpret_cast<char*>(s + 1);
  }
  list(s);
  return s;
}

void TimerPool::list(Slab* s) noexcept {
  s->listed = true;
  s->prev = nullptr;
  s->next = room_;
  if (room_) room_->prev = s;
  room_ = s;
}

void TimerPool::unlist(Slab* s) noexcept {
  s->listed = false;
  if (s->prev) s->prev->next = s->next;
  else room_ = s->next;
  if (s->next) s->next->prev = s->prev;
}

void TimerNode::operator delete(void* p) noexcept { TimerPool::deallocate(p); }

// --- scheduling ------------------------------------------------------------------------

Timer CoreLoop::call_at(TimePoint when, Callback cb) {
  auto* t = new (timer_pool_->allocate()) TimerNode;
  t->loop = this;
  t->cb = std::move(cb);
  t->at = when.time_since_epoch().count();
  heap_push(t);
  return Timer(Ref<TimerNode>(t));
}

Timer CoreLoop::call_every(Duration interval, Callback cb) {
  if (interval <= Duration::zero())
    throw std::invalid_argument(
        "grove: call_every() needs a positive interval; use call_soon() to run once now");
  auto* t = new (timer_pool_->allocate()) TimerNode;
  t->loop = this;
  t->cb = std::move(cb);
  t->interval = interval;
  t->at = (now_ + interval).time_since_epoch().count();
  heap_push(t);
  return Timer(Ref<TimerNode>(t));
}

namespace {
// Deadline order, ties in scheduling order. Equal deadlines are rare enough (and the branch
// predictable enough) that the node is read only then.
inline bool before(const CoreLoop::HeapEntry& a, const CoreLoop::HeapEntry& b) {
  if (a.at != b.at) return a.at < b.at;
  return a.node->seq < b.node->seq;
}

// The earliest of the four siblings starting at c, as a two-round tournament: two
// independent comparisons, then one, instead of a chain of three.
inline std::size_t min_of_four(const CoreLoop::HeapEntry* h, std::size_t c) {
  const std::size_t x = before(h[c + 1], h[c]) ? c + 1 : c;
  const std::size_t y = before(h[c + 3], h[c + 2]) ? c + 3 : c + 2;
  return before(h[y], h[x]) ? y : x;
}
}  // namespace

void CoreLoop::heap_push(TimerNode* t) {
  t->retain();  // the heap's reference
  t->seq = timer_seq_++;
  t->in_heap = true;
  count(true, t->referenced, +1);
  heap_.push_back({t->at, t});
  heap_up(heap_.size() - 1);
}

TimerNode* CoreLoop::heap_pop() {
  HeapEntry* h = heap_.data();
  TimerNode* t = h[kHeap0].node;
  t->in_heap = false;
  if (t->cancelled) --cancelled_in_heap_;
  else count(true, t->referenced, -1);
  // Bottom-up: walk the hole at the root down to a leaf along the earliest children, then
  // put the last entry there and sift it up. The last entry is a leaf and usually belongs
  // near the bottom, so this saves the comparison with it at every level on the way down.
  const HeapEntry last = heap_.back();
  heap_.pop_back();
  const std::size_t n = heap_.size();
  if (n == kHeap0) return t;
  std::size_t i = kHeap0;
  for (;;) {
    const std::size_t c = first_child(i, kHeap0);
    std::size_t best;
    if (c + kArity <= n) {
      best = min_of_four(h, c);
    } else if (c < n) {
      best = c;
      for (std::size_t k = c + 1; k < n; ++k)
        if (before(h[k], h[best])) best = k;
    } else {
      break;
    }
    h[i] = h[best];
    i = best;
  }
  h[i] = last;
  heap_up(i);
  return t;
}

void CoreLoop::heap_up(std::size_t i) {
  HeapEntry* h = heap_.data();
  const HeapEntry e = h[i];
  while (i > kHeap0) {
    std::size_t p = parent(i, kHeap0);
    if (!before(e, h[p])) break;
    h[i] = h[p];
    i = p;
  }
  h[i] = e;
}

void CoreLoop::heap_down(std::size_t i) {
  HeapEntry* h = heap_.data();
  const HeapEntry e = h[i];
  const std::size_t n = heap_.size();
  for (;;) {
    const std::size_t c = first_child(i, kHeap0);
    std::size_t best;
    if (c + kArity <= n) {
      best = min_of_four(h, c);
    } else if (c < n) {
      best = c;
      for (std::size_t k = c + 1; k < n; ++k)
        if (before(h[k], h[best])) best = k;
    } else {
      break;
    }
    if (!before(h[best], e)) break;
    h[i] = h[best];
    i = best;
  }
  h[i] = e;
}

void CoreLoop::prune_cancelled_top() {
  while (!heap_empty() && heap_top().node->cancelled) heap_pop()->release();
}

void CoreLoop::sweep_cancelled() {
  std::size_t out = kHeap0;
  const std::size_t n = heap_.size();
  for (std::size_t i = kHeap0; i < n; ++i) {
    // The nodes lie in heap order, i.e. scattered: fetch ahead so the misses overlap.
    if (i + kSweepAhead < n) __builtin_prefetch(heap_[i + kSweepAhead].node, 1);
    TimerNode* t = heap_[i].node;
    if (t->cancelled) {
      t->in_heap = false;
      t->release();
    } else {
      heap_[out++] = heap_[i];
    }
  }
  heap_.shrink_to(out);
  cancelled_in_heap_ = 0;
  // Floyd's heap construction: sift down every inner entry, last first.
  if (heap_.size() > kHeap0 + 1)
    for (std::size_t i = parent(heap_.size() - 1, kHeap0) + 1; i-- > kHeap0;) heap_down(i);
}

void CoreLoop::fire_due_timers() {
  const std::int64_t now = now_.time_since_epoch().count();
  while (!heap_empty() && heap_top().at <= now) {
    Ref<TimerNode> t(heap_pop());
    t->release();  // the heap's reference; `t` keeps the node alive
    if (t->cancelled) continue;
    // The callback is moved out while it runs, so cancel() from inside it and a repeating
    // reschedule both see a consistent node.
    Callback cb = std::move(t->cb);
    if (t->interval > Duration::zero()) {
      std::int64_t next = t->at + t->interval.count();
      t->at = next > now ? next : now + t->interval.count();
      heap_push(t.get());
    }
    try {
      cb();
    } catch (...) {
      if (t->in_heap && !t->cancelled) t->cb = std::move(cb);
      report_exception(std::current_exception(), "timer callback");
      continue;
    }
    if (t->in_heap && !t->cancelled) t->cb = std::move(cb);
  }
}

void CoreLoop::cancel_timer(TimerNode* t) {
  if (t->cancelled) return;
  t->cancelled = true;
  if (t->in_heap) {
    count(true, t->referenced, -1);
    ++cancelled_in_heap_;
    const std::size_t entries = heap_.size() - kHeap0;
    if (entries >= kMinSweep && cancelled_in_heap_ > entries / 2) sweep_cancelled();
  }
  // Destroyed last, once the loop is consistent: the closure's captures may call back in.
  // Empty while the timer's own callback runs (it was moved out).
  t->cb.reset();
}

void CoreLoop::set_timer_ref(TimerNode* t, bool referenced) {
  if (t->referenced == referenced) return;
  const bool active = t->in_heap && !t->cancelled;
  count(active, t->referenced, -1);
  t->referenced = referenced;
  count(active, t->referenced, +1);
}

}  // namespace grove::detail
