// The worker: a fetcher, a keeper (delayed tasks, abandoned tasks, claim renewal) and one
// green thread per running task.
#include <grove/diagnostics.hpp>
#include <grove/green.hpp>
#include <grove/green/aio.hpp>
#include <grove/tasks/detail/message.hpp>
#include <grove/tasks/detail/redis_calls.hpp>
#include <grove/tasks/worker.hpp>

#include <unistd.h>

#include <algorithm>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <stdexcept>

namespace grove::tasks {

using detail::Entry;
using detail::Keys;
using detail::Message;
using detail::ms;

namespace {

// Moves up to ARGV[2] due members of the delayed set KEYS[1] into the stream KEYS[2], in one
// atomic step, so two workers never move one task twice and a crash never loses one.
constexpr const char* kMoveDue = R"(
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, m in ipairs(due) do
  redis.call('ZREM', KEYS[1], m)
  redis.call('XADD', KEYS[2], '*', 'task', m)
end
return #due)";
constexpr int kMoveBatch = 100;

std::string default_consumer() {
  char host[256] = "host";
  ::gethostname(host, sizeof host - 1);
  std::random_device rd;
  return std::string(host) + ":" + std::to_string(::getpid()) + ":" + std::to_string(rd() % 100000);
}

void log(Severity level, const std::string& message) { grove::report(level, "tasks", message); }

std::string current_error_text() {
  try {
    throw;
  } catch (const green::Timeout& t) {
    return std::string("timed out: ") + t.what();
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return grove::describe_current_exception();
  }
}

WorkerOptions checked(WorkerOptions o) {
  if (o.queues.empty())
    throw std::invalid_argument(
        "grove::tasks::Worker: name at least one queue (WorkerOptions::queues)");
  for (const auto& q : o.queues)
    if (q.empty())
      throw std::invalid_argument("grove::tasks::Worker: a queue name must not be empty");
  if (o.concurrency == 0)
    throw std::invalid_argument("grove::tasks::Worker: concurrency must be at least 1");
  if (o.poll_interval < 1ms)
    throw std::invalid_argument("grove::tasks::Worker: poll_interval must be at least 1 ms");
  if (o.visibility_timeout < 3 * o.poll_interval)
    throw std::invalid_argument(
        "grove::tasks::Worker: visibility_timeout must be at least 3 poll intervals (the claim is "
        "renewed "
        "every third of it); raise it or lower poll_interval");
  if (o.max_deliveries < 1)
    throw std::invalid_argument("grove::tasks::Worker: max_deliveries must be at least 1");
  if (o.grace < Duration::zero())
    throw std::invalid_argument("grove::tasks::Worker: grace must not be negative");
  if (o.consumer.empty()) o.consumer = default_consumer();
  return o;
}

// Runs `commands` in MULTI/EXEC on a pooled connection; throws on any error reply.
aio::Task<void> commit(redis::Pool& pool, std::vector<redis::Command> commands) {
  redis::PooledConnection c = co_await pool.acquire();
  std::optional<std::vector<redis::Reply>> replies = co_await c->transaction(std::move(commands));
  if (replies)
    for (const redis::Reply& r : *replies) r.throw_if_error();
}

}  // namespace

struct Worker::State {
  State(Tasks& t, WorkerOptions o)
      : tasks(t), options(checked(std::move(o))), keys{t.options().prefix},
        slots(options.concurrency) {}

  Tasks& tasks;
  WorkerOptions options;
  Keys keys;
  bool stopping = false;
  green::Event stop_event;
  green::Semaphore slots;
  green::Group running_group;
  std::map<std::string, std::set<std::string>> running;  // queue -> entry ids
  WorkerStats stats;

  std::string queue_of_key(const std::string& key) const {
    return key.substr(keys.queue("").size());
  }

  // --- start-up ---------------------------------------------------------------------
  void ensure_groups() {
    for (const auto& q : options.queues) {
      try {
        green::wait(
            tasks.pool().command("XGROUP", "CREATE", keys.queue(q), Keys::group, "0", "MKSTREAM"));
      } catch (const redis::ServerError& e) {
        if (e.code() != "BUSYGROUP") throw;
      }
      green::wait(tasks.pool().command("SADD", keys.queues(), q));
    }
  }

  // --- running one task ---------------------------------------------------------------
  void start(const std::string& queue, Entry entry) {
    if (running[queue].count(entry.id)) {
      slots.release();  // already running here (a claim of our own entry)
      return;
    }
    running[queue].insert(entry.id);
    ++stats.running;
    running_group.spawn(green::SpawnOptions{.name = "task " + entry.id},
                        [this, queue, entry = std::move(entry)] {
                          struct Done {
                            State* s;
                            const std::string& q;
                            const std::string& id;
                            ~Done() {
                              s->running[q].erase(id);
                              --s->stats.running;
                              s->slots.release();
                            }
                          } done{this, queue, entry.id};
                          execute(queue, entry);
                        });
  }

  void execute(const std::string& queue, const Entry& entry) {
    const std::string* text = entry.field("task");
    if (!text)
      return dead(queue, entry.id, "",
                  "malformed task message: the stream entry has no field \"task\"", nullptr);
    auto decoded = detail::decode(*text);
    if (auto* why = std::get_if<std::string>(&decoded))
      return dead(queue, entry.id, *text, *why, nullptr);
    Message& m = std::get<Message>(decoded);
    const Handler* handler = tasks.find(m.name);
    if (!handler) {
      std::string known;
      for (const auto& n : tasks.names()) known += (known.empty() ? "" : ", ") + n;
      return dead(queue, entry.id, *text,
                  "unknown task \"" + m.name + "\": this worker registers " +
                      (known.empty() ? "none" : known),
                  &m);
    }
    std::string value;
    try {
      value = call(*handler, m).dump();
    } catch (const green::GreenletExit&) {
      throw;  // killed: the task stays pending, for another worker
    } catch (...) {
      return fail(queue, entry.id, m, current_error_text());
    }
    succeed(queue, entry.id, m, value);
  }

  web::Json call(const Handler& h, const Message& m) {
    std::optional<green::Timeout> deadline;
    if (m.timeout_ms > 0) deadline.emplace(std::chrono::milliseconds(m.timeout_ms));
    if (h.sync) return h.sync(m.args);
    return green::wait(h.coroutine(m.args));
  }

  // Commits an outcome; a failure leaves the entry pending (it runs again after the
  // visibility timeout): at least once.
  void record(const std::string& what, std::vector<redis::Command> commands) {
    try {
      green::wait(commit(tasks.pool(), std::move(commands)));
    } catch (const redis::Error& e) {
      log(Severity::error, "grove::tasks: could not record " + what +
                               " (it stays pending and runs again): " + e.what());
    }
  }

  std::vector<redis::Command> result_commands(const Message& m, const char* status,
                                              const std::string& field, const std::string& text) {
    std::string key = keys.result(m.id);
    return {
        redis::command("XADD", key, "*", "status", status, field, text, "attempts", m.attempt + 1),
        redis::command("PEXPIRE", key, ms(tasks.options().result_ttl))};
  }

  void acknowledge(std::vector<redis::Command>& c, const std::string& queue,
                   const std::string& entry_id) {
    c.push_back(redis::command("XACK", keys.queue(queue), Keys::group, entry_id));
    c.push_back(redis::command("XDEL", keys.queue(queue), entry_id));
  }

  void succeed(const std::string& queue, const std::string& entry_id, const Message& m,
               const std::string& value) {
    auto c = result_commands(m, "succeeded", "value", value);
    c.push_back(redis::command("INCR", keys.completed(queue)));
    acknowledge(c, queue, entry_id);
    record("the result of task " + m.id, std::move(c));
    ++stats.completed;
  }

  void fail(const std::string& queue, const std::string& entry_id, Message m,
            const std::string& error) {
    if (m.attempt >= m.retries) return dead(queue, entry_id, detail::encode(m), error, &m);
    const TasksOptions& o = tasks.options();
    Duration backoff = o.backoff_base;
    for (int i = 0; i < m.attempt && backoff < o.backoff_max; ++i) backoff *= 2;
    backoff = std::min(backoff, o.backoff_max);
    log(Severity::warning, "grove::tasks: task " + m.id + " (" + m.name + ") failed, retry " +
                               std::to_string(m.attempt + 1) + " of " + std::to_string(m.retries) +
                               " in " + std::to_string(ms(backoff)) + " ms: " + error);
    ++m.attempt;
    std::vector<redis::Command> c = {
        redis::command("ZADD", keys.delayed(queue), detail::now_ms() + ms(backoff),
                       detail::encode(m)),
        redis::command("INCR", keys.retries(queue))};
    acknowledge(c, queue, entry_id);
    record("the retry of task " + m.id, std::move(c));
    ++stats.retried;
  }

  // To the queue's dead-letter stream with the reason; the task's result (if the entry
  // named one) is `failed` with it.
  void dead(const std::string& queue, const std::string& entry_id, const std::string& raw,
            const std::string& reason, const Message* m) {
    log(Severity::error,
        "grove::tasks: " +
            std::string(m ? "task " + m->id + " (" + m->name + ")" : "entry " + entry_id) +
            " of queue " + queue + " goes to the dead letters: " + reason);
    std::vector<redis::Command> c;
    if (m) c = result_commands(*m, "failed", "error", reason);
    c.push_back(redis::command("XADD", keys.dead(queue), "*", "task", raw, "error", reason, "entry",
                               entry_id, "id", m ? m->id : std::string()));
    acknowledge(c, queue, entry_id);
    record("a dead letter", std::move(c));
    ++stats.dead;
  }

  // --- fetching ---------------------------------------------------------------------
  void fetch_loop() {
    std::optional<redis::Connection> conn;
    Duration backoff = 50ms;
    while (!stopping) {
      try {
        if (!conn || conn->broken())
          conn = green::wait(redis::Connection::connect(tasks.options().url));
        if (!slots.acquire(options.poll_interval)) continue;
        std::size_t free = slots.value() + 1;
        slots.release();
        redis::Command cmd =
            redis::command("XREADGROUP", "GROUP", Keys::group, options.consumer, "COUNT", free,
                           "BLOCK", ms(options.poll_interval), "STREAMS");
        for (const auto& q : options.queues) cmd.push_back(keys.queue(q));
        for (std::size_t i = 0; i < options.queues.size(); ++i) cmd.push_back(">");
        redis::Reply reply = green::wait(conn->execute(std::move(cmd)));
        // What arrives after stop() stays pending: another worker claims it.
        for (auto& [key, entries] : detail::streams_of(reply))
          for (Entry& e : entries) {
            if (!take_slot()) break;
            start(queue_of_key(key), std::move(e));
          }
        backoff = 50ms;
      } catch (const redis::ServerError& e) {
        if (e.code() == "NOGROUP") ensure_groups_quietly();  // the stream was deleted
        else pause_after(e, backoff);
      } catch (const redis::Error& e) {
        conn.reset();
        pause_after(e, backoff);
      }
    }
  }

  // Waits for a free slot; false once stop() was called.
  bool take_slot() {
    while (!stopping)
      if (slots.acquire(options.poll_interval)) return true;
    return false;
  }

  void ensure_groups_quietly() {
    try {
      ensure_groups();
    } catch (const redis::Error& e) {
      log(Severity::warning,
          std::string("grove::tasks: could not create the consumer groups: ") + e.what());
      green::sleep(options.poll_interval);
    }
  }

  void pause_after(const redis::Error& e, Duration& backoff) {
    log(Severity::warning,
        std::string("grove::tasks: the worker's Redis call failed (retrying): ") + e.what());
    stop_event.wait(backoff);
    backoff = std::min<Duration>(backoff * 2, 2s);
  }

  // --- keeping: delayed tasks, abandoned tasks, claim renewal --------------------------
  void keep_loop() {
    auto last_renewal = std::chrono::steady_clock::now();
    while (!stopping) {
      try {
        move_due();
        claim_abandoned();
        if (std::chrono::steady_clock::now() - last_renewal >= options.visibility_timeout / 3) {
          renew_claims();
          last_renewal = std::chrono::steady_clock::now();
        }
      } catch (const redis::Error& e) {
        log(Severity::warning,
            std::string("grove::tasks: the worker's upkeep failed (retrying): ") + e.what());
      }
      stop_event.wait(options.poll_interval);
    }
  }

  void move_due() {
    for (const auto& q : options.queues) {
      for (;;) {
        redis::Reply moved = green::wait(tasks.pool().command(
            "EVAL", kMoveDue, 2, keys.delayed(q), keys.queue(q), detail::now_ms(), kMoveBatch));
        if (moved.as_integer() < kMoveBatch) break;
      }
    }
  }

  void claim_abandoned() {
    for (const auto& q : options.queues) {
      std::size_t free = slots.value();
      if (free == 0 || stopping) return;
      redis::Reply r = green::wait(
          tasks.pool().command("XAUTOCLAIM", keys.queue(q), Keys::group, options.consumer,
                               ms(options.visibility_timeout), "0-0", "COUNT", free));
      for (Entry& e : detail::entries_of(r.elements().at(1))) {
        if (stopping) return;
        std::int64_t deliveries = delivery_count(q, e.id);
        if (deliveries > options.max_deliveries) {
          dead_after_losses(q, e, deliveries);
          continue;
        }
        log(Severity::warning, "grove::tasks: claimed entry " + e.id + " of queue " + q +
                                   ", abandoned by its worker for the visibility timeout");
        if (!take_slot()) return;
        ++stats.claimed;
        start(q, std::move(e));
      }
    }
  }

  // How often the group has handed out the entry (XAUTOCLAIM counts each claim).
  std::int64_t delivery_count(const std::string& queue, const std::string& entry_id) {
    redis::Reply p = green::wait(
        tasks.pool().command("XPENDING", keys.queue(queue), Keys::group, entry_id, entry_id, 1));
    if (p.elements().empty()) return 0;
    return p.elements()[0].elements().at(3).as_integer();
  }

  // A poison task: every worker that ran it was lost (killed, crashed, stuck). Running it
  // again would only lose another.
  void dead_after_losses(const std::string& queue, const Entry& e, std::int64_t deliveries) {
    const std::string* text = e.field("task");
    std::optional<Message> m;
    if (text)
      if (auto decoded = detail::decode(*text); auto* ok = std::get_if<Message>(&decoded))
        m = std::move(*ok);
    dead(queue, e.id, text ? *text : std::string(),
         "the task's worker was lost " + std::to_string(deliveries - 1) +
             " times while running it (killed, crashed, or stuck past the visibility timeout): not "
             "run again "
             "after max_deliveries (" +
             std::to_string(options.max_deliveries) + ")",
         m ? &*m : nullptr);
  }

  // XCLAIM … JUSTID of our own running entries resets their idle time, so no other worker
  // takes a long task from us.
  void renew_claims() {
    for (const auto& [q, ids] : running) {
      if (ids.empty()) continue;
      redis::Command cmd =
          redis::command("XCLAIM", keys.queue(q), Keys::group, options.consumer, 0);
      cmd.insert(cmd.end(), ids.begin(), ids.end());
      cmd.push_back("JUSTID");
      green::wait(tasks.pool().execute(std::move(cmd)));
    }
  }

  // A consumer with nothing pending leaves the group's consumer list.
  void leave_groups() {
    for (const auto& q : options.queues) {
      try {
        redis::Reply p = green::wait(tasks.pool().command("XPENDING", keys.queue(q), Keys::group,
                                                          "-", "+", 1, options.consumer));
        if (p.elements().empty())
          green::wait(tasks.pool().command("XGROUP", "DELCONSUMER", keys.queue(q), Keys::group,
                                           options.consumer));
      } catch (const redis::Error&) {
      }
    }
  }
};

Worker::Worker(Tasks& tasks, WorkerOptions options)
    : state_(std::make_shared<State>(tasks, std::move(options))) {}

Worker::~Worker() = default;

std::size_t Worker::run() {
  State& s = *state_;
  if (s.stopping)
    throw std::logic_error("grove::tasks::Worker: run() after stop(): make a new Worker");
  s.ensure_groups();
  if (s.options.on_ready) s.options.on_ready();
  auto fetcher =
      green::spawn(green::SpawnOptions{.name = "tasks fetcher"}, [&s] { s.fetch_loop(); });
  auto keeper = green::spawn(green::SpawnOptions{.name = "tasks keeper"}, [&s] { s.keep_loop(); });
  s.stop_event.wait();
  fetcher.wait();
  keeper.wait();
  s.running_group.join(s.options.grace);
  std::size_t left = s.running_group.size();
  if (left == 0) s.leave_groups();
  return left;
}

void Worker::stop() {
  state_->stopping = true;
  state_->stop_event.set();
}

WorkerStats Worker::stats() const { return state_->stats; }
const WorkerOptions& Worker::options() const { return state_->options; }

}  // namespace grove::tasks
