// The queue figures for Prometheus, read from Redis at each scrape.
#include <grove/diagnostics.hpp>
#include <grove/green/aio.hpp>
#include <grove/http/metrics.hpp>
#include <grove/tasks/detail/message.hpp>
#include <grove/tasks/tasks.hpp>

#include <algorithm>

namespace grove::tasks {

namespace {

struct QueueFigures {
  std::string queue;
  double length = 0, pending = 0, delayed = 0, dead = 0, retries = 0, completed = 0;
};

double number(const redis::Reply& r) {
  if (r.is_error() || r.is_nil()) return 0;
  return double(r.as_integer());
}

aio::Task<std::vector<QueueFigures>> read_figures(redis::Pool& pool, detail::Keys keys) {
  redis::Command members =
      redis::command("SMEMBERS", keys.queues());  // no temporaries across co_await (g++ 12)
  redis::Reply names = co_await pool.execute(std::move(members));
  std::vector<QueueFigures> out;
  std::vector<redis::Command> commands;
  for (const redis::Reply& n : names.elements()) {
    std::string q = n.as_string();
    out.push_back({q});
    commands.push_back(redis::command("XLEN", keys.queue(q)));
    commands.push_back(redis::command("XPENDING", keys.queue(q), detail::Keys::group));
    commands.push_back(redis::command("ZCARD", keys.delayed(q)));
    commands.push_back(redis::command("XLEN", keys.dead(q)));
    commands.push_back(redis::command("GET", keys.retries(q)));
    commands.push_back(redis::command("GET", keys.completed(q)));
  }
  if (commands.empty()) co_return out;
  std::vector<redis::Reply> r = co_await pool.pipeline(std::move(commands));
  for (std::size_t i = 0; i < out.size(); ++i) {
    const redis::Reply* f = &r[i * 6];
    QueueFigures& q = out[i];
    // A stream holds its waiting entries and its pending ones (acknowledged ones are deleted).
    double entries = number(f[0]);
    q.pending = f[1].is_aggregate() && !f[1].elements().empty() ? number(f[1].elements()[0]) : 0;
    q.length = std::max(0.0, entries - q.pending);
    q.delayed = number(f[2]);
    q.dead = number(f[3]);
    q.retries = number(f[4]);
    q.completed = number(f[5]);
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.queue < b.queue; });
  co_return out;
}

void write_figures(http::MetricsWriter& w, const std::vector<QueueFigures>& figures) {
  struct Family {
    const char* name;
    const char* help;
    bool counter;
    double QueueFigures::*field;
  };
  static const Family families[] = {
      {"grove_tasks_queue_length",
       "Tasks waiting in the queue's stream, not yet taken by a worker.", false,
       &QueueFigures::length},
      {"grove_tasks_pending",
       "Tasks taken by a worker and not yet acknowledged (running, or abandoned).", false,
       &QueueFigures::pending},
      {"grove_tasks_delayed", "Tasks waiting for their time: delayed, or retries in backoff.",
       false, &QueueFigures::delayed},
      {"grove_tasks_dead_letters", "Entries of the queue's dead-letter stream.", false,
       &QueueFigures::dead},
      {"grove_tasks_retries_total", "Failed runs scheduled again.", true, &QueueFigures::retries},
      {"grove_tasks_completed_total", "Tasks that succeeded.", true, &QueueFigures::completed},
  };
  for (const Family& f : families)
    for (const QueueFigures& q : figures) {
      http::MetricLabels labels = {{"queue", q.queue}};
      if (f.counter) w.counter(f.name, f.help, q.*f.field, labels);
      else w.gauge(f.name, f.help, q.*f.field, labels);
    }
}

}  // namespace

void Tasks::add_metrics() {
  if (metrics_id_)
    throw std::logic_error("grove::tasks: add_metrics() was called already for these Tasks");
  metrics_id_ = http::add_metrics_collector([this](http::MetricsWriter& w) {
    bool up = true;
    std::vector<QueueFigures> figures;
    try {
      figures = green::wait(read_figures(pool(), detail::Keys{options_.prefix}), 2s);
    } catch (...) {
      up = false;
      grove::report(Severity::warning, "tasks",
                    "grove::tasks: the queue figures could not be read: " +
                        grove::describe_current_exception());
    }
    w.gauge("grove_tasks_redis_up", "Whether the task queue figures could be read from Redis.",
            up ? 1 : 0);
    write_figures(w, figures);
  });
}

void Tasks::remove_metrics() {
  if (metrics_id_) http::remove_metrics_collector(metrics_id_);
  metrics_id_ = 0;
}

}  // namespace grove::tasks
