#include "demo_tasks.hpp"

#include <unistd.h>

#include <algorithm>

using grove::web::Json;

void register_demo_tasks(grove::tasks::Tasks& tasks) {
  tasks.task("add",
             [](const Json& args) { return Json(args.at("a").as_int() + args.at("b").as_int()); });
  tasks.task("sleep", [](const Json& args) {
    std::int64_t ms = std::clamp<std::int64_t>(args.value<std::int64_t>("ms", 0), 0, 60'000);
    ::usleep(static_cast<useconds_t>(ms * 1000));
    return Json{{"slept_ms", ms}};
  });
}
