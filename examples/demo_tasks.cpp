#include "demo_tasks.hpp"

#include <grove/pg.hpp>

#include <unistd.h>

#include <algorithm>
#include <memory>

using grove::web::Json;
namespace aio = grove::aio;
namespace pg = grove::pg;

namespace {

// The record task's pool, opened at its first run on the worker's hub (a pool belongs to the
// thread that uses it).
class Recorder {
 public:
  explicit Recorder(std::shared_ptr<const std::string> database_url)
      : url_(std::move(database_url)) {}
  pg::Pool& pool() {
    if (!url_ || url_->empty())
      throw std::runtime_error(
          "the record task needs PostgreSQL: start grove-worker with --database-url");
    if (!pool_)
      pool_ = std::make_unique<pg::Pool>(pg::PoolOptions{.conninfo = *url_, .max_size = 20});
    return *pool_;
  }

 private:
  std::shared_ptr<const std::string> url_;
  std::unique_ptr<pg::Pool> pool_;
};

aio::Task<Json> record(std::shared_ptr<Recorder> recorder, std::string key, int ms) {
  pg::Pool& pool = recorder->pool();
  const std::int64_t pid = ::getpid();
  co_await pool.query(
      std::string("INSERT INTO ") + kDemoTaskStartsTable + " (key, pid) VALUES ($1, $2)", key, pid);
  co_await aio::sleep(std::chrono::milliseconds(ms));
  pg::Result r = co_await pool.query(std::string("INSERT INTO ") + kDemoTaskResultsTable +
                                         " (key, pid) VALUES ($1, $2) "
                                         "ON CONFLICT (key) DO NOTHING RETURNING key",
                                     key, pid);
  co_return Json{{"key", key}, {"recorded", r.size() == 1}};
}

aio::Task<void> create_tables(std::string url) {
  pg::Connection c = co_await pg::Connection::connect(url);
  co_await c.execute(std::string("BEGIN;"
                                 "SELECT pg_advisory_xact_lock(hashtext('grove-demo tasks'));"
                                 "CREATE TABLE IF NOT EXISTS ") +
                     kDemoTaskStartsTable +
                     " (key text NOT NULL, pid bigint NOT NULL,"
                     "  at timestamptz NOT NULL DEFAULT now());"
                     "CREATE TABLE IF NOT EXISTS " +
                     kDemoTaskResultsTable +
                     " (key text PRIMARY KEY, pid bigint NOT NULL,"
                     "  at timestamptz NOT NULL DEFAULT now());"
                     "COMMIT;");
}

}  // namespace

void register_demo_tasks(grove::tasks::Tasks& tasks,
                         std::shared_ptr<const std::string> database_url) {
  tasks.task("add",
             [](const Json& args) { return Json(args.at("a").as_int() + args.at("b").as_int()); });
  tasks.task("sleep", [](const Json& args) {
    std::int64_t ms = std::clamp<std::int64_t>(args.value<std::int64_t>("ms", 0), 0, 60'000);
    ::usleep(static_cast<useconds_t>(ms * 1000));
    return Json{{"slept_ms", ms}};
  });
  auto recorder = std::make_shared<Recorder>(std::move(database_url));
  tasks.task("record", [recorder](Json args) {
    int ms =
        static_cast<int>(std::clamp<std::int64_t>(args.value<std::int64_t>("ms", 0), 0, 60'000));
    return record(recorder, args.at("key").as_string(), ms);
  });
}

void create_demo_task_tables(const std::string& database_url) {
  aio::run(create_tables(database_url));
}
