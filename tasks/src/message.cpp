#include <grove/tasks/detail/message.hpp>

#include <chrono>
#include <limits>

namespace grove::tasks::detail {

std::string encode(const Message& m) {
  web::Json j = {{"id", m.id},          {"name", m.name},       {"args", m.args},
                 {"queue", m.queue},    {"retries", m.retries}, {"timeout_ms", m.timeout_ms},
                 {"attempt", m.attempt}};
  return j.dump();
}

namespace {

// The string field `key` of `j`, or a reason.
const std::string* string_field(const web::Json& j, std::string_view key, std::string& why) {
  const web::Json* f = j.find(key);
  if (!f || !f->is_string() || f->as_string().empty()) {
    why = "malformed task message: field \"" + std::string(key) + "\" must be a non-empty string";
    return nullptr;
  }
  return &f->as_string();
}

// The integer field `key` in [0, max], or a reason.
bool int_field(const web::Json& j, std::string_view key, std::int64_t max, std::int64_t& out,
               std::string& why) {
  const web::Json* f = j.find(key);
  if (!f || !f->is_int() || f->as_int() < 0 || f->as_int() > max) {
    why = "malformed task message: field \"" + std::string(key) +
          "\" must be an integer from 0 to " + std::to_string(max);
    return false;
  }
  out = f->as_int();
  return true;
}

}  // namespace

std::variant<Message, std::string> decode(std::string_view text) {
  web::Json j;
  try {
    j = web::Json::parse(text);
  } catch (const web::JsonError& e) {
    return std::string("malformed task message: not JSON (") + e.what() + ")";
  }
  if (!j.is_object()) return std::string("malformed task message: not a JSON object");
  Message m;
  std::string why;
  const std::string* id = string_field(j, "id", why);
  const std::string* name = id ? string_field(j, "name", why) : nullptr;
  const std::string* queue = name ? string_field(j, "queue", why) : nullptr;
  if (!queue) return why;
  m.id = *id;
  m.name = *name;
  m.queue = *queue;
  if (const web::Json* a = j.find("args")) m.args = *a;
  std::int64_t retries = 0, attempt = 0, timeout = 0;
  constexpr std::int64_t kMaxRetries = 1000;
  if (!int_field(j, "retries", kMaxRetries, retries, why) ||
      !int_field(j, "attempt", kMaxRetries, attempt, why) ||
      !int_field(j, "timeout_ms", std::numeric_limits<std::int64_t>::max() / 1'000'000, timeout,
                 why))
    return why;
  m.retries = static_cast<int>(retries);
  m.attempt = static_cast<int>(attempt);
  m.timeout_ms = timeout;
  return m;
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace grove::tasks::detail
