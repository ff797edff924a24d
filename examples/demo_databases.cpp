// grove-demo's database routes: grove::pg and grove::redis pools for the coroutine views,
// a small stack of libpq connections for the plain one.
#include "demo_databases.hpp"
#include "demo_tasks.hpp"

#include <grove/aio.hpp>
#include <grove/green/semaphore.hpp>
#include <grove/http/metrics.hpp>
#include <grove/pg.hpp>
#include <grove/redis.hpp>

#include <libpq-fe.h>

#include <algorithm>
#include <memory>
#include <mutex>
#include <vector>

namespace web = grove::web;
namespace aio = grove::aio;
namespace pg = grove::pg;
namespace redis = grove::redis;
namespace http = grove::http;
using namespace std::chrono_literals;

namespace {

int ms_arg(const web::Request& req) {
  return std::clamp(req.args().get_as<int>("ms", 0), 0, 60'000);
}

web::Response unavailable(const std::exception& e) {
  return web::Response(
      web::Json{{"error", "Service Unavailable"}, {"detail", e.what()}, {"status", 503}}, 503);
}

const char* const kSleepSql =
    "SELECT pg_sleep($1::float8 / 1000) IS NULL AS slept, pg_backend_pid() AS pid";

aio::Task<web::Response> db_view(std::shared_ptr<pg::Pool> pool, int ms) {
  try {
    pg::Result r = co_await pool->query(kSleepSql, ms);
    co_return web::Response(web::Json{{"ms", ms}, {"pid", r[0].get<std::int64_t>("pid")}});
  } catch (const pg::Error& e) {
    co_return unavailable(e);
  }
}

// Unmodified libpq, blocking calls and all: under compat they yield to the hub. At most
// `keep` connections at once, like /db's pool: a request beyond waits for one (only its
// green thread waits), rather than opening a connection that is closed again after the
// query.
class LibpqConnections {
 public:
  LibpqConnections(std::string conninfo, std::size_t keep)
      : conninfo_(std::move(conninfo)), keep_(keep), slots_(keep) {}
  ~LibpqConnections() {
    for (PGconn* c : idle_) PQfinish(c);
  }

  web::Response sleep(int ms) {
    std::lock_guard slot(slots_);
    PGconn* conn = take();
    if (PQstatus(conn) != CONNECTION_OK) {
      std::string error = PQerrorMessage(conn);
      PQfinish(conn);
      return unavailable(std::runtime_error("libpq: " + error));
    }
    std::string param = std::to_string(ms);
    const char* values[] = {param.c_str()};
    PGresult* res = PQexecParams(conn, kSleepSql, 1, nullptr, values, nullptr, nullptr, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
      std::string error = PQresultErrorMessage(res);
      PQclear(res);
      give_back(conn);
      return unavailable(std::runtime_error("libpq: " + error));
    }
    long long pid = std::atoll(PQgetvalue(res, 0, 1));
    PQclear(res);
    give_back(conn);
    return web::Response(web::Json{{"ms", ms}, {"pid", pid}});
  }

 private:
  PGconn* take() {
    {
      std::lock_guard lock(mutex_);
      if (!idle_.empty()) {
        PGconn* c = idle_.back();
        idle_.pop_back();
        return c;
      }
    }
    return PQconnectdb(conninfo_.c_str());  // cooperative under compat
  }
  void give_back(PGconn* conn) {
    if (PQstatus(conn) == CONNECTION_OK) {
      std::lock_guard lock(mutex_);
      if (idle_.size() < keep_) {
        idle_.push_back(conn);
        return;
      }
    }
    PQfinish(conn);
  }

  std::string conninfo_;
  std::size_t keep_;
  grove::green::Semaphore slots_;
  std::mutex mutex_;
  std::vector<PGconn*> idle_;
};

aio::Task<web::Response> counter_view(std::shared_ptr<redis::Pool> pool, std::string name) {
  try {
    redis::Reply r = co_await pool->command("INCR", "grove-demo:counter:" + name);
    co_return web::Response(web::Json{{"name", name}, {"count", r.as_integer()}});
  } catch (const redis::Error& e) {
    co_return unavailable(e);
  }
}

aio::Task<void> connect_once(DatabaseOptions o) {
  if (!o.database_url.empty()) {
    try {
      co_await pg::Connection::connect(o.database_url, {.connect_timeout = 5s});
    } catch (const pg::Error& e) {
      throw std::runtime_error(std::string("--database-url: ") + e.what());
    }
  }
  if (!o.redis_url.empty()) {
    try {
      co_await redis::Connection::connect(o.redis_url, {.connect_timeout = 5s});
    } catch (const redis::Error& e) {
      throw std::runtime_error(std::string("--redis-url: ") + e.what());
    }
  }
}

web::Response task_result(grove::tasks::Tasks& tasks, const std::string& id) {
  try {
    grove::tasks::Result r = tasks.result(id);
    return web::Response(web::Json{{"id", id},
                                   {"status", grove::tasks::to_string(r.status)},
                                   {"value", r.value},
                                   {"error", r.error},
                                   {"attempts", r.attempts}});
  } catch (const grove::redis::Error& e) {
    return unavailable(e);
  }
}

web::Response enqueued(grove::tasks::Tasks& tasks, const std::string& name, web::Json args,
                       grove::tasks::EnqueueOptions options = {}) {
  try {
    return web::Response(
        web::Json{{"id", tasks.enqueue(name, std::move(args), std::move(options))}}, 202);
  } catch (const grove::redis::Error& e) {
    return unavailable(e);
  }
}

// Background tasks: the views enqueue (blocking only their green thread), grove-worker runs.
void add_task_routes(web::App& app, const DatabaseOptions& options) {
  grove::tasks::TasksOptions o;
  o.url = options.redis_url;
  o.prefix = options.tasks_prefix.empty() ? kDemoTasksPrefix : options.tasks_prefix;
  auto tasks = std::make_shared<grove::tasks::Tasks>(o);
  register_demo_tasks(*tasks);
  tasks->add_metrics();  // queue figures on --metrics-bind
  app.route("/tasks/add", [tasks](web::Request& req) {
    return enqueued(
        *tasks, "add",
        web::Json{{"a", req.args().get_as<int>("a", 0)}, {"b", req.args().get_as<int>("b", 0)}});
  });
  app.route("/tasks/sleep", [tasks](web::Request& req) {
    return enqueued(*tasks, "sleep", web::Json{{"ms", ms_arg(req)}});
  });
  // The key is the task's id too: enqueueing the same key again (a client's retry) enqueues
  // nothing more.
  app.route("/tasks/record", [tasks](web::Request& req) {
    std::string key = req.args().get("key", "");
    if (key.empty() || key.size() > 200)
      return web::Response(web::Json{{"error", "Bad Request"},
                                     {"detail",
                                      "give the task's key: /tasks/record?key=k1 "
                                      "(1 to 200 characters)"},
                                     {"status", 400}},
                           400);
    grove::tasks::EnqueueOptions options;
    options.id = "record:" + key;
    return enqueued(*tasks, "record", web::Json{{"key", key}, {"ms", ms_arg(req)}},
                    std::move(options));
  });
  app.route("/tasks/result/<id>",
            [tasks](const std::string& id) { return task_result(*tasks, id); });
}

}  // namespace

void add_database_routes(web::App& app, const DatabaseOptions& options) {
  if (!options.database_url.empty()) {
    auto pool = std::make_shared<pg::Pool>(pg::PoolOptions{
        .conninfo = options.database_url, .max_size = options.pool_size, .acquire_timeout = 10s});
    http::add_pool_metrics("pg", "demo", pool);  // for the process's life
    app.route("/db", [pool](web::Request& req) { return db_view(pool, ms_arg(req)); });
    auto libpq = std::make_shared<LibpqConnections>(options.database_url, options.pool_size);
    app.route("/db-sync", [libpq](web::Request& req) { return libpq->sleep(ms_arg(req)); });
  }
  if (!options.redis_url.empty()) {
    auto pool = std::make_shared<redis::Pool>(redis::PoolOptions{
        .url = options.redis_url, .max_size = options.pool_size, .acquire_timeout = 10s});
    http::add_pool_metrics("redis", "demo", pool);
    app.route("/counter", [pool](web::Request& req) {
      return counter_view(pool, req.args().get("name", "default"));
    });
    add_task_routes(app, options);
  }
}

void check_databases(const DatabaseOptions& options) {
  if (options.database_url.empty() && options.redis_url.empty()) return;
  aio::run(connect_once(options));
}
