// The wire format of a task: one JSON object in the stream entry's field "task", the same
// text as a member of the delayed set, so the scheduler moves it without parsing it.
//
//   {"id":"…","name":"send_email","args":{…},"queue":"mail","retries":3,
//    "timeout_ms":0,"attempt":0}
#pragma once

#include <grove/web/json.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

namespace grove::tasks::detail {

struct Message {
  std::string id;
  std::string name;
  web::Json args;
  std::string queue;
  int retries = 0;              // retries after the first attempt
  std::int64_t timeout_ms = 0;  // 0: none
  int attempt = 0;              // 0 for the first run
};

std::string encode(const Message& m);
// The message, or why `text` is not one (a sentence for the dead-letter entry).
std::variant<Message, std::string> decode(std::string_view text);

// The Redis keys of a prefix (TasksOptions::prefix); docs/tasks.md lists them.
struct Keys {
  std::string prefix;
  std::string queue(std::string_view q) const { return prefix + ":queue:" + std::string(q); }
  std::string delayed(std::string_view q) const { return prefix + ":delayed:" + std::string(q); }
  std::string dead(std::string_view q) const { return prefix + ":dead:" + std::string(q); }
  std::string retries(std::string_view q) const { return prefix + ":retries:" + std::string(q); }
  std::string completed(std::string_view q) const {
    return prefix + ":completed:" + std::string(q);
  }
  std::string result(std::string_view id) const { return prefix + ":result:" + std::string(id); }
  std::string idempotency(std::string_view id) const { return prefix + ":id:" + std::string(id); }
  std::string queues() const { return prefix + ":queues"; }
  // The consumer group every worker of every queue reads through.
  static constexpr const char* group = "grove-workers";
};

// Milliseconds since the epoch: delayed tasks are due at a wall-clock time every machine
// agrees on (monotonic clocks differ between processes).
std::int64_t now_ms();

}  // namespace grove::tasks::detail
