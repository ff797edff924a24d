// Conditional and range requests (RFC 9110 §13 and §14), for file responses.
#include "conditional.hpp"

#include <charconv>
#include <cstring>

namespace grove::web::detail {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::optional<std::uint64_t> parse_digits(std::string_view s) {
  if (s.empty()) return std::nullopt;
  std::uint64_t v = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

std::string_view strip_weak(std::string_view tag) {
  return tag.starts_with("W/") ? tag.substr(2) : tag;
}

// The preconditions, in RFC 9110 §13.2.2's order: 412, 304, or 0 to go on.
int precondition_status(const Request& req, std::string_view etag, std::time_t mtime) {
  const Headers& h = req.headers();
  const bool get_or_head = req.method() == "GET" || req.method() == "HEAD";
  if (auto m = h.get("If-Match")) {
    if (!etag_matches(*m, etag, false)) return 412;
  } else if (auto d = h.get("If-Unmodified-Since")) {
    if (auto t = parse_http_date(*d); t && mtime > *t) return 412;
  }
  if (auto m = h.get("If-None-Match")) {
    if (etag_matches(*m, etag, true)) return get_or_head ? 304 : 412;
  } else if (auto d = h.get("If-Modified-Since"); d && get_or_head) {
    if (auto t = parse_http_date(*d); t && mtime <= *t) return 304;
  }
  return 0;
}

// If-Range: the range applies only while the file is the one the client has a part of
// (a strong ETag match, or exactly its Last-Modified date).
bool if_range_holds(const Request& req, std::string_view etag, std::time_t mtime) {
  auto f = req.headers().get("If-Range");
  if (!f) return true;
  std::string_view v = trim(*f);
  if (v.starts_with("\"") || v.starts_with("W/")) return !v.starts_with("W/") && v == etag;
  auto t = parse_http_date(v);
  return t && *t == mtime;
}

// What a 304 keeps (RFC 9110 §15.4.5): the validators and caching fields, not the body's.
void to_not_modified(Response& r) {
  r.status = 304;
  r.set_data({});
  r.headers.remove("Content-Type");
  r.headers.remove("Content-Disposition");
  r.headers.remove("Accept-Ranges");
}

}  // namespace

std::string format_http_date(std::time_t t) {
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[64];
  std::size_t n = std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return std::string(buf, n);
}

std::optional<std::time_t> parse_http_date(std::string_view s) {
  std::string text(trim(s));
  // strptime's %a/%b are the C locale's here: grove never calls setlocale for LC_TIME
  // names, and the three forms are English by definition.
  for (const char* format : {"%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT", "%a %b %e %H:%M:%S %Y"}) {
    std::tm tm{};
    const char* end = ::strptime(text.c_str(), format, &tm);
    if (end && *end == '\0') return ::timegm(&tm);
  }
  return std::nullopt;
}

RangeKind parse_range(std::string_view field, std::uint64_t size, ByteRange& out) {
  field = trim(field);
  if (!field.starts_with("bytes=")) return RangeKind::none;
  std::string_view spec = trim(field.substr(6));
  if (spec.find(',') != std::string_view::npos) return RangeKind::none;  // several: the whole file
  std::size_t dash = spec.find('-');
  if (dash == std::string_view::npos) return RangeKind::none;
  std::string_view a = trim(spec.substr(0, dash)), b = trim(spec.substr(dash + 1));
  if (a.empty()) {  // a suffix: the last n bytes
    auto n = parse_digits(b);
    if (!n) return RangeKind::none;
    if (*n == 0 || size == 0) return RangeKind::unsatisfiable;
    out = {size - std::min(*n, size), size - 1};
    return RangeKind::single;
  }
  auto first = parse_digits(a);
  if (!first) return RangeKind::none;
  std::uint64_t last = size == 0 ? 0 : size - 1;
  if (!b.empty()) {
    auto l = parse_digits(b);
    if (!l || *l < *first) return RangeKind::none;
    last = std::min(*l, last);
  }
  if (*first >= size) return RangeKind::unsatisfiable;
  out = {*first, last};
  return RangeKind::single;
}

bool etag_matches(std::string_view list, std::string_view etag, bool weak) {
  if (trim(list) == "*") return true;
  std::string_view mine = weak ? strip_weak(etag) : etag;
  while (!list.empty()) {
    std::size_t comma = list.find(',');
    std::string_view tag = trim(list.substr(0, comma));
    if (weak) tag = strip_weak(tag);
    if (!tag.empty() && !tag.starts_with("W/") && tag == mine) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

void make_conditional(Response& r, const Request& req, std::uint64_t size, std::time_t mtime) {
  const std::string etag = r.headers.get("ETag", "");
  switch (precondition_status(req, etag, mtime)) {
    case 304:
      to_not_modified(r);
      return;
    case 412:
      r = Response("412 Precondition Failed\n", 412, {{"Content-Type", "text/plain; charset=utf-8"}});
      return;
    default:
      break;
  }
  r.headers.set("Accept-Ranges", "bytes");
  auto field = req.headers().get("Range");
  if (!field || req.method() != "GET" || !if_range_holds(req, etag, mtime)) return;
  ByteRange range;
  switch (parse_range(*field, size, range)) {
    case RangeKind::none:
      return;
    case RangeKind::unsatisfiable:
      r = Response("416 Range Not Satisfiable\n", 416, {{"Content-Type", "text/plain; charset=utf-8"}});
      r.headers.set("Content-Range", "bytes */" + std::to_string(size));
      return;
    case RangeKind::single: {
      grove::http::FileBody body = r.take_file();
      body.offset += range.first;
      body.length = range.last - range.first + 1;
      r.set_file(std::move(body));
      r.status = 206;
      r.headers.set("Content-Range", "bytes " + std::to_string(range.first) + "-" +
                                         std::to_string(range.last) + "/" + std::to_string(size));
      return;
    }
  }
}

}  // namespace grove::web::detail
