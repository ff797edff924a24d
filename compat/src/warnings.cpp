// The warning registry: queued, deduplicated by id, emitted in order, outside the lock.
#include "real.hpp"
#include "state.hpp"

#include <grove/diagnostics.hpp>

#include <grove/green/blocking_detector.hpp>

#include <deque>
#include <mutex>
#include <unordered_set>

namespace grove::compat {
namespace {

// The default: grove's diagnostic sink (source "compat"), whose standard line is
// "grove: warning: <message>", written with the raw system call (never compat's write).
void default_sink(const Warning& w) { report(Severity::warning, "compat", w.message); }

struct Registry {
  std::mutex mutex;
  std::unordered_set<std::string> ids;
  std::vector<Warning> emitted;
  std::deque<Warning> queue;
  bool draining = false;
  WarningSink sink = default_sink;
};

Registry& registry() {
  // Leaked on purpose: warnings may come from static destructors and other threads at exit.
  static Registry* r = new Registry;
  return *r;
}

}  // namespace

bool warn(std::string id, std::string message) {
  Registry& r = registry();
  std::unique_lock lock(r.mutex);
  if (!r.ids.insert(id).second) return false;
  Warning w{std::move(id), std::move(message)};
  r.emitted.push_back(w);
  r.queue.push_back(std::move(w));
  if (r.draining) return true;  // the thread already draining emits it, in order
  r.draining = true;
  while (!r.queue.empty()) {
    Warning next = std::move(r.queue.front());
    r.queue.pop_front();
    WarningSink sink = r.sink;
    lock.unlock();
    try {
      if (sink) sink(next);
    } catch (...) {
      // A sink that throws loses its own warning, never the process.
    }
    lock.lock();
  }
  r.draining = false;
  return true;
}

std::vector<Warning> warnings() {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  return r.emitted;
}

WarningSink set_warning_sink(WarningSink sink) {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  WarningSink previous = std::move(r.sink);
  r.sink = sink ? std::move(sink) : WarningSink(default_sink);
  return previous;
}

namespace detail {

void install_blocking_sink() {
  green::set_blocking_sink([](const green::BlockingReport& report) {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(report.threshold).count();
    warn("compat.blocking-call:" + report.green_thread,
         "green thread '" + report.green_thread + "' held its hub for more than " +
             std::to_string(ms) +
             " ms without switching although grove::compat is patched: it made a blocking "
             "call the patch cannot reach (a FILE* stream such as fread/fgets/fwrite, "
             "system() or popen(), a mutex or condition variable, a regular file or tty, a "
             "statically linked library, connect() on an inherited blocking socket) or it "
             "computed without waiting. Move that work into "
             "grove::green::run_in_thread(...), or use a socket or pipe so that the patched "
             "calls can wait on the hub. (" +
             report.message + ")");
  });
}

}  // namespace detail
}  // namespace grove::compat
