// grove-demo's app, shared by its main() and the test suite (tests/framework/test_demo*.cpp,
// which compile demo_app.cpp with GROVE_DEMO_AS_LIBRARY).
#pragma once

#include <grove/web.hpp>

#include <cstddef>
#include <memory>
#include <string>

struct DemoOptions {
  std::string upstream;         // "" = this server (the first --bind, else the request's Host)
  bool async_teardown = false;  // also register a coroutine teardown hook
  std::string database_url;     // --database-url: /db and /db-sync
  std::string redis_url;        // --redis-url: /counter
  std::size_t db_pool_size = 100;
  std::string tasks_prefix;  // --tasks-prefix: /tasks/... (empty: grove-demo:tasks)
};

// Adds every route of the demo to `app`. The database routes need a build with the
// database clients (GROVE_DEMO_DATABASES); asking for them without throws
// std::invalid_argument saying how to build one.
void make_demo_app(grove::web::App& app, std::shared_ptr<DemoOptions> options);
