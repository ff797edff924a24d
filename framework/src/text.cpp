// The text helpers of datastructures.hpp: percent-coding, query strings, cookies, media
// types, reason phrases. Pure functions over strings, apart from the rest of the framework
// so that the fuzz targets (tests/fuzz) link them alone.
#include <grove/http/gateway.hpp>
#include <grove/http/headers.hpp>
#include <grove/web/datastructures.hpp>

#include <cctype>
#include <unordered_set>

namespace grove::web {

// The server's implementations (one case-folding rule, one percent-decoder, one query
// parser for the whole of grove, and the one the fuzzer drives).

namespace {
std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}
}  // namespace

std::string url_decode(std::string_view s, bool plus_as_space) {
  return http::url_decode_lenient(s, plus_as_space);
}

std::string url_encode(std::string_view s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

MultiDict parse_query(std::string_view qs) {
  MultiDict out;
  for (auto& [key, value] : http::parse_query(qs)) out.add(std::move(key), std::move(value));
  return out;
}

std::string encode_query(const MultiDict& items) {
  std::string out;
  for (const auto& [k, v] : items) {
    if (!out.empty()) out.push_back('&');
    out += url_encode(k);
    out.push_back('=');
    out += url_encode(v);
  }
  return out;
}

MultiDict parse_cookies(std::string_view header) {
  MultiDict out;
  // Names seen so far, as views into `header`: looking each one up in `out` made a 64 KiB
  // header of distinct names cost 0.3 s of the hub's time.
  std::unordered_set<std::string_view> seen;
  while (!header.empty()) {
    std::size_t semi = header.find(';');
    std::string_view part = trim(header.substr(0, semi));
    header = semi == std::string_view::npos ? std::string_view() : header.substr(semi + 1);
    std::size_t eq = part.find('=');
    if (eq == std::string_view::npos || eq == 0) continue;
    std::string_view name = trim(part.substr(0, eq));
    std::string_view value = trim(part.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
      value = value.substr(1, value.size() - 2);
    if (seen.insert(name).second) out.add(std::string(name), url_decode(value));
  }
  return out;
}

std::string media_type(std::string_view content_type) {
  std::string_view t = trim(content_type.substr(0, content_type.find(';')));
  std::string out(t);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The server's phrases (RFC 9110), except where Flask users know werkzeug's older names:
// HTTPException::name() reads like Flask's.
std::string_view reason_phrase(int status) noexcept {
  switch (status) {
    case 413: return "Request Entity Too Large";
    case 414: return "Request-URI Too Long";
    case 416: return "Requested Range Not Satisfiable";
    case 422: return "Unprocessable Entity";
    case 423: return "Locked";
    default: return http::reason_phrase(status);
  }
}

}  // namespace grove::web
