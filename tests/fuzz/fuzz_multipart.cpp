// libFuzzer target: the multipart/form-data parser (framework/src/multipart.cpp).
//
// Input: byte 0 picks the feed sizes, the rest is a body under the boundary "b0undary".
// Checked:
//   - the events (part heads, each part's data, ends) and the outcome are the same whether
//     the body is fed whole or in pieces of 1..N bytes: no state depends on where a read
//     ended;
//   - no part's data contains the delimiter, and a part's data ends before one;
//   - after a failure, feed() keeps failing and no event follows;
//   - a round trip: the input cut at 0xff into field values, encoded as a multipart body
//     (values free of the boundary), parses back into the same fields.
#include <grove/web/multipart.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace web = grove::web;

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_multipart: invariant broken: %s\n", what);
  std::abort();
}
#define CHECK(cond)           \
  do {                        \
    if (!(cond)) fail(#cond); \
  } while (0)

const std::string kBoundary = "b0undary";

struct Outcome {
  std::vector<std::string>
      events;  // "part name|filename|type", "data <bytes>" merged per part, "end"
  bool ok = true;
  bool finished = false;
  bool too_large = false;
  std::string error;
  bool operator==(const Outcome&) const = default;
};

Outcome run(std::string_view body, std::size_t piece) {
  Outcome o;
  web::MultipartLimits limits;
  limits.max_parts = 8;
  limits.max_header_bytes = 256;
  limits.max_preamble = 512;
  web::MultipartParser p(kBoundary, limits);
  bool failed = false;
  std::string data;
  p.on_part = [&](const web::PartHead& h) {
    CHECK(!failed);
    o.events.push_back("part " + h.name + "|" + h.filename.value_or("-") + "|" + h.content_type);
    data.clear();
  };
  p.on_data = [&](std::string_view d) {
    CHECK(!failed);
    CHECK(!d.empty());
    data.append(d);
  };
  p.on_part_end = [&] {
    CHECK(!failed);
    CHECK(data.find("\r\n--" + kBoundary) == std::string::npos);
    o.events.push_back("data " + data);
    o.events.push_back("end");
  };
  for (std::size_t at = 0; at < body.size(); at += piece) {
    if (!p.feed(body.substr(at, piece))) {
      failed = true;
      o.ok = false;
      break;
    }
  }
  if (failed) CHECK(!p.feed("more"));
  if (o.ok) o.finished = p.finish();
  o.too_large = p.too_large();
  o.error = p.error();
  return o;
}

void round_trip(std::string_view input) {
  std::vector<std::string> values;
  std::size_t start = 0;
  while (start <= input.size() && values.size() < 6) {
    std::size_t cut = input.find('\xff', start);
    values.emplace_back(
        input.substr(start, cut == std::string_view::npos ? std::string_view::npos : cut - start));
    if (cut == std::string_view::npos) break;
    start = cut + 1;
  }
  for (const auto& v : values)
    if (v.find(kBoundary) != std::string::npos || v.size() > 4096) return;
  std::string body = "preamble\r\n";
  for (std::size_t i = 0; i < values.size(); ++i)
    body += "--" + kBoundary + "\r\nContent-Disposition: form-data; name=\"f" + std::to_string(i) +
            "\"\r\n\r\n" + values[i] + "\r\n";
  body += "--" + kBoundary + "--\r\nepilogue";
  web::MultipartLimits limits;
  web::MultipartParser p(kBoundary, limits);
  std::vector<std::string> got;
  std::string cur;
  p.on_part = [&](const web::PartHead&) { cur.clear(); };
  p.on_data = [&](std::string_view d) { cur.append(d); };
  p.on_part_end = [&] { got.push_back(cur); };
  CHECK(p.feed(body));
  CHECK(p.finish());
  CHECK(got == values);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::size_t piece = 1 + data[0] % 64;
  Outcome whole = run(body, body.size() ? body.size() : 1);
  Outcome pieces = run(body, piece);
  CHECK(whole == pieces);
  round_trip(body);
  return 0;
}
