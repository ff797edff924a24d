// grove-demo's background tasks: registered by grove-demo (which enqueues them from its
// /tasks/... views) and by grove-worker (which runs them), through this one function.
//
//   add    {"a": 2, "b": 3} -> 5
//   sleep  {"ms": 100} -> {"slept_ms": 100}: a plain usleep(), cooperative in grove-worker
//          because worker_main patches compat
#pragma once

#include <grove/tasks.hpp>

void register_demo_tasks(grove::tasks::Tasks& tasks);

// The demo's key prefix in Redis (grove-demo --tasks-prefix, grove-worker --prefix).
inline constexpr const char* kDemoTasksPrefix = "grove-demo:tasks";
