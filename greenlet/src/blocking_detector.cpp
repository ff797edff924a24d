// The blocking detector. Each hub publishes, on every switch, which context is on the CPU and
// a switch count (monitor.hpp) — only while the detector is on; otherwise a switch pays one
// relaxed load of `g_on`. A watchdog thread samples every hub a few times per threshold: a
// count that has not moved for a whole threshold while a context (not the idle poller) holds
// the CPU means that context has not yielded for at least the threshold. Time the hub's
// thread spent runnable but waiting for a CPU (preempted on a busy machine) does not count:
// that stalls every program alike and says nothing about this one.
#include "hub.hpp"
#include "monitor.hpp"

#include <grove/green/blocking_detector.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

namespace grove::green {

namespace detail {

std::atomic<bool> g_detector_on{false};

std::mutex& names_mutex() noexcept {
  static std::mutex* m = new std::mutex;  // never destroyed: used at thread exit
  return *m;
}

namespace {

struct Detector {
  std::mutex mutex;  // guards everything below
  std::condition_variable changed;
  std::vector<std::weak_ptr<HubMonitor>> monitors;
  Duration threshold{};
  bool running = false;
  bool stop = false;
  std::thread thread;
  BlockingSink sink;
};

Detector& detector() {
  static Detector* d = new Detector;  // never destroyed: hubs unregister at thread exit
  return *d;
}

std::string format_ms(Duration d) {
  return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(d).count()) + " ms";
}

std::atomic<std::uint64_t> g_reports{0};

void deliver(BlockingReport report) {
  g_reports.fetch_add(1, std::memory_order_relaxed);
  BlockingSink sink;
  {
    std::lock_guard lock(detector().mutex);
    sink = detector().sink;
  }
  if (sink) {
    try {
      sink(report);
      return;
    } catch (...) {
    }
  }
  std::fprintf(stderr, "%s\n", report.message.c_str());
}

// Nanoseconds a thread of this process has spent runnable, waiting for a CPU (the second
// field of Linux's schedstat); 0 where the kernel does not say.
std::int64_t run_queue_wait(int tid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/self/task/%d/schedstat", tid);
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buf[96];
  const ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return 0;
  buf[n] = '\0';
  unsigned long long on_cpu = 0, waiting = 0;
  if (std::sscanf(buf, "%llu %llu", &on_cpu, &waiting) != 2) return 0;
  return std::int64_t(waiting);
}

struct Observation {
  std::weak_ptr<HubMonitor> monitor;
  std::uint64_t switches = 0;
  Clock::time_point since{};
  std::int64_t waiting_since = 0;  // run_queue_wait() of the hub's thread at `since`
  bool reported = false;
};

// One sample of one hub; returns a report if its context has held the hub too long.
std::optional<BlockingReport> sample(Observation& o, HubMonitor& m, Duration threshold,
                                     Clock::time_point now) {
  const std::uint64_t switches = m.switches.load(std::memory_order_acquire);
  if (switches != o.switches) {
    o.switches = switches;
    o.since = now;
    o.waiting_since = run_queue_wait(m.tid);
    o.reported = false;
    return std::nullopt;
  }
  if (o.reported || now - o.since < threshold) return std::nullopt;
  const Duration preempted(run_queue_wait(m.tid) - o.waiting_since);
  if (now - o.since - preempted < threshold) return std::nullopt;
  std::lock_guard names(names_mutex());
  // Re-check under the lock: while the count has not moved, the context is still on the CPU,
  // so it is alive and its name can be read.
  if (m.switches.load(std::memory_order_acquire) != switches) return std::nullopt;
  GreenletBase* g = m.running.load(std::memory_order_relaxed);
  if (!g) return std::nullopt;  // idle in the poller
  if (g->is_root && m.live.load(std::memory_order_relaxed) == 0) return std::nullopt;
  o.reported = true;
  BlockingReport r;
  r.green_thread = g->display_name();
  r.threshold = threshold;
  const std::string who = g->is_hub ? std::string("the hub (loop callbacks or coroutines)")
                                    : "green thread '" + r.green_thread + "'";
  r.message = "grove: blocking detector: " + who + " has held its hub for more than " +
              format_ms(threshold) +
              " without yielding, so every other green thread of its OS thread is stalled. "
              "A blocking call or a long computation runs there: make the call cooperative "
              "(grove::compat, green::wait) or move it off the hub with green::run_in_thread()";
  return r;
}

void watchdog() {
  Detector& d = detector();
  std::vector<Observation> seen;
  std::unique_lock lock(d.mutex);
  while (!d.stop) {
    const Duration threshold = d.threshold;
    const auto period = std::max<Duration>(threshold / 5, std::chrono::milliseconds(1));
    d.changed.wait_for(lock, period, [&] { return d.stop; });
    if (d.stop) break;
    // Track the registered hubs (new ones start unobserved).
    std::erase_if(d.monitors, [](const auto& w) { return w.expired(); });
    std::erase_if(seen, [](const Observation& o) { return o.monitor.expired(); });
    for (const auto& w : d.monitors) {
      auto m = w.lock();
      const bool known = std::any_of(seen.begin(), seen.end(),
                                     [&](const Observation& o) { return o.monitor.lock() == m; });
      if (m && !known)
        seen.push_back(
            Observation{w, m->switches.load(), Clock::now(), run_queue_wait(m->tid), false});
    }
    lock.unlock();
    std::vector<BlockingReport> reports;
    const auto now = Clock::now();
    for (Observation& o : seen)
      if (auto m = o.monitor.lock())
        if (auto r = sample(o, *m, threshold, now)) reports.push_back(std::move(*r));
    for (auto& r : reports) deliver(std::move(r));
    lock.lock();
  }
}

}  // namespace

std::shared_ptr<HubMonitor> register_monitor() {
  auto m = std::make_shared<HubMonitor>();
  m->tid = int(::gettid());  // called by the hub's own thread
  std::lock_guard lock(detector().mutex);
  detector().monitors.push_back(m);
  return m;
}

void unregister_monitor(const std::shared_ptr<HubMonitor>& monitor) noexcept {
  std::lock_guard lock(detector().mutex);
  std::erase_if(detector().monitors, [&](const auto& w) { return w.lock() == monitor; });
}

void start_detector_from_env() {
  const char* env = std::getenv("GROVE_BLOCKING_WARN_MS");
  if (!env || !*env) return;
  char* end = nullptr;
  const long ms = std::strtol(env, &end, 10);
  if (*end || ms <= 0) {
    report(std::string("grove: GROVE_BLOCKING_WARN_MS=") + env +
               " is not a positive number of milliseconds; the blocking detector stays off",
           Severity::warning);
    return;
  }
  enable_blocking_detector(std::chrono::milliseconds(ms));
}

}  // namespace detail

void enable_blocking_detector(Duration threshold) {
  if (threshold <= Duration::zero())
    throw std::invalid_argument("grove: the blocking detector needs a positive threshold");
  auto& d = detail::detector();
  std::unique_lock lock(d.mutex);
  d.threshold = threshold;
  if (d.running) {
    d.changed.notify_all();
    return;
  }
  d.stop = false;
  d.running = true;
  detail::g_detector_on.store(true, std::memory_order_relaxed);
  d.thread = std::thread(&detail::watchdog);
}

void disable_blocking_detector() {
  auto& d = detail::detector();
  std::thread t;
  {
    std::lock_guard lock(d.mutex);
    if (!d.running) return;
    d.stop = true;
    d.running = false;
    t = std::move(d.thread);
  }
  d.changed.notify_all();
  t.join();
  detail::g_detector_on.store(false, std::memory_order_relaxed);
}

bool blocking_detector_enabled() { return detail::g_detector_on.load(std::memory_order_relaxed); }

std::uint64_t blocking_reports() noexcept {
  return detail::g_reports.load(std::memory_order_relaxed);
}

void set_blocking_sink(BlockingSink sink) {
  std::lock_guard lock(detail::detector().mutex);
  detail::detector().sink = std::move(sink);
}

}  // namespace grove::green
