// libFuzzer target: the HTTP/1.1 request parser and framer (server/src/parser.cpp).
//
// Input: one control byte, a list of split sizes, then the bytes a client sends.
//   byte 0, bits 0-3: how many split-size bytes follow (0-15); bit 4: small limits (so the
//   fuzzer reaches every 413/414/431 path with short inputs); bits 5-7: max_data for the
//   chunked decoder (0: unbounded, else 1 << k).
// The stream is framed twice: by parse_stream() in one call, and by an incremental framer
// that delivers it in pieces of the fuzzer's sizes, copies the unconsumed bytes to a new
// buffer before every call (they "may have moved"), and drives RequestParser::parse and
// ChunkedDecoder::decode the way the server does. Both must give the same requests, the
// same end, the same error and the same consumed count. Then the documented invariants
// of each request are checked, and every accepted request, written out again in a
// canonical form, must parse back to itself.
#include <grove/http/headers.hpp>
#include <grove/http/parser.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

using namespace grove::http;

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_http_parser: invariant broken: %s\n", what);
  std::abort();
}
#define CHECK(cond)           \
  do {                        \
    if (!(cond)) fail(#cond); \
  } while (0)

bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
    if (!ok || c == 0) return false;
  }
  return true;
}

bool same(const ParsedRequest& a, const ParsedRequest& b) {
  return a.method == b.method && a.target == b.target && a.path == b.path && a.query == b.query &&
         a.host == b.host && a.minor == b.minor && a.fields == b.fields &&
         a.body_kind == b.body_kind && a.body == b.body && a.keep_alive == b.keep_alive &&
         a.expect_continue == b.expect_continue;
}

void check_same(const StreamResult& a, const StreamResult& b) {
  CHECK(a.requests.size() == b.requests.size());
  for (std::size_t i = 0; i < a.requests.size(); ++i) CHECK(same(a.requests[i], b.requests[i]));
  CHECK(a.end == b.end);
  CHECK(a.consumed == b.consumed);
  CHECK(a.error.status == b.error.status);
  if (a.end == RequestParser::Status::error)
    CHECK(std::strcmp(a.error.reason, b.error.reason) == 0);
}

// The stream arrives in pieces; `received` is how much of it the server has read.
struct Delivery {
  std::string_view stream;
  const std::uint8_t* sizes;
  std::size_t nsizes;
  std::size_t next = 0;
  std::size_t received = 0;

  bool all() const { return received == stream.size(); }
  void more() {
    std::size_t step = nsizes ? std::size_t(sizes[next++ % nsizes]) + 1 : stream.size();
    received = std::min(stream.size(), received + step);
  }
};

StreamResult frame_incrementally(Delivery& d, const Limits& limits, std::size_t max_data) {
  StreamResult out;
  RequestParser parser(limits);
  ChunkedDecoder decoder(limits);
  RequestHead head;
  std::size_t off = 0;
  d.more();
  while (true) {
    if (off == d.stream.size()) {
      out.end = RequestParser::Status::done;
      return out;
    }
    parser.reset();
    ParsedRequest r;
    std::size_t pos = off;
    std::uint64_t content_length = 0;
    while (true) {
      std::string window(d.stream.substr(off, d.received - off));  // a new address each time
      auto status = parser.parse(window, head);
      if (status == RequestParser::Status::done) {
        CHECK(head.size > 0 && head.size <= window.size());
        CHECK(head.method.data() >= window.data() &&
              head.method.data() + head.method.size() <= window.data() + window.size());
        r = own(head);
        pos = off + head.size;
        content_length = head.content_length;
        break;
      }
      if (status == RequestParser::Status::error) {
        out.end = status;
        out.error = parser.error();
        CHECK(out.error.status >= 400 && out.error.status <= 505);
        // Sticky: after an error nothing more is parsed, whatever comes next.
        RequestHead again;
        CHECK(parser.parse(d.stream.substr(off), again) == RequestParser::Status::error);
        CHECK(parser.error().status == out.error.status);
        return out;
      }
      if (d.all()) {
        out.end = RequestParser::Status::incomplete;
        return out;
      }
      d.more();
    }
    if (r.body_kind == BodyKind::length) {
      CHECK(content_length > 0 && content_length <= limits.max_body);
      while (d.received - pos < content_length && !d.all()) d.more();
      if (d.received - pos < content_length) {
        out.end = RequestParser::Status::incomplete;
        return out;
      }
      r.body.assign(d.stream.substr(pos, std::size_t(content_length)));
      pos += std::size_t(content_length);  // exactly the body, not a byte more
    } else if (r.body_kind == BodyKind::chunked) {
      decoder.reset();
      while (true) {
        std::string piece(d.stream.substr(pos, d.received - pos));
        auto res = decoder.decode(piece, max_data);
        CHECK(res.consumed <= piece.size());
        pos += res.consumed;
        if (res.status == ChunkedDecoder::Status::data) {
          CHECK(!res.data.empty() && res.data.size() <= max_data);
          r.body.append(res.data);
          CHECK(r.body.size() <= limits.max_body);
          continue;
        }
        if (res.status == ChunkedDecoder::Status::done) {
          CHECK(decoder.done() && decoder.body_size() == r.body.size());
          // Done is final: nothing more is consumed.
          auto after = decoder.decode("0\r\n\r\n");
          CHECK(after.status == ChunkedDecoder::Status::done && after.consumed == 0);
          break;
        }
        if (res.status == ChunkedDecoder::Status::error) {
          out.end = RequestParser::Status::error;
          out.error = decoder.error();
          CHECK(out.error.status == 400 || out.error.status == 413 || out.error.status == 431);
          auto after = decoder.decode("0\r\n\r\n");
          CHECK(after.status == ChunkedDecoder::Status::error && after.consumed == 0);
          return out;
        }
        CHECK(res.consumed == piece.size());  // need_more: everything given was used
        if (d.all()) {
          out.end = RequestParser::Status::incomplete;
          return out;
        }
        d.more();
      }
    }
    off = pos;
    out.consumed = off;
    bool keep = r.keep_alive;
    out.requests.push_back(std::move(r));
    if (!keep) {
      out.end = RequestParser::Status::done;
      return out;
    }
  }
}

bool has_field(const ParsedRequest& r, std::string_view name) {
  for (const auto& [n, v] : r.fields)
    if (iequals(n, name)) return true;
  return false;
}

// One request as a well-behaved client would send it: no leading empty lines, fields as
// parsed (OWS trimmed), the body in one chunk when chunked.
std::string serialize(const ParsedRequest& r) {
  std::string s = r.method + " " + r.target + (r.minor ? " HTTP/1.1\r\n" : " HTTP/1.0\r\n");
  for (const auto& [n, v] : r.fields) s += n + ":" + v + "\r\n";  // never longer than sent
  s += "\r\n";
  if (r.body_kind == BodyKind::chunked) {
    if (!r.body.empty()) {
      char size[32];
      std::snprintf(size, sizeof size, "%zx\r\n", r.body.size());
      s += size + r.body + "\r\n";
    }
    s += "0\r\n\r\n";
  } else {
    s += r.body;
  }
  return s;
}

void check_request(const ParsedRequest& r, const Limits& limits) {
  CHECK(is_token(r.method));
  CHECK(!r.target.empty() && r.target.size() <= limits.max_request_line);
  for (unsigned char c : r.target) CHECK(c > 0x20 && c < 0x7f && c != '#');
  CHECK(r.minor == 0 || r.minor == 1);
  CHECK(r.fields.size() <= limits.max_header_count);
  for (const auto& [n, v] : r.fields) {
    CHECK(is_token(n));
    for (unsigned char c : v) CHECK(c == '\t' || (c >= 0x20 && c != 0x7f));
    CHECK(v.empty() ||
          (v.front() != ' ' && v.front() != '\t' && v.back() != ' ' && v.back() != '\t'));
  }
  // Never both framings; chunked only on HTTP/1.1.
  CHECK(!(has_field(r, "content-length") && has_field(r, "transfer-encoding")));
  if (r.body_kind == BodyKind::chunked) CHECK(r.minor == 1 && has_field(r, "transfer-encoding"));
  if (has_field(r, "transfer-encoding")) CHECK(r.body_kind == BodyKind::chunked);
  if (r.body_kind == BodyKind::length) CHECK(!r.body.empty() && has_field(r, "content-length"));
  if (r.body_kind == BodyKind::none) CHECK(r.body.empty());
  CHECK(r.body.size() <= limits.max_body);
  if (r.minor == 1) CHECK(has_field(r, "host") || !r.host.empty());
  if (r.expect_continue) CHECK(r.minor == 1 && r.body_kind != BodyKind::none);
  CHECK(r.path.find("%00") == std::string::npos);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  std::uint8_t control = data[0];
  std::size_t nsizes = control & 15;
  if (size < 1 + nsizes) return 0;
  const std::uint8_t* sizes = data + 1;
  std::string_view stream(reinterpret_cast<const char*>(data + 1 + nsizes), size - 1 - nsizes);

  Limits limits;
  if (control & 16) {
    limits.max_request_line = 64;
    limits.max_header_bytes = 256;
    limits.max_header_count = 4;
    limits.max_body = 64;
    limits.max_chunk_line = 16;
    limits.max_leading_empty_lines = 2;
  }
  unsigned k = control >> 5;
  std::size_t max_data = k ? std::size_t(1) << k : std::size_t(-1);

  StreamResult one = parse_stream(stream, limits);

  // What the result says about the stream.
  CHECK(one.consumed <= stream.size());
  if (one.end == RequestParser::Status::done &&
      !(one.requests.size() && !one.requests.back().keep_alive))
    CHECK(one.consumed == stream.size());
  if (one.end == RequestParser::Status::error) CHECK(one.error.status >= 400);
  else CHECK(one.error.status == 0);
  for (std::size_t i = 0; i + 1 < one.requests.size(); ++i) CHECK(one.requests[i].keep_alive);
  for (const auto& r : one.requests) check_request(r, limits);

  // Whatever the pieces, the same result.
  Delivery d{stream, sizes, nsizes};
  StreamResult inc = frame_incrementally(d, limits, max_data);
  check_same(one, inc);

  // An error stays with the bytes that caused it: the stream cut just after the consumed
  // requests gives the same requests and ends cleanly.
  {
    StreamResult prefix = parse_stream(stream.substr(0, one.consumed), limits);
    CHECK(prefix.requests.size() == one.requests.size());
    CHECK(prefix.end == RequestParser::Status::done);
  }

  // Accepted requests, written out again, parse back to themselves.
  std::string again;
  for (const auto& r : one.requests) again += serialize(r);
  if (!one.requests.empty()) {
    StreamResult re = parse_stream(again, limits);
    CHECK(re.end == RequestParser::Status::done);
    CHECK(re.requests.size() == one.requests.size());
    for (std::size_t i = 0; i < re.requests.size(); ++i)
      CHECK(same(re.requests[i], one.requests[i]));
  }
  return 0;
}
