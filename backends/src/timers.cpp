// Timers: a 4-ary min-heap of (deadline, node), deadlines stored inline so that sifting
// touches only the heap array (libev's layout). Ties fire in scheduling order.
#include "core_loop.hpp"

namespace grove::detail {

namespace {
constexpr int kArity = 4;

bool before(const std::int64_t at_a, const TimerNode* a, const std::int64_t at_b,
            const TimerNode* b) {
  return at_a < at_b || (at_a == at_b && a->seq < b->seq);
}
}  // namespace

Timer CoreLoop::call_at(TimePoint when, Callback cb) {
  auto* t = new TimerNode;
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
  auto* t = new TimerNode;
  t->loop = this;
  t->cb = std::move(cb);
  t->interval = interval;
  t->at = (now_ + interval).time_since_epoch().count();
  heap_push(t);
  return Timer(Ref<TimerNode>(t));
}

void CoreLoop::heap_push(TimerNode* t) {
  t->retain();  // the heap's reference
  t->seq = timer_seq_++;
  count(true, t->referenced, +1);
  heap_.push_back({t->at, t});
  t->heap_index = int(heap_.size() - 1);
  heap_up(t->heap_index);
}

void CoreLoop::heap_remove(TimerNode* t) {
  int i = t->heap_index;
  int last = int(heap_.size() - 1);
  t->heap_index = -1;
  count(true, t->referenced, -1);
  if (i != last) {
    TimerNode* moved = heap_[last].node;
    heap_[i] = heap_[last];
    heap_.pop_back();
    moved->heap_index = i;
    heap_up(i);
    heap_down(moved->heap_index);
  } else {
    heap_.pop_back();
  }
  t->release();
}

void CoreLoop::heap_up(int i) {
  HeapEntry e = heap_[i];
  while (i > 0) {
    int parent = (i - 1) / kArity;
    if (!before(e.at, e.node, heap_[parent].at, heap_[parent].node)) break;
    heap_[i] = heap_[parent];
    heap_[i].node->heap_index = i;
    i = parent;
  }
  heap_[i] = e;
  e.node->heap_index = i;
}

void CoreLoop::heap_down(int i) {
  HeapEntry e = heap_[i];
  const int n = int(heap_.size());
  for (;;) {
    int first = i * kArity + 1;
    if (first >= n) break;
    int best = first;
    int end = first + kArity < n ? first + kArity : n;
    for (int c = first + 1; c < end; ++c)
      if (before(heap_[c].at, heap_[c].node, heap_[best].at, heap_[best].node)) best = c;
    if (!before(heap_[best].at, heap_[best].node, e.at, e.node)) break;
    heap_[i] = heap_[best];
    heap_[i].node->heap_index = i;
    i = best;
  }
  heap_[i] = e;
  e.node->heap_index = i;
}

void CoreLoop::fire_due_timers() {
  const std::int64_t now = now_.time_since_epoch().count();
  while (!heap_.empty() && heap_.front().at <= now) {
    Ref<TimerNode> t(heap_.front().node);
    heap_remove(t.get());
    // The callback is moved out while it runs, so cancel() from inside it and a repeating
    // reschedule both see a consistent node.
    Callback cb = std::move(t->cb);
    if (t->interval > Duration::zero() && !t->cancelled) {
      std::int64_t next = t->at + t->interval.count();
      t->at = next > now ? next : now + t->interval.count();
      heap_push(t.get());
    }
    try {
      cb();
    } catch (...) {
      if (t->heap_index >= 0 && !t->cancelled) t->cb = std::move(cb);
      report_exception(std::current_exception(), "timer callback");
      continue;
    }
    if (t->heap_index >= 0 && !t->cancelled) t->cb = std::move(cb);
  }
}

void CoreLoop::cancel_timer(TimerNode* t) {
  if (t->cancelled) return;
  t->cancelled = true;
  if (t->heap_index >= 0) heap_remove(t);
  t->cb.reset();  // no-op while the timer's own callback runs (it was moved out)
}

void CoreLoop::set_timer_ref(TimerNode* t, bool referenced) {
  if (t->referenced == referenced) return;
  count(t->heap_index >= 0, t->referenced, -1);
  t->referenced = referenced;
  count(t->heap_index >= 0, t->referenced, +1);
}

}  // namespace grove::detail
