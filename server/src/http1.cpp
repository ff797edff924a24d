// HTTP/1 framing without I/O: the request-head loop, body decoding, the persistence
// decision, response planning and the response reader (grove/http/detail/http1.hpp).
#include <grove/http/detail/http1.hpp>

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace grove::http::detail {

// --- requests ------------------------------------------------------------------------------

void RequestFramer::reset() noexcept {
  parser_.reset();
  body_kind_ = BodyKind::none;
  remaining_ = 0;
  body_done_ = true;
  body_failed_ = false;
  expect_pending_ = false;
}

RequestFramer::Step RequestFramer::next_head(std::string_view in) {
  switch (parser_.parse(in, head_)) {
    case RequestParser::Status::done: return Step::head;
    case RequestParser::Status::error: error_ = parser_.error(); return Step::error;
    case RequestParser::Status::incomplete: break;
  }
  return Step::need_more;
}

void RequestFramer::begin_body() noexcept {
  body_kind_ = head_.body;
  remaining_ = head_.body == BodyKind::length ? head_.content_length : 0;
  expect_pending_ = head_.expect_continue;
  body_done_ = head_.body == BodyKind::none;
  body_failed_ = false;
  if (body_kind_ == BodyKind::chunked) chunked_.reset();
}

RequestFramer::BodyPiece RequestFramer::decode_body(std::string_view in, std::size_t max) {
  if (body_failed_) return {BodyStatus::error, 0, {}};
  if (body_done_) return {BodyStatus::done, 0, {}};
  if (body_kind_ == BodyKind::length) {
    std::size_t k =
        std::size_t(std::min<std::uint64_t>({std::uint64_t(max), remaining_, in.size()}));
    if (k == 0) return {BodyStatus::need_more, 0, {}};
    remaining_ -= k;
    if (remaining_ == 0) body_done_ = true;
    return {BodyStatus::data, k, in.substr(0, k)};
  }
  std::size_t used = 0;
  while (true) {
    auto r = chunked_.decode(in.substr(used), max);
    used += r.consumed;
    switch (r.status) {
      case ChunkedDecoder::Status::data:
        if (r.data.empty()) continue;
        return {BodyStatus::data, used, r.data};
      case ChunkedDecoder::Status::done: body_done_ = true; return {BodyStatus::done, used, {}};
      case ChunkedDecoder::Status::error:
        body_failed_ = true;
        error_ = chunked_.error();
        return {BodyStatus::error, used, {}};
      case ChunkedDecoder::Status::need_more: return {BodyStatus::need_more, used, {}};
    }
  }
}

bool RequestFramer::continue_due(bool input_buffered) noexcept {
  if (!expect_pending_) return false;
  expect_pending_ = false;
  // A client that has started sending does not wait for it; responses to earlier
  // pipelined requests go out first (the caller flushes them with it).
  return !input_buffered;
}

ParseError RequestFramer::interrupt_body(int status, const char* reason) noexcept {
  body_failed_ = true;
  error_ = ParseError{status, reason};
  return error_;
}

RequestFramer::After RequestFramer::after_response(bool request_keep, bool response_keep,
                                                   bool stopping_idle) const noexcept {
  if (!request_keep || !response_keep || body_failed_ || stopping_idle) return After::close;
  if (body_done_) return After::keep;
  if (expect_pending_) return After::close;  // the client may never send the body
  if (body_kind_ == BodyKind::length && remaining_ <= kDrainLimit) return After::drain;
  return After::close;
}

// --- responses -----------------------------------------------------------------------------

namespace {

bool valid_field_name(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

bool valid_field_value(std::string_view s) {
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7f) return false;
  }
  return true;
}

std::optional<std::uint64_t> parse_uint(std::string_view s, int base = 10) {
  std::uint64_t v = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v, base);
  if (s.empty() || r.ec != std::errc() || r.ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

std::string check_response(const Response& resp) {
  const bool upgrade = resp.status == 101 && resp.upgrade;  // 101 only with its protocol
  if ((resp.status < 200 && !upgrade) || resp.status > 999)
    return "status " + std::to_string(resp.status) +
           " (only final statuses 200-999 can be returned, and 101 with Response::upgrade)";
  for (auto f : resp.headers)
    if (!valid_field_name(f.name) || !valid_field_value(f.value))
      return "invalid header field '" + std::string(f.name) + "' (CR, LF and controls are refused)";
  if (!valid_field_value(resp.reason) || resp.reason.find('\n') != std::string::npos)
    return "invalid reason phrase";
  if (int(resp.streaming()) + int(resp.has_file()) + int(!resp.body.empty()) > 1)
    return "more than one body (set one of body, stream and file)";
  if (resp.streaming()) {
    if (auto cl = resp.headers.get("content-length"); cl && !parse_uint(*cl))
      return "invalid Content-Length for a streamed body";
  }
  return {};
}

ResponsePlan plan_response(const Response& resp, int minor, bool is_head, bool keep) {
  ResponsePlan plan;
  plan.minor = minor;
  plan.is_head = is_head;
  plan.has_body = resp.status != 204 && resp.status != 304;
  plan.streaming = resp.streaming() && plan.has_body;
  plan.file = resp.has_file() && plan.has_body;
  if (auto conn = resp.headers.get("connection")) {
    std::string_view v = *conn;
    if (v.size() >= 5 && iequals(v.substr(0, 5), "close")) keep = false;
  }
  if (resp.has_file()) {
    plan.length = resp.file.length;
  } else if (!plan.streaming) {
    plan.length = resp.body.size();
  } else if (auto cl = resp.headers.get("content-length")) {
    plan.length = parse_uint(*cl).value_or(0);
  } else if (minor >= 1) {
    plan.chunked = true;
  } else if (!is_head) {
    // HTTP/1.0 cannot frame a stream of unknown length except by closing (HEAD sends no
    // body, so it needs no close).
    keep = false;
  }
  plan.keep = keep;
  return plan;
}

void append_file(std::string& out, const FileBody& f) {
  std::size_t at = out.size();
  out.resize(at + std::size_t(f.length));
  std::uint64_t done = 0;
  while (done < f.length) {
    ssize_t n = ::pread(f.file->fd(), out.data() + at + done, std::size_t(f.length - done),
                        off_t(f.offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      out.resize(at);
      throw std::runtime_error(n == 0 ? "the file ended before the bytes of the response body"
                                      : std::string("cannot read the file of a response body: ") +
                                            std::strerror(errno));
    }
    done += std::uint64_t(n);
  }
}

std::string error_body(int status, std::string_view reason) {
  std::string body = std::to_string(status);
  body += ' ';
  body += reason_phrase(status);
  if (!reason.empty()) {
    body += ": ";
    body += reason;
  }
  body += '\n';
  return body;
}

// --- reading responses ---------------------------------------------------------------------

std::optional<std::string_view> ParsedResponse::field(std::string_view name) const {
  for (const auto& [n, v] : fields)
    if (iequals(n, name)) return std::string_view(v);
  return std::nullopt;
}

std::optional<ParsedResponse> parse_response(std::string_view bytes, bool head_request) {
  std::size_t end = bytes.find("\r\n\r\n");
  if (end == bytes.npos) return std::nullopt;
  std::string_view head = bytes.substr(0, end + 2);
  ParsedResponse r;
  std::size_t eol = head.find("\r\n");
  std::string_view line = head.substr(0, eol);
  if (line.size() < 12 || line.substr(0, 9) != "HTTP/1.1 " || line[12] != ' ') return std::nullopt;
  auto status = parse_uint(line.substr(9, 3));
  if (!status) return std::nullopt;
  r.status = int(*status);
  r.reason.assign(line.substr(13));
  head.remove_prefix(eol + 2);
  while (!head.empty()) {
    eol = head.find("\r\n");
    std::string_view f = head.substr(0, eol);
    head.remove_prefix(eol + 2);
    std::size_t colon = f.find(':');
    if (colon == f.npos || colon == 0) return std::nullopt;
    std::string_view value = f.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
      value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    r.fields.emplace_back(f.substr(0, colon), value);
  }
  if (auto c = r.field("connection"); c && iequals(*c, "close")) r.keep_alive = false;
  std::size_t pos = end + 4;
  const bool no_body = head_request || r.status == 204 || r.status == 304 || r.status < 200;
  auto te = r.field("transfer-encoding");
  auto cl = r.field("content-length");
  if (no_body) {
  } else if (te) {
    if (!iequals(*te, "chunked")) return std::nullopt;
    r.chunked = true;
    Limits unlimited;
    unlimited.max_body = std::uint64_t(-1);
    unlimited.max_chunk_line = std::size_t(-1) / 2;
    unlimited.max_header_bytes = std::size_t(-1) / 2;
    unlimited.max_header_count = std::size_t(-1) / 2;
    ChunkedDecoder dec(unlimited);
    while (true) {
      auto res = dec.decode(bytes.substr(pos));
      pos += res.consumed;
      if (res.status == ChunkedDecoder::Status::data) {
        r.body.append(res.data);
        continue;
      }
      if (res.status == ChunkedDecoder::Status::done) break;
      return std::nullopt;
    }
  } else if (cl) {
    auto n = parse_uint(*cl);
    if (!n || bytes.size() - pos < *n) return std::nullopt;
    r.body.assign(bytes.substr(pos, std::size_t(*n)));
    pos += std::size_t(*n);
  } else {
    r.body.assign(bytes.substr(pos));  // delimited by the close
    pos = bytes.size();
  }
  r.size = pos;
  return r;
}

}  // namespace grove::http::detail

// --- parse_stream: the framer over one buffer ----------------------------------------------

namespace grove::http {

ParsedRequest own(const RequestHead& head) {
  ParsedRequest r;
  r.method = head.method;
  r.target = head.target;
  r.path = head.path;
  r.query = head.query;
  r.host = head.host;
  r.minor = head.minor;
  for (const auto& f : head.fields) r.fields.emplace_back(f.name, f.value);
  r.body_kind = head.body;
  r.keep_alive = head.keep_alive;
  r.expect_continue = head.expect_continue;
  return r;
}

// The server's loop with the whole input already buffered: where the server would read
// more, the stream is incomplete.
StreamResult parse_stream(std::string_view bytes, const Limits& limits) {
  using detail::RequestFramer;
  StreamResult out;
  RequestFramer framer(limits);
  std::size_t off = 0;
  auto stop = [&](RequestParser::Status end, const ParseError& error = {}) {
    out.end = end;
    out.error = error;
    return out;
  };
  while (off < bytes.size()) {
    framer.reset();
    std::string_view rest = bytes.substr(off);
    auto step = framer.next_head(rest);
    if (step == RequestFramer::Step::need_more) return stop(RequestParser::Status::incomplete);
    if (step == RequestFramer::Step::error)
      return stop(RequestParser::Status::error, framer.error());
    ParsedRequest r = own(framer.head());
    std::size_t pos = framer.head().size;
    framer.begin_body();
    while (!framer.body_done()) {
      auto piece = framer.decode_body(rest.substr(pos));
      pos += piece.consumed;
      if (piece.status == RequestFramer::BodyStatus::data) r.body.append(piece.data);
      else if (piece.status == RequestFramer::BodyStatus::error)
        return stop(RequestParser::Status::error, framer.error());
      else if (piece.status == RequestFramer::BodyStatus::need_more)
        return stop(RequestParser::Status::incomplete);
    }
    off += pos;
    out.consumed = off;
    bool keep = r.keep_alive;
    out.requests.push_back(std::move(r));
    if (!keep) break;
  }
  return stop(RequestParser::Status::done);
}

}  // namespace grove::http
