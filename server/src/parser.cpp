// The strict HTTP/1.1 request parser. Every rule cites RFC 9112 (messages) or RFC 9110
// (semantics); docs/http-parser.md lists them in one table.
#include <grove/http/headers.hpp>
#include <grove/http/parser.hpp>

#include "chars.hpp"

#include <cstring>

namespace grove::http {

namespace {

constexpr std::string_view kCrlf = "\r\n";

bool iequal(std::string_view a, std::string_view b) { return iequals(a, b); }

// Content-Length = 1*DIGIT; a list of identical values ("42, 42") is the form a recipient
// may accept (RFC 9110 §8.6). Returns false for anything else: signs, inner spaces,
// empty elements, more than 18 digits, or different values.
bool parse_content_length(std::string_view value, std::uint64_t& out) {
  bool have = false;
  std::uint64_t first = 0;
  std::size_t start = 0;
  while (true) {
    std::size_t comma = value.find(',', start);
    std::string_view element = chars::trim_ows(
        value.substr(start, comma == std::string_view::npos ? value.npos : comma - start));
    if (element.empty() || element.size() > 18) return false;
    std::uint64_t v = 0;
    for (char c : element) {
      if (c < '0' || c > '9') return false;
      v = v * 10 + std::uint64_t(c - '0');
    }
    if (have && v != first) return false;
    first = v;
    have = true;
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  out = first;
  return true;
}

// Splits a #token list (RFC 9110 §5.6.1); calls f(token) for each element. Returns false
// on an empty element or a non-token character (a transfer-parameter's ';' included).
template <class F>
bool for_each_token(std::string_view value, F&& f) {
  std::size_t start = 0;
  while (true) {
    std::size_t comma = value.find(',', start);
    std::string_view element = chars::trim_ows(
        value.substr(start, comma == std::string_view::npos ? value.npos : comma - start));
    if (element.empty()) return false;
    for (char c : element)
      if (!chars::tchar(c)) return false;
    f(element);
    if (comma == std::string_view::npos) return true;
    start = comma + 1;
  }
}

bool valid_host(std::string_view host) {
  for (char c : host)
    if (!chars::is(c, chars::kHostChar)) return false;
  return true;
}

bool valid_percent_encoding(std::string_view s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') continue;
    if (i + 2 >= s.size()) return false;
    if (!chars::hex(s[i + 1]) || !chars::hex(s[i + 2])) return false;
    i += 2;
  }
  return true;
}

}  // namespace

void RequestHead::clear() {
  method = target = path = query = host = {};
  minor = 1;
  form = TargetForm::origin;
  fields.clear();
  body = BodyKind::none;
  content_length = 0;
  keep_alive = true;
  expect_continue = false;
  size = 0;
}

void RequestParser::reset() noexcept {
  error_ = {};
  pos_ = line_start_ = fields_start_ = 0;
  have_request_line_ = false;
  method_len_ = target_off_ = target_len_ = 0;
  minor_ = 1;
  fields_.clear();
}

RequestParser::Status RequestParser::fail(int status, const char* reason) {
  error_ = {status, reason};
  return Status::error;
}

RequestParser::Status RequestParser::parse(std::string_view data, RequestHead& head) {
  if (error_.status) return Status::error;
  const std::size_t n = data.size();

  if (!have_request_line_) {
    // RFC 9112 §2.2: a server SHOULD ignore at least one empty line (CRLF) before the
    // request line. Only CRLF; a bare LF or CR there is an error like anywhere else.
    while (true) {
      if (pos_ >= n) return Status::incomplete;
      if (data[pos_] == '\r') {
        if (pos_ + 1 >= n) return Status::incomplete;
        if (data[pos_ + 1] != '\n') return fail(400, "bare CR before the request line");
        if (pos_ / 2 + 1 > limits_.max_leading_empty_lines)
          return fail(400, "too many empty lines before the request line");
        pos_ += 2;
        continue;
      }
      if (data[pos_] == '\n') return fail(400, "bare LF before the request line");
      break;
    }
    line_start_ = pos_;
    // Refuse what cannot become a request line as soon as it shows (a TLS handshake on
    // the plain port, binary noise) instead of waiting for a line end that may not come.
    // The check runs before any other, complete line or not, so that the answer never
    // depends on how the bytes were split (found by fuzz_http_parser: a long line of
    // noise was 414 in one read and 400 in several).
    std::size_t probe = std::min<std::size_t>(n - line_start_, 16);
    for (std::size_t i = 0; i < probe; ++i) {
      char c = data[line_start_ + i];
      if (c == ' ') {
        if (i > 0) break;
        return fail(400, "empty method");
      }
      if (!chars::tchar(c)) {
        if (c == '\r') break;
        return fail(400, "invalid character in the method");
      }
    }
    const char* nl = static_cast<const char*>(std::memchr(data.data() + pos_, '\n', n - pos_));
    if (!nl) {
      if (n - line_start_ > limits_.max_request_line + 1)
        return fail(414, "request line longer than the limit");
      return Status::incomplete;
    }
    std::size_t lf = std::size_t(nl - data.data());
    // The length first, as on incomplete input: an overlong line is 414 however it ends.
    if (lf - line_start_ > limits_.max_request_line + 1)
      return fail(414, "request line longer than the limit");
    if (lf == line_start_ || data[lf - 1] != '\r')
      return fail(400, "request line not terminated by CRLF (bare LF)");
    std::size_t len = lf - 1 - line_start_;
    if (parse_request_line(data.substr(line_start_, len)) == Status::error) return Status::error;
    have_request_line_ = true;
    pos_ = lf + 1;
    fields_start_ = pos_;
  }

  // RFC 9112 §5: field-line = field-name ":" OWS field-value OWS, each ended by CRLF; the
  // header section ends with an empty line.
  while (true) {
    const char* nl = static_cast<const char*>(std::memchr(data.data() + pos_, '\n', n - pos_));
    if (!nl) {
      if (n - fields_start_ > limits_.max_header_bytes)
        return fail(431, "header section larger than the limit");
      return Status::incomplete;
    }
    std::size_t lf = std::size_t(nl - data.data());
    if (lf + 1 - fields_start_ > limits_.max_header_bytes)
      return fail(431, "header section larger than the limit");
    if (lf == pos_ || data[lf - 1] != '\r') return fail(400, "bare LF in the header section");
    std::size_t cr = lf - 1;
    if (cr == pos_) {  // the empty line
      pos_ = lf + 1;
      return finish(data, head);
    }
    if (parse_field_line(data, pos_, cr) == Status::error) return Status::error;
    pos_ = lf + 1;
  }
}

RequestParser::Status RequestParser::parse_request_line(std::string_view line) {
  // request-line = method SP request-target SP HTTP-version (RFC 9112 §3), one SP each.
  std::size_t i = 0;
  while (i < line.size() && chars::tchar(line[i])) ++i;
  if (i == 0)
    return fail(
        400, line.empty() || line[0] == ' ' ? "empty method" : "invalid character in the method");
  if (i == line.size())
    return fail(400, "request line without a target (HTTP/0.9 is not supported)");
  if (line[i] != ' ') return fail(400, "invalid character in the method");
  method_len_ = std::uint32_t(i);
  std::size_t t = ++i;
  while (i < line.size() && line[i] != ' ') {
    unsigned char c = static_cast<unsigned char>(line[i]);
    if (!chars::is(line[i], chars::kTargetChar)) {
      if (c == '#') return fail(400, "fragment in the request target");
      return fail(400, "invalid character in the request target");
    }
    ++i;
  }
  if (i == t) return fail(400, "empty request target or more than one space");
  if (i == line.size())
    return fail(400, "request line without an HTTP version (HTTP/0.9 is not supported)");
  target_off_ = std::uint32_t(line_start_ + t);
  target_len_ = std::uint32_t(i - t);
  std::string_view version = line.substr(i + 1);
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || version[6] != '.' ||
      version[5] < '0' || version[5] > '9' || version[7] < '0' || version[7] > '9')
    return fail(400, "malformed HTTP version");
  int major = version[5] - '0';
  int minor = version[7] - '0';
  if (major != 1) {
    if (major == 2 && line.substr(0, method_len_) == "PRI" && line.substr(t, i - t) == "*")
      return fail(505, "HTTP/2 connection preface: this server speaks HTTP/1.1 only");
    return fail(505, "HTTP version not supported; this server speaks HTTP/1.1");
  }
  // HTTP/1.x with x > 1 is answered as 1.1, the highest minor version we implement.
  minor_ = minor == 0 ? 0 : 1;
  std::string_view target = line.substr(t, i - t);
  if (!valid_percent_encoding(target))
    return fail(400, "malformed percent-encoding in the request target");
  return Status::incomplete;
}

RequestParser::Status RequestParser::parse_field_line(std::string_view data, std::size_t b,
                                                      std::size_t e) {
  const char* p = data.data();
  if (chars::ows(p[b]))
    return fail(400, fields_.empty() ? "whitespace before the first header field"
                                     : "obsolete line folding");
  std::size_t i = b;
  while (i < e && chars::tchar(p[i])) ++i;
  if (i == e) return fail(400, "header field without a colon");
  if (p[i] != ':') {
    if (chars::ows(p[i])) return fail(400, "whitespace between a header field name and the colon");
    if (p[i] == '\0') return fail(400, "NUL in a header field");
    if (p[i] == '\r') return fail(400, "bare CR in a header field");
    return fail(400, "invalid character in a header field name");
  }
  if (i == b) return fail(400, "empty header field name");
  std::size_t name_end = i++;
  while (i < e && chars::ows(p[i])) ++i;
  std::size_t vstart = i;
  for (; i < e; ++i) {
    char c = p[i];
    if (!chars::is(c, chars::kFieldVchar) && !chars::ows(c)) {
      if (c == '\0') return fail(400, "NUL in a header field");
      if (c == '\r') return fail(400, "bare CR in a header field");
      return fail(400, "control character in a header field value");
    }
  }
  std::size_t vend = e;
  while (vend > vstart && chars::ows(p[vend - 1])) --vend;
  if (fields_.size() >= limits_.max_header_count)
    return fail(431, "more header fields than the limit");
  fields_.push_back({std::uint32_t(b), std::uint32_t(name_end - b), std::uint32_t(vstart),
                     std::uint32_t(vend - vstart)});
  return Status::incomplete;
}

RequestParser::Status RequestParser::finish(std::string_view data, RequestHead& head) {
  head.clear();
  const char* p = data.data();
  head.method = data.substr(line_start_, method_len_);
  head.target = data.substr(target_off_, target_len_);
  head.minor = minor_;
  head.fields.reserve(fields_.size());

  int host_count = 0;
  std::string_view host_value;
  int cl_count = 0;
  std::uint64_t content_length = 0;
  bool te_seen = false, chunked_last = false, te_unknown = false, te_bad = false;
  int chunked_count = 0;
  bool conn_close = false, conn_keep_alive = false;
  bool expect_seen = false;
  std::string_view expect_value;

  for (const auto& f : fields_) {
    std::string_view name(p + f.name_off, f.name_len);
    std::string_view value(p + f.value_off, f.value_len);
    head.fields.push_back({name, value});
    switch (name.size()) {
      case 4:
        if (iequal(name, "host")) {
          ++host_count;
          host_value = value;
        }
        break;
      case 6:
        if (iequal(name, "expect")) {
          if (expect_seen) return fail(400, "more than one Expect header");
          expect_seen = true;
          expect_value = value;
        }
        break;
      case 10:
        if (iequal(name, "connection")) {
          // Other connection options (Upgrade, HTTP2-Settings, ...) are not acted upon.
          for_each_token(value, [&](std::string_view token) {
            if (iequal(token, "close")) conn_close = true;
            else if (iequal(token, "keep-alive")) conn_keep_alive = true;
          });
        }
        break;
      case 14:
        if (iequal(name, "content-length")) {
          std::uint64_t v;
          if (!parse_content_length(value, v))
            return fail(400, "invalid Content-Length (not a plain decimal, or conflicting values)");
          if (cl_count && v != content_length)
            return fail(400, "conflicting Content-Length headers");
          ++cl_count;
          content_length = v;
        }
        break;
      case 17:
        if (iequal(name, "transfer-encoding")) {
          te_seen = true;
          bool ok = for_each_token(value, [&](std::string_view coding) {
            if (iequal(coding, "chunked")) {
              ++chunked_count;
              chunked_last = true;
            } else {
              te_unknown = true;
              chunked_last = false;
            }
          });
          if (!ok) te_bad = true;
        }
        break;
      default: break;
    }
  }

  // --- request target (RFC 9112 §3.2) ---
  std::string_view target = head.target;
  std::string_view rest;  // path and query
  if (target[0] == '/') {
    head.form = TargetForm::origin;
    rest = target;
  } else if (target == "*") {
    if (head.method != "OPTIONS")
      return fail(400, "asterisk-form target on a method other than OPTIONS");
    head.form = TargetForm::asterisk;
    head.path = target;
  } else if (head.method == "CONNECT") {
    // authority-form = uri-host ":" port
    std::size_t colon = target.rfind(':');
    if (colon == target.npos || colon == 0 || colon + 1 == target.size() || !valid_host(target))
      return fail(400, "CONNECT needs an authority-form target (host:port)");
    head.form = TargetForm::authority;
  } else {
    std::size_t scheme_end = target.find("://");
    std::string_view scheme =
        scheme_end == target.npos ? std::string_view() : target.substr(0, scheme_end);
    if (!iequal(scheme, "http") && !iequal(scheme, "https"))
      return fail(400, "request target is neither a path nor an http(s) URI");
    std::string_view after = target.substr(scheme_end + 3);
    std::size_t auth_end = after.find_first_of("/?");
    std::string_view authority = after.substr(0, auth_end);
    if (authority.empty() || authority.find('@') != authority.npos || !valid_host(authority))
      return fail(400, "invalid authority in an absolute-form target");
    head.form = TargetForm::absolute;
    head.host = authority;
    rest = auth_end == after.npos ? std::string_view() : after.substr(auth_end);
  }
  if (head.form == TargetForm::origin || head.form == TargetForm::absolute) {
    std::size_t q = rest.find('?');
    head.path = rest.substr(0, q);
    if (head.path.empty()) head.path = "/";
    // A NUL in the decoded path would cut it short wherever it meets a C string.
    if (head.path.find("%00") != head.path.npos) return fail(400, "encoded NUL in the path");
    if (q != rest.npos) head.query = rest.substr(q + 1);
  }

  // --- Host (RFC 9112 §3.2) ---
  if (host_count > 1) return fail(400, "more than one Host header");
  if (host_count == 0 && minor_ == 1) return fail(400, "HTTP/1.1 request without a Host header");
  if (host_count == 1 && !valid_host(host_value)) return fail(400, "invalid Host header");
  if (head.form == TargetForm::authority) head.host = head.target;
  else if (head.form != TargetForm::absolute) head.host = host_value;

  // --- message body length (RFC 9112 §6.1, §6.3) ---
  if (te_seen) {
    if (minor_ == 0) return fail(400, "Transfer-Encoding in an HTTP/1.0 request (faulty framing)");
    if (cl_count) return fail(400, "both Content-Length and Transfer-Encoding");
    if (te_bad) return fail(400, "malformed Transfer-Encoding");
    // RFC 9112 §6.3: chunked not final means the length cannot be determined: 400 (a MUST),
    // whatever the other codings are. Only then is a coding we do not implement 501 (§6.1).
    if (chunked_count != 1 || !chunked_last)
      return fail(400, "chunked must be the final transfer coding, applied once");
    if (te_unknown) return fail(501, "unsupported transfer coding; only chunked is implemented");
    head.body = BodyKind::chunked;
  } else if (cl_count) {
    head.content_length = content_length;
    head.body = content_length ? BodyKind::length : BodyKind::none;
    if (content_length > limits_.max_body) return fail(413, "request body larger than the limit");
  }

  // --- persistence (RFC 9112 §9.3) ---
  head.keep_alive = minor_ == 1 ? !conn_close : (conn_keep_alive && !conn_close);

  // --- expectations (RFC 9110 §10.1.1); an HTTP/1.0 client's is ignored ---
  if (expect_seen && minor_ == 1) {
    if (!iequal(expect_value, "100-continue")) return fail(417, "unsupported expectation");
    head.expect_continue = head.body != BodyKind::none;
  }

  head.size = pos_;
  return Status::done;
}

// --- chunked -----------------------------------------------------------------------------

void ChunkedDecoder::reset() noexcept {
  error_ = {};
  state_ = State::size;
  chunk_size_ = remaining_ = body_size_ = 0;
  size_digits_ = 0;
  any_digit_ = false;
  line_bytes_ = trailer_bytes_ = trailer_fields_ = 0;
}

ChunkedDecoder::Result ChunkedDecoder::fail(std::size_t consumed, int status, const char* reason) {
  error_ = {status, reason};
  state_ = State::failed;
  return {Status::error, consumed, {}};
}

ChunkedDecoder::Result ChunkedDecoder::decode(std::string_view in, std::size_t max_data) {
  std::size_t i = 0;
  const std::size_t n = in.size();
  if (state_ == State::failed) return {Status::error, 0, {}};
  if (state_ == State::done) return {Status::done, 0, {}};
  while (i < n) {
    char c = in[i];
    switch (state_) {
      case State::size:
        if (chars::hex(c)) {
          if (chunk_size_ != 0 || c != '0') {  // leading zeros are not significant
            // 15 hex digits is 2^60: more than any body limit, and no overflow below.
            if (++size_digits_ > 15) return fail(i, 400, "chunk size overflow");
          }
          chunk_size_ = chunk_size_ * 16 + std::uint64_t(chars::hex_value(c));
          any_digit_ = true;
          break;
        }
        if (!any_digit_) return fail(i, 400, "invalid chunk size");
        state_ = State::after_size;
        continue;  // the same character, in after_size
      case State::after_size:
        if (c == '\r') state_ = State::size_lf;
        else if (c == ';') state_ = State::ext_name_start;
        else if (chars::ows(c)) state_ = State::ws_before_semi;
        else return fail(i, 400, "invalid character after the chunk size");
        break;
      case State::ws_before_semi:
        if (c == ';') state_ = State::ext_name_start;
        else if (!chars::ows(c)) return fail(i, 400, "invalid chunk extension");
        break;
      case State::ext_name_start:
        if (chars::tchar(c)) state_ = State::ext_name;
        else if (!chars::ows(c)) return fail(i, 400, "invalid chunk extension name");
        break;
      case State::ext_name:
        if (c == '\r') state_ = State::size_lf;
        else if (c == ';') state_ = State::ext_name_start;
        else if (c == '=') state_ = State::ext_value_start;
        else if (chars::ows(c)) state_ = State::ext_ws_after_name;
        else if (!chars::tchar(c)) return fail(i, 400, "invalid chunk extension name");
        break;
      case State::ext_ws_after_name:
        if (c == '=') state_ = State::ext_value_start;
        else if (c == ';') state_ = State::ext_name_start;
        else if (!chars::ows(c)) return fail(i, 400, "invalid chunk extension");
        break;
      case State::ext_value_start:
        if (c == '"') state_ = State::ext_qstring;
        else if (chars::tchar(c)) state_ = State::ext_token;
        else if (!chars::ows(c)) return fail(i, 400, "invalid chunk extension value");
        break;
      case State::ext_token:
        if (c == '\r') state_ = State::size_lf;
        else if (c == ';') state_ = State::ext_name_start;
        else if (chars::ows(c)) state_ = State::ws_before_semi;
        else if (!chars::tchar(c)) return fail(i, 400, "invalid chunk extension value");
        break;
      case State::ext_qstring:
        if (c == '"') state_ = State::after_size;
        else if (c == '\\') state_ = State::ext_qescape;
        else if (!chars::is(c, chars::kQdtext))
          return fail(i, 400, "invalid quoted chunk extension value");
        break;
      case State::ext_qescape:
        if (!chars::is(c, chars::kFieldVchar) && !chars::ows(c))
          return fail(i, 400, "invalid quoted chunk extension value");
        state_ = State::ext_qstring;
        break;
      case State::size_lf:
        if (c != '\n') return fail(i, 400, "chunk size line not terminated by CRLF");
        line_bytes_ = 0;
        if (chunk_size_ == 0) {
          state_ = State::trailer_start;
        } else {
          if (chunk_size_ > limits_.max_body || body_size_ + chunk_size_ > limits_.max_body)
            return fail(i, 413, "request body larger than the limit");
          remaining_ = chunk_size_;
          state_ = State::data;
        }
        ++i;
        continue;
      case State::data: {
        std::size_t take = std::size_t(std::min<std::uint64_t>(remaining_, n - i));
        if (take > max_data) take = max_data;
        if (take == 0) return {Status::data, i, {}};
        remaining_ -= take;
        body_size_ += take;
        if (remaining_ == 0) state_ = State::data_cr;
        return {Status::data, i + take, in.substr(i, take)};
      }
      case State::data_cr:
        if (c != '\r') return fail(i, 400, "chunk data not followed by CRLF");
        state_ = State::data_lf;
        break;
      case State::data_lf:
        if (c != '\n') return fail(i, 400, "chunk data not followed by CRLF");
        state_ = State::size;
        chunk_size_ = 0;
        line_bytes_ = 0;
        size_digits_ = 0;
        any_digit_ = false;
        ++i;
        continue;
      case State::trailer_start:
        if (c == '\r') state_ = State::final_lf;
        else if (chars::tchar(c)) {
          if (++trailer_fields_ > limits_.max_header_count)
            return fail(i, 431, "more trailer fields than the limit");
          state_ = State::trailer_name;
        } else if (chars::ows(c)) return fail(i, 400, "obsolete line folding in the trailer");
        else return fail(i, 400, "invalid trailer field");
        break;
      case State::trailer_name:
        if (c == ':') state_ = State::trailer_value;
        else if (!chars::tchar(c)) return fail(i, 400, "invalid trailer field name");
        break;
      case State::trailer_value:
        if (c == '\r') state_ = State::trailer_lf;
        else if (!chars::is(c, chars::kFieldVchar) && !chars::ows(c))
          return fail(i, 400, "control character in a trailer field");
        break;
      case State::trailer_lf:
        if (c != '\n') return fail(i, 400, "bare CR in the trailer");
        state_ = State::trailer_start;
        break;
      case State::final_lf:
        if (c != '\n') return fail(i, 400, "chunked body not terminated by CRLF");
        state_ = State::done;
        return {Status::done, i + 1, {}};
      case State::done: return {Status::done, i, {}};
      case State::failed: return {Status::error, i, {}};
    }
    // Bytes of the chunk-size line and of the trailer count against their limits.
    if (state_ >= State::trailer_start && state_ <= State::final_lf) {
      if (++trailer_bytes_ > limits_.max_header_bytes)
        return fail(i, 431, "trailer section larger than the limit");
    } else if (++line_bytes_ > limits_.max_chunk_line) {
      return fail(i, 400, "chunk size line longer than the limit");
    }
    ++i;
  }
  return {Status::need_more, i, {}};
}

// parse_stream() and own() are in http1.cpp, over the server's framer.

}  // namespace grove::http
