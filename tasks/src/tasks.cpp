// Tasks: registering, enqueueing and reading results.
#include <grove/green/aio.hpp>
#include <grove/tasks/detail/message.hpp>
#include <grove/tasks/detail/redis_calls.hpp>
#include <grove/tasks/tasks.hpp>

#include <sys/random.h>

#include <algorithm>
#include <stdexcept>

namespace grove::tasks {

using detail::Keys;
using detail::Message;

const char* to_string(Status s) noexcept {
  switch (s) {
    case Status::pending: return "pending";
    case Status::succeeded: return "succeeded";
    case Status::failed: return "failed";
  }
  return "?";
}

namespace {

std::string random_id() {
  unsigned char bytes[16];
  std::size_t got = 0;
  while (got < sizeof bytes) {
    ssize_t n = ::getrandom(bytes + got, sizeof bytes - got, 0);
    if (n < 0) throw std::runtime_error("grove::tasks: getrandom failed to make a task id");
    got += static_cast<std::size_t>(n);
  }
  static const char* hex = "0123456789abcdef";
  std::string id;
  for (unsigned char b : bytes) {
    id += hex[b >> 4];
    id += hex[b & 15];
  }
  return id;
}

void check_options(const TasksOptions& o) {
  if (o.prefix.empty())
    throw std::invalid_argument("grove::tasks: TasksOptions::prefix must not be empty");
  if (o.pool_size == 0)
    throw std::invalid_argument("grove::tasks: TasksOptions::pool_size must be at least 1");
  if (detail::ms(o.result_ttl) < 1)
    throw std::invalid_argument("grove::tasks: TasksOptions::result_ttl must be at least 1 ms");
  if (o.backoff_base < Duration::zero() || o.backoff_max < o.backoff_base)
    throw std::invalid_argument(
        "grove::tasks: the backoff must satisfy 0 <= backoff_base <= backoff_max");
}

Message checked_message(std::string_view name, Json args, const EnqueueOptions& o) {
  if (o.queue.empty() || o.queue.find_first_of(" \t\r\n") != std::string::npos)
    throw std::invalid_argument(
        "grove::tasks: EnqueueOptions::queue must be a non-empty name without spaces "
        "(\"default\", \"mail\")");
  if (o.retries < 0 || o.retries > 1000)
    throw std::invalid_argument("grove::tasks: EnqueueOptions::retries must be from 0 to 1000");
  if (o.delay < Duration::zero() || o.timeout < Duration::zero())
    throw std::invalid_argument(
        "grove::tasks: EnqueueOptions::delay and timeout must not be negative");
  if (o.id.size() > 256)
    throw std::invalid_argument("grove::tasks: EnqueueOptions::id must be at most 256 bytes");
  Message m;
  m.id = o.id.empty() ? random_id() : o.id;
  m.name = std::string(name);
  m.args = std::move(args);
  m.queue = o.queue;
  m.retries = o.retries;
  m.timeout_ms = detail::ms(o.timeout);
  if (o.timeout > Duration::zero() && m.timeout_ms == 0) m.timeout_ms = 1;
  return m;
}

// A result stream's one entry read as a Result.
Result result_of(const detail::Entry& entry) {
  Result r;
  for (const auto& [k, v] : entry.fields) {
    if (k == "status") r.status = v == "succeeded" ? Status::succeeded : Status::failed;
    else if (k == "value") r.value = Json::parse(v);
    else if (k == "error") r.error = v;
    else if (k == "attempts") r.attempts = std::stoi(v);
  }
  return r;
}

}  // namespace

Tasks::Tasks(TasksOptions options) : options_(std::move(options)) { check_options(options_); }

Tasks::~Tasks() { remove_metrics(); }

void Tasks::configure(TasksOptions options) {
  check_options(options);
  std::lock_guard lock(pool_mutex_);
  if (pool_)
    throw std::logic_error(
        "grove::tasks: Tasks::configure() must come before the first enqueue, result or "
        "worker start (the pool is open)");
  options_ = std::move(options);
}

void Tasks::add(std::string name, Handler handler) {
  if (name.empty()) throw std::invalid_argument("grove::tasks: a task needs a non-empty name");
  if (handlers_.count(name))
    throw std::logic_error("grove::tasks: a task named \"" + name +
                           "\" is registered already: give each function its own name");
  handlers_.emplace(std::move(name), std::move(handler));
}

const Handler* Tasks::find(std::string_view name) const {
  auto it = handlers_.find(name);
  return it == handlers_.end() ? nullptr : &it->second;
}

std::vector<std::string> Tasks::names() const {
  std::vector<std::string> out;
  for (const auto& [name, h] : handlers_) out.push_back(name);
  return out;
}

redis::Pool& Tasks::pool() {
  std::lock_guard lock(pool_mutex_);
  if (!pool_) {
    redis::PoolOptions p;
    p.url = options_.url;
    p.max_size = options_.pool_size;
    p.acquire_timeout = 10s;
    pool_ = std::make_unique<redis::Pool>(p);
  }
  return *pool_;
}

aio::Task<std::string> Tasks::enqueue_async(std::string name, Json args, EnqueueOptions options) {
  if (!find(name)) {
    std::string known;
    for (const auto& n : names()) known += (known.empty() ? "" : ", ") + n;
    throw UnknownTask("grove::tasks: no task named \"" + name +
                      "\" is registered in this process (registered: " +
                      (known.empty() ? "none" : known) + "); register it with tasks.task(\"" +
                      name + "\", fn) in the code both the app and its worker run");
  }
  Message m = checked_message(name, std::move(args), options);
  Keys keys{options_.prefix};
  redis::Pool& p = pool();
  if (!options.id.empty()) {
    // The idempotency key: only the first enqueue of an id within result_ttl goes on.
    // (No temporaries in a co_await's full expression: g++ 12 may destroy them twice.)
    redis::Command set = redis::command("SET", keys.idempotency(m.id), "1", "NX", "PX",
                                        detail::ms(options_.result_ttl));
    redis::Reply first = co_await p.execute(std::move(set));
    if (first.is_nil()) co_return m.id;
  }
  std::string text = detail::encode(m);
  std::vector<redis::Command> commands = {redis::command("SADD", keys.queues(), m.queue)};
  if (options.delay > Duration::zero())
    commands.push_back(redis::command("ZADD", keys.delayed(m.queue),
                                      detail::now_ms() + detail::ms(options.delay), text));
  else commands.push_back(redis::command("XADD", keys.queue(m.queue), "*", "task", text));
  std::vector<redis::Reply> replies = co_await p.pipeline(std::move(commands));
  for (const redis::Reply& r : replies) r.throw_if_error();
  co_return m.id;
}

std::string Tasks::enqueue(std::string_view name, Json args, EnqueueOptions options) {
  return green::wait(enqueue_async(std::string(name), std::move(args), std::move(options)));
}

aio::Task<Result> Tasks::result_async(std::string id) {
  redis::Command range =
      redis::command("XRANGE", Keys{options_.prefix}.result(id), "-", "+", "COUNT", 1);
  redis::Reply r = co_await pool().execute(std::move(range));
  std::vector<detail::Entry> entries = detail::entries_of(r);
  if (entries.empty()) co_return Result{};
  co_return result_of(entries[0]);
}

Result Tasks::result(std::string_view id) { return green::wait(result_async(std::string(id))); }

aio::Task<Result> Tasks::wait_async(std::string id, Duration timeout) {
  if (timeout < Duration::zero())
    throw std::invalid_argument("grove::tasks: wait() needs a timeout >= 0");
  std::string key = Keys{options_.prefix}.result(id);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    // XREAD from the start: the entry if it is there, else the first XADD to the key.
    // BLOCK 0 would mean forever, so the last slice asks for at least 1 ms.
    std::int64_t block = std::clamp<std::int64_t>(left.count(), 1, 1000);
    redis::Command read =
        redis::command("XREAD", "COUNT", 1, "BLOCK", block, "STREAMS", key, "0-0");
    redis::Reply r = co_await pool().execute(std::move(read));
    for (const auto& [stream, entries] : detail::streams_of(r))
      if (!entries.empty()) co_return result_of(entries[0]);
    if (std::chrono::steady_clock::now() >= deadline)
      throw WaitTimeout("grove::tasks: task " + id + " has no result after " +
                        std::to_string(detail::ms(timeout)) +
                        " ms (is a worker running for its queue?)");
  }
}

Result Tasks::wait(std::string_view id, Duration timeout) {
  return green::wait(wait_async(std::string(id), timeout));
}

}  // namespace grove::tasks
