// Green thread handles and the free functions around them: spawn, current, sleep, kill,
// joinall, links, and the stack configuration.
#include "hub.hpp"
#include "monitor.hpp"

#include <grove/green/timeout.hpp>

#include <atomic>
#include <mutex>

namespace grove::green {

namespace detail {

namespace {
// AddressSanitizer's redzones about double the stack a frame takes, so its builds give green
// threads twice the default (what runs in 64 KiB optimised needs more than that under ASan).
#if defined(__SANITIZE_ADDRESS__)
constexpr std::size_t kDefaultStackSize = 128 * 1024;
#else
constexpr std::size_t kDefaultStackSize = 64 * 1024;
#endif
std::atomic<std::size_t> g_stack_size{kDefaultStackSize};
std::atomic<std::size_t> g_guard{0};
std::atomic<bool> g_guarded{true};
std::atomic<std::size_t> g_pool_limit{1024};

// Renaming or freeing a green thread while the blocking detector may be reading its name.
// (Process-wide, not the hub's: a handle may outlive its hub.)
template <class F>
void with_names_locked(F&& f) {
  if (detector_on()) {
    std::lock_guard lock(names_mutex());
    f();
  } else {
    f();
  }
}
}  // namespace

std::size_t configured_stack_size() noexcept {
  return g_stack_size.load(std::memory_order_relaxed);
}
std::size_t configured_guard() noexcept {
  if (!g_guarded.load(std::memory_order_relaxed)) return 0;
  const std::size_t guard = g_guard.load(std::memory_order_relaxed);
  return guard ? guard : StackPool::page_size();
}
std::size_t configured_pool_limit() noexcept {
  return g_pool_limit.load(std::memory_order_relaxed);
}

std::string GreenletBase::display_name() const {
  if (!name.empty()) return name;
  return "green-" + std::to_string(id);
}

void GreenletBase::set_name(std::string new_name) {
  with_names_locked([&] { name = std::move(new_name); });
}

GreenletBase::~GreenletBase() {
  while (LinkNode* link = links) {
    links = link->next;
    delete link;
  }
}

void GreenletBase::destroy() noexcept {
  with_names_locked([&] { delete this; });
}

GreenletBase* prepare_spawn(GreenletBase* g, SpawnOptions&& options) {
  Hub& hub = Hub::get();
  g->hub = &hub;
  g->id = hub.next_id();
  if (!options.name.empty()) g->name = std::move(options.name);
  g->stack_size = options.stack_size ? options.stack_size : configured_stack_size();
  hub.start(g);
  return g;
}

GreenletBase* current_green() { return Hub::get().running(); }

Wake park(Parking* parking, std::optional<TimePoint> deadline) {
  return Hub::get().park(parking, deadline);
}

void throw_pending() {
  Hub* hub = t_hub;
  if (!hub) return;
  GreenletBase* g = hub->running();
  if (!g->pending) return;
  std::exception_ptr e = std::move(g->pending);
  g->pending = nullptr;
  std::rethrow_exception(e);
}

bool wake(GreenletBase* g, Wake why) noexcept {
  return g->state == State::parked && g->hub && g->hub->wake(g, why);
}

void throw_into(GreenletBase* g, std::exception_ptr error) {
  if (g->state != State::dead && g->hub) g->hub->throw_into(g, std::move(error));
}

EventLoop& hub_loop() { return Hub::get().loop(); }

void start(GreenletBase* g) { Hub::get().start(g); }

void kill(GreenletBase* g, std::exception_ptr error, bool block, std::optional<Duration> timeout) {
  // A dead green thread's hub may be gone (a handle can outlive its OS thread).
  if (g->state != State::dead && g->hub) g->hub->kill(g, std::move(error), block, timeout);
}

bool wait_dead(GreenletBase* g, std::optional<Duration> timeout) {
  if (g->state == State::dead || !g->hub) return true;
  return g->hub->wait_dead(g, timeout);
}

std::uint64_t add_link(GreenletBase* g, Function<void()> fn) {
  if (g->state == State::dead) {
    fn();
    return 0;
  }
  static thread_local std::uint64_t ids = 0;  // ids are per green thread, hence per OS thread
  auto* node = new LinkNode;
  node->fn = std::move(fn);
  node->id = ++ids;
  node->next = g->links;
  g->links = node;
  return node->id;
}

void remove_link(GreenletBase* g, std::uint64_t id) noexcept {
  for (LinkNode** p = &g->links; *p; p = &(*p)->next) {
    if ((*p)->id == id) {
      LinkNode* node = *p;
      *p = node->next;
      delete node;
      return;
    }
  }
}

}  // namespace detail

// --- Greenlet -----------------------------------------------------------------------------

void Greenlet::empty_handle() {
  throw std::logic_error("grove: use of an empty green thread handle");
}

std::string Greenlet::name() const { return checked().display_name(); }
void Greenlet::set_name(std::string name) const { checked().set_name(std::move(name)); }
std::uint64_t Greenlet::id() const { return checked().id; }
bool Greenlet::started() const { return checked().started; }
bool Greenlet::dead() const { return checked().state == detail::State::dead; }
bool Greenlet::successful() const {
  auto& g = checked();
  return g.state == detail::State::dead && g.exited_normally;
}
std::exception_ptr Greenlet::exception() const { return checked().error; }

void Greenlet::join(std::optional<Duration> timeout) const {
  auto& g = checked();
  if (!detail::wait_dead(&g, timeout)) detail::throw_timed_out(timeout.value_or(Duration::zero()));
  if (g.error) std::rethrow_exception(g.error);
}

bool Greenlet::wait(std::optional<Duration> timeout) const {
  return detail::wait_dead(&checked(), timeout);
}

void Greenlet::kill(std::exception_ptr error, bool block, std::optional<Duration> timeout) const {
  detail::kill(&checked(), std::move(error), block, timeout);
}

std::uint64_t Greenlet::link(Function<void()> fn) const {
  return detail::add_link(&checked(), std::move(fn));
}

void Greenlet::unlink(std::uint64_t id) const { detail::remove_link(&checked(), id); }

// --- free functions -------------------------------------------------------------------------

Greenlet current() { return Greenlet(detail::GreenRef(detail::Hub::get().running())); }

bool in_green_thread() noexcept {
  detail::Hub* hub = detail::t_hub;
  if (!hub) return false;
  detail::GreenletBase* g = hub->running();
  return !g->is_root && !g->is_hub;
}

bool in_hub() noexcept {
  detail::Hub* hub = detail::t_hub;
  return hub && hub->in_hub();
}

std::size_t alive_count() noexcept {
  detail::Hub* hub = detail::t_hub;
  return hub ? hub->live_count() : 0;
}

void sleep(Duration d) {
  detail::Hub& hub = detail::Hub::get();
  if (d <= Duration::zero()) {
    hub.yield();
    return;
  }
  if (hub.park(nullptr, detail::deadline_for(d)) == detail::Wake::timed_out) return;
  detail::throw_pending();
}

void kill(const Greenlet& g, std::exception_ptr error, bool block,
          std::optional<Duration> timeout) {
  g.kill(std::move(error), block, timeout);
}

void killall(const std::vector<Greenlet>& gs, std::exception_ptr error, bool block,
             std::optional<Duration> timeout) {
  if (!error) error = std::make_exception_ptr(GreenletExit{});
  for (const auto& g : gs)
    if (g && !g.dead()) g.kill(error, false);
  if (block) joinall(gs, timeout);
}

std::vector<Greenlet> joinall(const std::vector<Greenlet>& gs, std::optional<Duration> timeout,
                              bool raise_error) {
  const auto deadline = detail::deadline_for(timeout);
  std::vector<Greenlet> done;
  for (const auto& g : gs) {
    if (!g) continue;
    std::optional<Duration> left;
    if (deadline) {
      left = *deadline - std::chrono::time_point_cast<Duration>(Clock::now());
      if (*left < Duration::zero()) left = Duration::zero();
    }
    if (!g.wait(left)) continue;
    if (raise_error && g.exception()) std::rethrow_exception(g.exception());
  }
  for (const auto& g : gs)
    if (g && g.dead()) done.push_back(g);
  return done;
}

void set_stack_config(const StackConfig& config) {
  if (config.size < 4096)
    throw std::invalid_argument("grove: StackConfig::size must be at least 4096 bytes");
  detail::g_stack_size.store(config.size, std::memory_order_relaxed);
  detail::g_guard.store(config.guard, std::memory_order_relaxed);
  detail::g_guarded.store(config.guarded, std::memory_order_relaxed);
  detail::g_pool_limit.store(config.pool_limit, std::memory_order_relaxed);
}

StackConfig stack_config() {
  StackConfig c;
  c.size = detail::g_stack_size.load(std::memory_order_relaxed);
  c.guard = detail::g_guard.load(std::memory_order_relaxed);
  c.guarded = detail::g_guarded.load(std::memory_order_relaxed);
  c.pool_limit = detail::g_pool_limit.load(std::memory_order_relaxed);
  return c;
}

std::size_t default_stack_size() { return detail::configured_stack_size(); }

}  // namespace grove::green
