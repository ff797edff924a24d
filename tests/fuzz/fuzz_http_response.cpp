// libFuzzer target: the response serializer and its inverse (server/src/http1.cpp).
//
// The input describes a response the way an application builds one, and the request it
// answers:
//   byte 0: bit 0 HEAD, bit 1 HTTP/1.0, bit 2 the request allows keep-alive, bit 3 a
//           streamed body, bit 4 the stream declares its Content-Length, bit 5 an error
//           response of the server's own (write_error) instead of the application's
//   bytes 1-2: the status (folded into 200-999, or 400-599 for an error response)
//   then 0xff-separated segments: the reason, then `name:value` header fields (a segment
//   without ':' ends them), then the body pieces.
// Every response that check_response() accepts is serialized exactly as the server does
// (write_response through a sink, or write_error); parse_response() must read back the
// status, the reason, every field the application set (bar the framing fields the server
// owns), one Server and one Date, the body (decoded when chunked), the persistence the
// plan chose, and no byte more or less than was written.
#include <grove/http/detail/http1.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

using namespace grove::http;
using namespace grove::http::detail;

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_http_response: invariant broken: %s\n", what);
  std::abort();
}
#define CHECK(cond)           \
  do {                        \
    if (!(cond)) fail(#cond); \
  } while (0)

struct StringSink {
  std::string bytes;
  std::string& out() { return bytes; }
  void flush(std::string_view extra) { bytes.append(extra); }
  void send_file(const grove::http::FileBody& f) { grove::http::detail::append_file(bytes, f); }
};

std::vector<std::string_view> split(std::string_view s) {
  std::vector<std::string_view> out;
  while (true) {
    std::size_t at = s.find('\xff');
    out.push_back(s.substr(0, at));
    if (at == s.npos) return out;
    s.remove_prefix(at + 1);
  }
}

std::string_view trim(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

std::size_t count(const ParsedResponse& r, std::string_view name) {
  std::size_t n = 0;
  for (const auto& [k, v] : r.fields) n += iequals(k, name);
  return n;
}

const HeadDefaults kDefaults{"grove", "Thu, 01 Jan 1970 00:00:00 GMT"};

void check_error_response(int status, std::string_view reason, bool head) {
  for (unsigned char c : reason)
    if (c < 0x20 || c == 0x7f) return;  // the server's reasons are static, printable text
  std::string wire;
  write_error(wire, status, reason, kDefaults);
  auto r = parse_response(wire, false);
  CHECK(r);
  CHECK(r->status == status);
  CHECK(r->reason == reason_phrase(status));
  CHECK(r->body == error_body(status, reason));
  CHECK(!r->keep_alive);
  CHECK(r->size == wire.size());
  CHECK(count(*r, "server") == 1 && count(*r, "date") == 1);
  (void)head;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  const std::uint8_t flags = data[0];
  const bool is_head = flags & 1, http10 = flags & 2, keep = flags & 4, streamed = flags & 8,
             declared = flags & 16, error = flags & 32;
  const unsigned raw_status = unsigned(data[1]) << 8 | data[2];
  auto parts = split(std::string_view(reinterpret_cast<const char*>(data + 3), size - 3));

  if (error) {
    check_error_response(400 + int(raw_status % 200), parts[0], is_head);
    return 0;
  }

  Response resp;
  resp.status = 200 + int(raw_status % 800);
  resp.reason.assign(parts[0]);
  std::size_t i = 1;
  std::vector<std::pair<std::string_view, std::string_view>> set;
  for (; i < parts.size(); ++i) {
    std::size_t colon = parts[i].find(':');
    if (colon == std::string_view::npos) {
      ++i;
      break;
    }
    auto name = parts[i].substr(0, colon), value = parts[i].substr(colon + 1);
    // The server owns these: a stream's Content-Length is the declared one (bit 4).
    if (iequals(name, "content-length") || iequals(name, "transfer-encoding")) continue;
    resp.headers.add(name, value);
    set.emplace_back(name, value);
  }
  std::vector<std::string> pieces;
  std::string body;
  for (; i < parts.size(); ++i) {
    pieces.emplace_back(parts[i]);
    body += parts[i];
  }
  if (streamed) {
    if (declared) resp.headers.set("Content-Length", std::to_string(body.size()));
    resp.stream = [pieces](BodyWriter& w) {
      for (const auto& p : pieces) w.write(p);
    };
  } else {
    resp.body = body;
  }
  if (!check_response(resp).empty()) return 0;

  const int minor = http10 ? 0 : 1;
  ResponsePlan plan = plan_response(resp, minor, is_head, keep);
  StringSink sink;
  std::uint64_t sent = write_response(sink, resp, plan, kDefaults);
  const std::string& wire = sink.bytes;

  auto r = parse_response(wire, is_head);
  CHECK(r);
  CHECK(r->status == resp.status);
  CHECK(r->reason == (resp.reason.empty() ? std::string(reason_phrase(resp.status)) : resp.reason));
  CHECK(r->size == wire.size());  // nothing before, after or between
  CHECK(r->keep_alive == plan.keep);
  if (!keep) CHECK(!plan.keep);
  const bool no_body = resp.status == 204 || resp.status == 304;
  if (is_head || no_body) {
    CHECK(r->body.empty());
    CHECK(sent == 0);
  } else {
    CHECK(r->body == body);
    CHECK(sent == body.size());
  }
  if (no_body) CHECK(!r->field("content-length") && !r->field("transfer-encoding"));
  // A stream of unknown length: chunked to HTTP/1.1, delimited by the close to HTTP/1.0.
  if (streamed && !declared && !no_body) {
    CHECK(bool(r->field("transfer-encoding")) == (minor == 1));
    if (!is_head) CHECK(r->chunked == (minor == 1));
    if (minor == 0 && !is_head) CHECK(!r->keep_alive);
  }
  if (!streamed && !no_body) CHECK(r->field("content-length") == std::to_string(body.size()));

  // Every field the application set, in order, once; the server's own once each.
  std::size_t at = 0;
  for (const auto& [name, value] : set) {
    if (iequals(name, "connection")) continue;
    while (at < r->fields.size() &&
           !(iequals(r->fields[at].first, name) && r->fields[at].second == trim(value)))
      ++at;
    CHECK(at < r->fields.size());
    ++at;
  }
  CHECK(count(*r, "server") == 1 || resp.headers.count("server") > 1);
  CHECK(count(*r, "date") == 1 || resp.headers.count("date") > 1);
  CHECK(count(*r, "content-length") + count(*r, "transfer-encoding") <= 1);
  CHECK(count(*r, "connection") <= 1);
  return 0;
}
