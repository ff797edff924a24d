// The fixture of the grove::tasks tests: the process's Redis, a Tasks with a fresh prefix
// and the test registry, and raw Redis calls for checking what is stored.
#pragma once

#include "services.hpp"
#include "support.hpp"

#include <grove/green/aio.hpp>
#include <grove/http/metrics.hpp>

#include <catch2/catch.hpp>

#include <memory>
#include <optional>

namespace grove::tasks::test {

struct Fixture {
  grove::test::Service* redis_service;
  std::unique_ptr<Tasks> tasks;

  // On the ctest run's shared Redis, or on `service` (a private one the test may restart).
  explicit Fixture(TasksOptions o = {}, grove::test::Service* service = grove::test::redis())
      : redis_service(service) {
    if (!redis_service) return;
    o.url = redis_url(redis_service->port());
    o.prefix = fresh_prefix();
    if (o.backoff_base == 1s) o.backoff_base = 10ms;
    tasks = std::make_unique<Tasks>(o);
    register_test_tasks(*tasks);
  }
  explicit operator bool() const { return tasks != nullptr; }
  const std::string& prefix() const { return tasks->options().prefix; }
  std::string key(const std::string& rest) const { return prefix() + ":" + rest; }

  redis::Reply call(redis::Command c) { return green::wait(tasks->pool().execute(std::move(c))); }
  std::int64_t integer(redis::Command c) { return call(std::move(c)).as_integer(); }
  // Pending entries of a queue's consumer group (0 before a worker made the group).
  std::int64_t pending(const std::string& queue = "default") {
    try {
      redis::Reply r = call(redis::command("XPENDING", key("queue:" + queue), "grove-workers"));
      return r.elements().empty() ? 0 : r.elements()[0].as_integer();
    } catch (const redis::ServerError& e) {
      if (e.code() == "NOGROUP") return 0;
      throw;
    }
  }
  // Waits (running the hub) until `pred` holds; false after `timeout`.
  template <class P>
  bool eventually(P pred, std::chrono::milliseconds timeout = 10s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (pred()) return true;
      green::sleep(20ms);
    }
    return pred();
  }
  WorkerOptions worker_options(std::vector<std::string> queues = {"default"}) {
    WorkerOptions w;
    w.queues = std::move(queues);
    w.concurrency = 20;
    w.visibility_timeout = 1s;
    w.poll_interval = 50ms;
    w.grace = 2s;
    return w;
  }
  std::vector<std::string> worker_args(std::vector<std::string> extra) {
    std::vector<std::string> a = {"--redis", tasks->options().url, "--prefix", prefix()};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
};

}  // namespace grove::tasks::test
