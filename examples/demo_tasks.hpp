// grove-demo's background tasks: registered by grove-demo (which enqueues them from its
// /tasks/... views) and by grove-worker (which runs them), through this one function.
//
//   add     {"a": 2, "b": 3} -> 5
//   sleep   {"ms": 100} -> {"slept_ms": 100}: a plain usleep(), cooperative in grove-worker
//           because worker_main patches compat
//   record  {"key": "k1", "ms": 50} -> {"key": "k1", "recorded": true}: notes its start in
//           PostgreSQL, waits ms, then records its result under the unique key (ON CONFLICT
//           DO NOTHING), so a run repeated after a lost worker takes effect once;
//           "recorded" is false for such a repeat. Needs grove-worker --database-url.
#pragma once

#include <grove/tasks.hpp>

#include <memory>
#include <string>

// database_url: PostgreSQL for the record task (libpq connection string), read at the task's
// first run (grove-worker parses its flags after registering); null or empty: the task
// fails, saying which flag it needs.
void register_demo_tasks(grove::tasks::Tasks& tasks,
                         std::shared_ptr<const std::string> database_url = nullptr);

// Creates the record task's tables if they are missing (instances serialised by an advisory
// lock, so workers starting together do not race). Throws grove::pg::Error.
void create_demo_task_tables(const std::string& database_url);

// The demo's key prefix in Redis (grove-demo --tasks-prefix, grove-worker --prefix).
inline constexpr const char* kDemoTasksPrefix = "grove-demo:tasks";
// The record task's tables: every start (key, pid of the worker), and the results (key
// unique, pid of the worker whose run took effect).
inline constexpr const char* kDemoTaskStartsTable = "grove_demo_task_starts";
inline constexpr const char* kDemoTaskResultsTable = "grove_demo_task_results";
