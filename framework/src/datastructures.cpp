#include <grove/web/datastructures.hpp>
#include <grove/web/exceptions.hpp>

#include <algorithm>
#include <cctype>

namespace grove::web {

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    unsigned char x = static_cast<unsigned char>(a[i]), y = static_cast<unsigned char>(b[i]);
    if (x != y && std::tolower(x) != std::tolower(y)) return false;
  }
  return true;
}

// --- MultiDict -------------------------------------------------------------------------

void MultiDict::set(std::string_view key, std::string value) {
  remove(key);
  items_.emplace_back(std::string(key), std::move(value));
}

void MultiDict::remove(std::string_view key) {
  std::erase_if(items_, [&](const Item& i) { return i.first == key; });
}

std::optional<std::string> MultiDict::get(std::string_view key) const {
  for (const auto& [k, v] : items_)
    if (k == key) return v;
  return std::nullopt;
}

std::string MultiDict::get(std::string_view key, std::string_view fallback) const {
  for (const auto& [k, v] : items_)
    if (k == key) return v;
  return std::string(fallback);
}

std::vector<std::string> MultiDict::get_all(std::string_view key) const {
  std::vector<std::string> out;
  for (const auto& [k, v] : items_)
    if (k == key) out.push_back(v);
  return out;
}

bool MultiDict::contains(std::string_view key) const {
  return std::any_of(items_.begin(), items_.end(), [&](const Item& i) { return i.first == key; });
}

const std::string& MultiDict::operator[](std::string_view key) const {
  for (const auto& [k, v] : items_)
    if (k == key) return v;
  throw BadRequest("The browser (or proxy) sent a request that this server could not understand: "
                   "missing key '" + std::string(key) + "'.");
}

// --- Headers ---------------------------------------------------------------------------

void Headers::set(std::string_view name, std::string value) {
  for (auto it = items_.begin(); it != items_.end(); ++it) {
    if (iequals(it->first, name)) {
      it->second = std::move(value);
      items_.erase(std::remove_if(it + 1, items_.end(), [&](const Item& i) { return iequals(i.first, name); }),
                   items_.end());
      return;
    }
  }
  items_.emplace_back(std::string(name), std::move(value));
}

void Headers::setdefault(std::string_view name, std::string value) {
  if (!contains(name)) items_.emplace_back(std::string(name), std::move(value));
}

void Headers::remove(std::string_view name) {
  std::erase_if(items_, [&](const Item& i) { return iequals(i.first, name); });
}

std::optional<std::string> Headers::get(std::string_view name) const {
  for (const auto& [k, v] : items_)
    if (iequals(k, name)) return v;
  return std::nullopt;
}

std::string Headers::get(std::string_view name, std::string_view fallback) const {
  for (const auto& [k, v] : items_)
    if (iequals(k, name)) return v;
  return std::string(fallback);
}

std::vector<std::string> Headers::get_all(std::string_view name) const {
  std::vector<std::string> out;
  for (const auto& [k, v] : items_)
    if (iequals(k, name)) out.push_back(v);
  return out;
}

bool Headers::contains(std::string_view name) const {
  return std::any_of(items_.begin(), items_.end(), [&](const Item& i) { return iequals(i.first, name); });
}

// --- text helpers ------------------------------------------------------------------------

namespace {
int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}
}  // namespace

std::string url_decode(std::string_view s, bool plus_as_space) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%' && i + 2 < s.size()) {
      int h = hexval(s[i + 1]), l = hexval(s[i + 2]);
      if (h >= 0 && l >= 0) {
        out.push_back(static_cast<char>(h * 16 + l));
        i += 2;
        continue;
      }
    }
    out.push_back(plus_as_space && c == '+' ? ' ' : c);
  }
  return out;
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
  while (!qs.empty()) {
    std::size_t amp = qs.find('&');
    std::string_view part = qs.substr(0, amp);
    qs = amp == std::string_view::npos ? std::string_view() : qs.substr(amp + 1);
    if (part.empty()) continue;
    std::size_t eq = part.find('=');
    if (eq == std::string_view::npos)
      out.add(url_decode(part, true), "");
    else
      out.add(url_decode(part.substr(0, eq), true), url_decode(part.substr(eq + 1), true));
  }
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
  while (!header.empty()) {
    std::size_t semi = header.find(';');
    std::string_view part = trim(header.substr(0, semi));
    header = semi == std::string_view::npos ? std::string_view() : header.substr(semi + 1);
    std::size_t eq = part.find('=');
    if (eq == std::string_view::npos || eq == 0) continue;
    std::string_view name = trim(part.substr(0, eq));
    std::string_view value = trim(part.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
    if (!out.contains(name)) out.add(std::string(name), url_decode(value));
  }
  return out;
}

std::string media_type(std::string_view content_type) {
  std::string_view t = trim(content_type.substr(0, content_type.find(';')));
  std::string out(t);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

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
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Request Entity Too Large";
    case 414: return "Request-URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Requested Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 418: return "I'm a teapot";
    case 422: return "Unprocessable Entity";
    case 423: return "Locked";
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

}  // namespace grove::web
