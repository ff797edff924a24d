// grove-demo's database routes (built when the database clients are: GROVE_BUILD_CLIENTS).
//
//   GET /db?ms=N        coroutine view: SELECT pg_sleep(N ms) through grove::pg's pool
//   GET /db-sync?ms=N   plain view: the same through unmodified libpq (PQexecParams), which
//                       compat makes cooperative; without compat it blocks the hub
//   GET /counter?name=x coroutine view: INCR through grove::redis's pool
//   GET /tasks/add?a=2&b=3, /tasks/sleep?ms=N
//                       plain views: enqueue a background task (demo_tasks.cpp) and answer
//                       202 {"id": ...}; grove-worker runs it
//   GET /tasks/record?key=k1&ms=N
//                       enqueues the record task (its id "record:k1"): grove-worker
//                       --database-url records its result in PostgreSQL under the key
//   GET /tasks/result/<id>  the task's status and result (docs/tasks.md)
//
// Each answers JSON; a database that cannot be reached in time gives 503 with the client's
// error, and the process keeps serving.
#pragma once

#include <grove/web.hpp>

#include <cstddef>
#include <string>

struct DatabaseOptions {
  std::string database_url;  // PostgreSQL: a libpq connection string or postgresql:// URI
  std::string redis_url;     // redis://...
  std::size_t pool_size = 100;
  std::string tasks_prefix;  // the background tasks' key prefix (empty: kDemoTasksPrefix)
};

// Adds the routes of the databases that are configured.
void add_database_routes(grove::web::App& app, const DatabaseOptions& options);
// Connects once to each configured database (on a loop of its own, before the server
// starts): a wrong password, a missing database or an unreachable server throws
// std::runtime_error naming the flag and the client's message.
void check_databases(const DatabaseOptions& options);
