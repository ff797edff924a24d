#include <grove/http/gateway.hpp>

#include "chars.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace grove::http {

std::string_view reason_phrase(int status) noexcept {
  switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 203: return "Non-Authoritative Information";
    case 204: return "No Content";
    case 205: return "Reset Content";
    case 206: return "Partial Content";
    case 300: return "Multiple Choices";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 407: return "Proxy Authentication Required";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 418: return "I'm a teapot";
    case 421: return "Misdirected Request";
    case 422: return "Unprocessable Content";
    case 425: return "Too Early";
    case 426: return "Upgrade Required";
    case 428: return "Precondition Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 451: return "Unavailable For Legal Reasons";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}

namespace {
// The one percent-decoder. Strict: stops at the first malformed escape and returns false.
// Lenient: keeps each malformed escape as it was and goes on.
bool decode_into(std::string_view s, bool plus_is_space, bool strict, std::string& out) {
  out.reserve(out.size() + s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%') {
      if (i + 2 < s.size() && chars::hex(s[i + 1]) && chars::hex(s[i + 2])) {
        out += char(chars::hex_value(s[i + 1]) * 16 + chars::hex_value(s[i + 2]));
        i += 2;
      } else if (strict) {
        return false;
      } else {
        out += c;
      }
    } else if (c == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return true;
}
}  // namespace

std::optional<std::string> url_decode(std::string_view s, bool plus_is_space) {
  std::string out;
  if (!decode_into(s, plus_is_space, true, out)) return std::nullopt;
  return out;
}

std::string url_decode_lenient(std::string_view s, bool plus_is_space) {
  std::string out;
  decode_into(s, plus_is_space, false, out);
  return out;
}

std::vector<std::pair<std::string, std::string>> parse_query(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> out;
  std::size_t start = 0;
  while (start <= query.size()) {
    std::size_t amp = query.find('&', start);
    std::string_view pair = query.substr(start, amp == query.npos ? query.npos : amp - start);
    if (!pair.empty()) {
      std::size_t eq = pair.find('=');
      if (eq == pair.npos) out.emplace_back(url_decode_lenient(pair, true), std::string());
      else
        out.emplace_back(url_decode_lenient(pair.substr(0, eq), true),
                         url_decode_lenient(pair.substr(eq + 1), true));
    }
    if (amp == query.npos) break;
    start = amp + 1;
  }
  return out;
}

// --- Request ---------------------------------------------------------------------------

Request::Request(std::string_view method, std::string_view target, Headers headers,
                 std::string body, Version version) {
  Parts parts;
  parts.method = method;
  parts.target = target;
  parts.version = version;
  reset(parts);
  headers_ = std::move(headers);
  keep_alive_ = false;
  if (auto h = headers_.get("host")) host_.assign(*h);
  own_body_ = std::move(body);
  own_pos_ = 0;
  auto te = headers_.get("transfer-encoding");
  chunked_ = te && iequals(*te, "chunked");
  if (!chunked_) {
    if (!headers_.contains("content-length") && !own_body_.empty())
      headers_.set("Content-Length", std::to_string(own_body_.size()));
    content_length_ = own_body_.size();
  }
  body_done_ = own_body_.empty();
}

Request::Request(Request&& o) noexcept { *this = std::move(o); }

Request& Request::operator=(Request&& o) noexcept {
  if (this == &o) return *this;
  // raw_path_ and query_ view into target_, which may move with SSO: recompute them.
  method_ = std::move(o.method_);
  target_ = std::move(o.target_);
  path_ = std::move(o.path_);
  host_ = std::move(o.host_);
  remote_addr_ = std::move(o.remote_addr_);
  version_ = o.version_;
  headers_ = std::move(o.headers_);
  remote_port_ = o.remote_port_;
  keep_alive_ = o.keep_alive_;
  chunked_ = o.chunked_;
  body_done_ = o.body_done_;
  content_length_ = o.content_length_;
  reader_ = o.reader_;
  tls_ = o.tls_;
  own_body_ = std::move(o.own_body_);
  own_pos_ = o.own_pos_;
  o.reader_ = nullptr;
  split_target();
  return *this;
}

Request::~Request() = default;

void Request::split_target() {
  std::string_view t = target_;
  query_ = {};
  if (t == "*") {
    raw_path_ = t;
    return;
  }
  std::string_view rest;
  if (!t.empty() && t[0] == '/') {
    rest = t;
  } else {
    std::size_t scheme_end = t.find("://");
    if (scheme_end == t.npos) {  // authority form (CONNECT), or a hand-made oddity
      raw_path_ = {};
      return;
    }
    std::string_view after = t.substr(scheme_end + 3);
    std::size_t auth_end = after.find_first_of("/?");
    if (auth_end != after.npos) rest = after.substr(auth_end);
  }
  std::size_t q = rest.find('?');
  raw_path_ = rest.substr(0, q);
  if (q != rest.npos) query_ = rest.substr(q + 1);
  if (raw_path_.empty()) raw_path_ = "/";
}

void Request::reset(const Parts& parts) {
  method_.assign(parts.method);
  target_.assign(parts.target);
  version_ = parts.version;
  keep_alive_ = parts.keep_alive;
  chunked_ = parts.chunked;
  content_length_ = parts.content_length;
  body_done_ = !parts.chunked && parts.content_length == 0;
  host_.clear();
  headers_.clear();
  reader_ = nullptr;
  own_body_.clear();
  own_pos_ = 0;
  split_target();
  if (raw_path_.find('%') == std::string_view::npos) {
    path_.assign(raw_path_);
  } else {
    auto decoded = url_decode(raw_path_);
    if (!decoded) throw HttpError(400, "malformed percent-encoding in the path");
    if (decoded->find('\0') != std::string::npos) throw HttpError(400, "encoded NUL in the path");
    path_ = std::move(*decoded);
  }
}

std::size_t Request::read(char* buf, std::size_t n) {
  if (body_done_ || n == 0) return 0;
  std::size_t got;
  if (reader_) {
    got = reader_->read(buf, n);
  } else {
    got = std::min(n, own_body_.size() - own_pos_);
    std::memcpy(buf, own_body_.data() + own_pos_, got);
    own_pos_ += got;
  }
  if (got == 0) body_done_ = true;
  return got;
}

std::string Request::read_body(std::size_t limit) {
  std::string out;
  if (!chunked_ && content_length_ > 0 && content_length_ <= limit)
    out.reserve(std::size_t(content_length_));
  char buf[16 * 1024];
  while (true) {
    std::size_t got = read(buf, sizeof buf);
    if (got == 0) break;
    if (out.size() + got > limit) throw HttpError(413, "request body larger than the limit");
    out.append(buf, got);
  }
  return out;
}

// --- Response --------------------------------------------------------------------------

OpenFile::~OpenFile() {
  if (fd_ >= 0) ::close(fd_);
}

Response::Response(int status_code, std::string body_text, std::string_view content_type)
    : status(status_code), body(std::move(body_text)) {
  if (!content_type.empty()) headers.add("Content-Type", content_type);
}

Response Response::text(std::string body_text, int status_code) {
  return Response(status_code, std::move(body_text), "text/plain; charset=utf-8");
}

Response Response::html(std::string body_text, int status_code) {
  return Response(status_code, std::move(body_text), "text/html; charset=utf-8");
}

Response Response::json(std::string json_text, int status_code) {
  return Response(status_code, std::move(json_text), "application/json");
}

Response Response::streamed(Stream producer, int status_code, std::string_view content_type) {
  Response r(status_code, {}, content_type);
  r.stream = std::move(producer);
  return r;
}

Response Response::from_source(Source source, int status_code, std::string_view content_type) {
  return streamed(
      [src = std::move(source)](BodyWriter& w) mutable {
        while (auto piece = src()) {
          if (!piece->empty()) w.write(*piece);
        }
      },
      status_code, content_type);
}

}  // namespace grove::http
