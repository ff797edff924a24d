// libFuzzer target: the task message a worker reads from a queue's stream
// (tasks/src/message.cpp, over framework/src/json.cpp). Anything may be written to the
// stream, so decode() must never crash: it gives a Message or a reason. A message it
// accepts must survive encode() and decode() unchanged.
#include <grove/tasks/detail/message.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <variant>

namespace detail = grove::tasks::detail;

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_task_message: invariant broken: %s\n", what);
  std::abort();
}
#define CHECK(cond)           \
  do {                        \
    if (!(cond)) fail(#cond); \
  } while (0)

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto decoded = detail::decode(text);
  if (auto* why = std::get_if<std::string>(&decoded)) {
    CHECK(why->starts_with("malformed task message: "));
    return 0;
  }
  const detail::Message& m = std::get<detail::Message>(decoded);
  CHECK(!m.id.empty() && !m.name.empty() && !m.queue.empty());
  CHECK(m.retries >= 0 && m.attempt >= 0 && m.timeout_ms >= 0);
  auto again = detail::decode(detail::encode(m));
  const auto* back = std::get_if<detail::Message>(&again);
  CHECK(back);
  CHECK(back->id == m.id && back->name == m.name && back->queue == m.queue && back->args == m.args);
  CHECK(back->retries == m.retries && back->attempt == m.attempt &&
        back->timeout_ms == m.timeout_ms);
  return 0;
}
