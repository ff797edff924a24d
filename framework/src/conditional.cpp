// Conditional and range requests (RFC 9110 §13 and §14), for file responses.
#include "conditional.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <stdexcept>
#include <vector>

namespace grove::web::detail {
namespace {

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
  std::string_view v = trim_ows(*f);
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

std::string random_boundary() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  char buf[40];
  std::snprintf(buf, sizeof buf, "grove-%016llx", static_cast<unsigned long long>(rng()));
  return buf;
}

// A multipart/byteranges body (RFC 9110 §14.6) over the file: each part's head, then its
// bytes read piece by piece with pread (never the whole range in memory), then the close.
class ByteRangesSource {
 public:
  ByteRangesSource(grove::http::FileBody file, const std::vector<ByteRange>& ranges,
                   std::string_view type, std::uint64_t size)
      : file_(std::move(file)), boundary_(random_boundary()) {
    for (const auto& r : ranges) {
      std::string head = "\r\n--" + boundary_ + "\r\nContent-Type: " + std::string(type) +
                         "\r\nContent-Range: bytes " + std::to_string(r.first) + "-" +
                         std::to_string(r.last) + "/" + std::to_string(size) + "\r\n\r\n";
      length_ += head.size() + r.length();
      parts_.push_back({std::move(head), r});
    }
    length_ += closing().size();
  }

  const std::string& boundary() const { return boundary_; }
  std::uint64_t length() const { return length_; }

  std::optional<std::string> operator()() {
    if (part_ == parts_.size()) {
      if (closed_) return std::nullopt;
      closed_ = true;
      return closing();
    }
    Part& p = parts_[part_];
    if (!head_sent_) {
      head_sent_ = true;
      return p.head;
    }
    const std::uint64_t left = p.range.length() - done_;
    std::string chunk(static_cast<std::size_t>(std::min<std::uint64_t>(left, kChunk)), '\0');
    const auto at = static_cast<off_t>(file_.offset + p.range.first + done_);
    ssize_t n;
    do n = ::pread(file_.file->fd(), chunk.data(), chunk.size(), at);
    while (n < 0 && errno == EINTR);
    if (n <= 0)  // the file shrank under the response: end it short (the connection closes)
      throw std::runtime_error("multipart/byteranges: the file ended before the range did");
    chunk.resize(static_cast<std::size_t>(n));
    done_ += static_cast<std::uint64_t>(n);
    if (done_ == p.range.length()) ++part_, done_ = 0, head_sent_ = false;
    return chunk;
  }

 private:
  static constexpr std::uint64_t kChunk = 64 * 1024;
  struct Part {
    std::string head;
    ByteRange range;
  };
  std::string closing() const { return "\r\n--" + boundary_ + "--\r\n"; }

  grove::http::FileBody file_;
  std::string boundary_;
  std::vector<Part> parts_;
  std::uint64_t length_ = 0;
  std::size_t part_ = 0;
  std::uint64_t done_ = 0;
  bool head_sent_ = false;
  bool closed_ = false;
};

void to_single_range(Response& r, const ByteRange& range, std::uint64_t size) {
  grove::http::FileBody body = r.take_file();
  body.offset += range.first;
  body.length = range.length();
  r.set_file(std::move(body));
  r.status = 206;
  r.headers.set("Content-Range", "bytes " + std::to_string(range.first) + "-" +
                                     std::to_string(range.last) + "/" + std::to_string(size));
}

void to_byteranges(Response& r, const std::vector<ByteRange>& ranges, std::uint64_t size) {
  auto source = std::make_shared<ByteRangesSource>(
      r.take_file(), ranges, r.headers.get("Content-Type", "application/octet-stream"), size);
  Response out = Response::stream([source] { return (*source)(); }, 206);
  out.headers = std::move(r.headers);
  out.headers.set("Content-Type", "multipart/byteranges; boundary=" + source->boundary());
  out.headers.set("Content-Length", std::to_string(source->length()));
  r = std::move(out);
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
  std::string text(trim_ows(s));
  // strptime's %a/%b are the C locale's here: grove never calls setlocale for LC_TIME
  // names, and the three forms are English by definition.
  for (const char* format :
       {"%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT", "%a %b %e %H:%M:%S %Y"}) {
    std::tm tm{};
    const char* end = ::strptime(text.c_str(), format, &tm);
    if (end && *end == '\0') return ::timegm(&tm);
  }
  return std::nullopt;
}

bool etag_matches(std::string_view list, std::string_view etag, bool weak) {
  if (trim_ows(list) == "*") return true;
  std::string_view mine = weak ? strip_weak(etag) : etag;
  while (!list.empty()) {
    std::size_t comma = list.find(',');
    std::string_view tag = trim_ows(list.substr(0, comma));
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
    case 304: to_not_modified(r); return;
    case 412:
      r = Response("412 Precondition Failed\n", 412,
                   {{"Content-Type", "text/plain; charset=utf-8"}});
      return;
    default: break;
  }
  r.headers.set("Accept-Ranges", "bytes");
  auto field = req.headers().get("Range");
  if (!field || req.method() != "GET" || !if_range_holds(req, etag, mtime)) return;
  std::vector<ByteRange> ranges;
  switch (parse_ranges(*field, size, ranges)) {
    case RangeKind::none: return;
    case RangeKind::unsatisfiable:
      r = Response("416 Range Not Satisfiable\n", 416,
                   {{"Content-Type", "text/plain; charset=utf-8"}});
      r.headers.set("Content-Range", "bytes */" + std::to_string(size));
      return;
    case RangeKind::satisfiable:
      if (ranges.size() == 1) to_single_range(r, ranges.front(), size);
      else to_byteranges(r, ranges, size);
      return;
  }
}

}  // namespace grove::web::detail
