// Bad entries in a queue's stream go to the dead letters with a clear reason; the worker
// runs on.
#include "fixture.hpp"

#include <algorithm>

using namespace grove;
using namespace grove::tasks;
using namespace grove::tasks::test;

namespace {

// The dead-letter entries of the default queue, as their "error" fields.
std::vector<std::string> dead_reasons(Fixture& f) {
  std::vector<std::string> out;
  redis::Reply dead = f.call(redis::command("XRANGE", f.key("dead:default"), "-", "+"));
  for (const redis::Reply& e : dead.elements())
    for (const auto& [k, v] : e.elements()[1].as_pairs())
      if (k == "error") out.push_back(v);
  return out;
}

}  // namespace

TEST_CASE(
    "malformed entries in the stream are dead-lettered with the reason, and the worker runs on",
    "[tasks]") {
  Fixture f;
  if (!f) return;
  std::string queue = f.key("queue:default");
  f.call(redis::command("XADD", queue, "*", "task", "{not json"));
  f.call(redis::command("XADD", queue, "*", "something", "else"));
  f.call(redis::command("XADD", queue, "*", "task", "[1,2]"));
  f.call(redis::command("XADD", queue, "*", "task", R"({"id":"x","queue":"default"})"));
  f.call(redis::command(
      "XADD", queue, "*", "task",
      R"({"id":"y","name":"echo","queue":"default","retries":-5,"attempt":0,"timeout_ms":0})"));
  InProcessWorker w(*f.tasks, f.worker_options());
  std::string good = f.tasks->enqueue("add", {{"a", 1}, {"b", 1}});
  CHECK(f.tasks->wait(good, 10s).value == Json(2));
  REQUIRE(f.eventually([&] { return dead_reasons(f).size() == 5; }));
  // The entries run concurrently: any order.
  std::vector<std::string> reasons = dead_reasons(f);
  auto seen = [&](const std::string& prefix) {
    return std::count_if(reasons.begin(), reasons.end(),
                         [&](const std::string& r) { return r.starts_with(prefix); });
  };
  CHECK(seen("malformed task message: not JSON (") == 1);
  CHECK(seen("malformed task message: the stream entry has no field \"task\"") == 1);
  CHECK(seen("malformed task message: not a JSON object") == 1);
  CHECK(seen("malformed task message: field \"name\" must be a non-empty string") == 1);
  CHECK(seen("malformed task message: field \"retries\" must be an integer from 0 to 1000") == 1);
  CHECK(f.pending() == 0);
  CHECK(w.stop() == 0);
  CHECK(w.worker().stats().dead == 5);
}

TEST_CASE("a task name the worker does not register is dead-lettered, and its result says why",
          "[tasks]") {
  Fixture f;
  if (!f) return;
  f.call(redis::command(
      "XADD", f.key("queue:default"), "*", "task",
      R"({"id":"t1","name":"resize_image","args":{},"queue":"default","retries":3,"attempt":0,"timeout_ms":0})"));
  InProcessWorker w(*f.tasks, f.worker_options());
  Result r = f.tasks->wait("t1", 10s);
  CHECK(r.status == Status::failed);
  CHECK_THAT(r.error, Catch::StartsWith("unknown task \"resize_image\": this worker registers "));
  CHECK_THAT(r.error, Catch::Contains("echo"));
  CHECK(dead_reasons(f).size() == 1);
}
