// The multipart/form-data parser (grove/web/multipart.hpp): a state machine over the bytes
// not consumed yet, which are at most one part head or one delimiter long.
#include <grove/web/multipart.hpp>

#include <grove/http/headers.hpp>

#include <algorithm>
#include <cctype>
#include <cstring>

namespace grove::web {
namespace {

using grove::http::iequals;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// `; key=value; key="quoted \"value\""` after the disposition type, into (key, value)
// pairs with lower-case keys. False if a quoted string is not closed.
bool parse_params(std::string_view s, std::vector<std::pair<std::string, std::string>>& out) {
  std::size_t i = 0;
  while (i < s.size()) {
    if (s[i] == ';' || s[i] == ' ' || s[i] == '\t') {
      ++i;
      continue;
    }
    std::size_t eq = s.find_first_of("=;", i);
    std::string key(
        trim(s.substr(i, eq == std::string_view::npos ? std::string_view::npos : eq - i)));
    for (char& c : key) c = char(std::tolower(static_cast<unsigned char>(c)));
    if (eq == std::string_view::npos || s[eq] == ';') {  // a flag without a value
      out.emplace_back(std::move(key), std::string());
      i = eq == std::string_view::npos ? s.size() : eq;
      continue;
    }
    i = eq + 1;
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    std::string value;
    if (i < s.size() && s[i] == '"') {
      ++i;
      bool closed = false;
      while (i < s.size()) {
        char c = s[i++];
        if (c == '\\' && i < s.size()) {
          value += s[i++];
        } else if (c == '"') {
          closed = true;
          break;
        } else {
          value += c;
        }
      }
      if (!closed) return false;
    } else {
      std::size_t end = s.find(';', i);
      value = std::string(
          trim(s.substr(i, end == std::string_view::npos ? std::string_view::npos : end - i)));
      i = end == std::string_view::npos ? s.size() : end;
    }
    out.emplace_back(std::move(key), std::move(value));
  }
  return true;
}

// RFC 5987: charset'lang'pct-encoded (only UTF-8 is decoded; anything else is nullopt).
std::optional<std::string> decode_ext_value(std::string_view v) {
  std::size_t q1 = v.find('\'');
  std::size_t q2 = q1 == std::string_view::npos ? q1 : v.find('\'', q1 + 1);
  if (q2 == std::string_view::npos || !iequals(v.substr(0, q1), "utf-8")) return std::nullopt;
  std::string out;
  for (std::size_t i = q2 + 1; i < v.size(); ++i) {
    if (v[i] == '%' && i + 2 < v.size() && hex_value(v[i + 1]) >= 0 && hex_value(v[i + 2]) >= 0) {
      out += char(hex_value(v[i + 1]) * 16 + hex_value(v[i + 2]));
      i += 2;
    } else {
      out += v[i];
    }
  }
  return out;
}

}  // namespace

MultipartParser::MultipartParser(std::string boundary, MultipartLimits limits)
    : delimiter_("\r\n--" + boundary), limits_(limits), buf_("\r\n") {
}  // the first one has no CRLF

std::optional<std::string> MultipartParser::boundary_of(std::string_view content_type) {
  std::size_t semi = content_type.find(';');
  if (!iequals(trim(content_type.substr(0, semi)), "multipart/form-data") ||
      semi == std::string_view::npos)
    return std::nullopt;
  std::vector<std::pair<std::string, std::string>> params;
  if (!parse_params(content_type.substr(semi + 1), params)) return std::nullopt;
  for (auto& [k, v] : params)
    if (k == "boundary") {
      if (v.empty() || v.size() > 70) return std::nullopt;
      return v;
    }
  return std::nullopt;
}

bool MultipartParser::fail(std::string why, bool limit) {
  state_ = State::failed;
  error_ = std::move(why);
  too_large_ = limit;
  buf_.clear();
  return false;
}

bool MultipartParser::feed(std::string_view bytes) {
  if (state_ == State::failed) return false;
  if (state_ == State::epilogue) return true;
  // A part's data, by far most of a large body, is passed on from `bytes` where it is;
  // the rest (preamble, boundary lines, heads) goes through buf_ a piece at a time, so
  // little data follows a head into buf_. The outcome does not depend on the pieces.
  constexpr std::size_t kPiece = 16 * 1024;
  while (true) {
    if (state_ == State::data && (buf_.empty() || bytes.size() >= delimiter_.size() - 1))
      bytes = data_in_place(bytes);
    if (bytes.empty() || state_ == State::epilogue) break;
    buf_.append(bytes.substr(0, kPiece));
    bytes.remove_prefix(std::min(bytes.size(), kPiece));
    while (step()) {
    }
    if (state_ == State::failed) return false;
  }
  return state_ != State::failed;
}

void MultipartParser::emit(std::string_view data) {
  if (!data.empty() && on_data) on_data(data);
}

void MultipartParser::end_part() {
  if (on_part_end) on_part_end();
  state_ = State::after_boundary;
}

// The length of the longest end of `bytes` shorter than the delimiter that begins one:
// what must wait for the next bytes to tell whether it is data.
std::size_t MultipartParser::partial_delimiter(std::string_view bytes) const {
  std::size_t from = bytes.size() - std::min(bytes.size(), delimiter_.size() - 1);
  while (from < bytes.size()) {
    const void* cr = std::memchr(bytes.data() + from, delimiter_.front(), bytes.size() - from);
    if (!cr) return 0;
    from = std::size_t(static_cast<const char*>(cr) - bytes.data());
    if (delimiter_.compare(0, bytes.size() - from, bytes, from) == 0) return bytes.size() - from;
    ++from;
  }
  return 0;
}

// The data state on `bytes` without copying them. buf_ holds less than a delimiter from
// the previous bytes; if it holds anything, `bytes` has at least d - 1 bytes, so a
// delimiter that begins in buf_ ends in the first d - 1 of them. Returns what follows the
// part's delimiter (the state is then after_boundary), or nothing when all of `bytes` was
// data or kept.
std::string_view MultipartParser::data_in_place(std::string_view bytes) {
  const std::size_t d = delimiter_.size();
  if (!buf_.empty()) {
    std::string joint = buf_;
    joint.append(bytes.substr(0, d - 1));
    std::size_t at = joint.find(delimiter_);
    if (at != std::string::npos && at < buf_.size()) {
      emit(std::string_view(buf_).substr(0, at));
      bytes.remove_prefix(at + d - buf_.size());
      buf_.clear();
      end_part();
      return bytes;
    }
    emit(buf_);
    buf_.clear();
  }
  std::size_t at = bytes.find(delimiter_);
  if (at != std::string_view::npos) {
    emit(bytes.substr(0, at));
    end_part();
    return bytes.substr(at + d);
  }
  std::size_t keep = partial_delimiter(bytes);
  emit(bytes.substr(0, bytes.size() - keep));
  buf_.assign(bytes.substr(bytes.size() - keep));
  return {};
}

bool MultipartParser::finish() {
  if (state_ == State::failed) return false;
  if (state_ == State::epilogue) return true;
  return fail(state_ == State::preamble ? "the body has no multipart boundary"
                                        : "the multipart body ended before its closing boundary");
}

bool MultipartParser::step() {
  // What may still be the start of a delimiter is kept for the next feed.
  const std::size_t keep = delimiter_.size() - 1;
  switch (state_) {
    case State::preamble: {
      std::size_t at = buf_.find(delimiter_);
      if (at == std::string::npos) {
        if (buf_.size() > keep) {
          preamble_ += buf_.size() - keep;
          buf_.erase(0, buf_.size() - keep);
        }
        if (preamble_ > limits_.max_preamble)
          return fail("no multipart boundary in the first bytes of the body");
        return false;
      }
      preamble_ += at;
      if (preamble_ > limits_.max_preamble)
        return fail("no multipart boundary in the first bytes of the body");
      buf_.erase(0, at + delimiter_.size());
      state_ = State::after_boundary;
      return true;
    }
    case State::after_boundary: {
      if (buf_.size() < 2) return false;
      if (buf_.compare(0, 2, "--") == 0) {
        state_ = State::epilogue;
        buf_.clear();
        return false;
      }
      std::size_t k = buf_.find_first_not_of(" \t");  // transport padding
      if ((k == std::string::npos ? buf_.size() : k) > 256)
        return fail("a multipart boundary line is too long");
      if (k == std::string::npos || k + 1 >= buf_.size()) return false;
      if (buf_[k] != '\r' || buf_[k + 1] != '\n')
        return fail("a multipart boundary is not followed by CRLF");
      buf_.erase(0, k + 2);
      state_ = State::head;
      return true;
    }
    case State::head: {
      std::size_t end = buf_.compare(0, 2, "\r\n") == 0 ? 0 : buf_.find("\r\n\r\n");
      if (end == std::string::npos) {
        // Fails only once the terminator could no longer end within the limit, so the
        // outcome does not depend on how the bytes were split.
        if (buf_.size() > limits_.max_header_bytes + 3)
          return fail("a multipart part head is longer than " +
                      std::to_string(limits_.max_header_bytes) + " bytes");
        return false;
      }
      if (end > limits_.max_header_bytes)
        return fail("a multipart part head is longer than " +
                    std::to_string(limits_.max_header_bytes) + " bytes");
      if (++parts_ > limits_.max_parts)
        return fail("more than " + std::to_string(limits_.max_parts) + " multipart parts", true);
      if (!parse_head(std::string_view(buf_).substr(0, end))) return false;
      buf_.erase(0, end == 0 ? 2 : end + 4);
      state_ = State::data;
      return true;
    }
    case State::data: {  // the data after a head that came in the same bytes
      std::size_t at = buf_.find(delimiter_);
      if (at == std::string::npos) {
        std::size_t rest = partial_delimiter(buf_);
        emit(std::string_view(buf_).substr(0, buf_.size() - rest));
        buf_.erase(0, buf_.size() - rest);
        return false;
      }
      emit(std::string_view(buf_).substr(0, at));
      buf_.erase(0, at + delimiter_.size());
      end_part();
      return true;
    }
    case State::epilogue:
    case State::failed: return false;
  }
  return false;
}

bool MultipartParser::parse_head(std::string_view head) {
  PartHead h;
  h.content_type = "text/plain";
  bool disposition = false;
  while (!head.empty()) {
    std::size_t eol = head.find("\r\n");
    std::string_view line = head.substr(0, eol);
    head.remove_prefix(eol == std::string_view::npos ? head.size() : eol + 2);
    if (line.empty() || line.front() == ' ' || line.front() == '\t')
      return fail("a multipart part head has a folded or empty line");
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0)
      return fail("a multipart part header has no name");
    std::string_view name = line.substr(0, colon), value = trim(line.substr(colon + 1));
    h.headers.emplace_back(std::string(name), std::string(value));
    if (iequals(name, "content-type")) {
      h.content_type = std::string(value);
    } else if (iequals(name, "content-disposition")) {
      std::size_t semi = value.find(';');
      if (!iequals(trim(value.substr(0, semi)), "form-data"))
        return fail("a multipart part is not Content-Disposition: form-data");
      std::vector<std::pair<std::string, std::string>> params;
      if (semi != std::string_view::npos && !parse_params(value.substr(semi + 1), params))
        return fail("a multipart Content-Disposition has an unclosed quote");
      bool named = false;
      for (auto& [k, v] : params) {
        if (k == "name") {
          h.name = v;
          named = true;
        } else if (k == "filename") {
          if (!h.filename) h.filename = v;
        } else if (k == "filename*") {
          if (auto decoded = decode_ext_value(v)) h.filename = std::move(*decoded);
        }
      }
      if (!named) return fail("a multipart part has no name");
      disposition = true;
    }
  }
  if (!disposition) return fail("a multipart part has no Content-Disposition");
  if (on_part) on_part(h);
  return true;
}

}  // namespace grove::web
