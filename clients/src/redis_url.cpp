// grove::redis::Url: redis://[user[:password]@]host[:port][/db][?protocol=2|3].
#include <grove/redis/connection.hpp>

#include <charconv>
#include <stdexcept>

namespace grove::redis {

namespace {

[[noreturn]] void bad(std::string_view url, const std::string& why) {
  // The URL may hold a password: name the problem, not the URL.
  (void)url;
  throw std::invalid_argument(
      "grove::redis: bad Redis URL: " + why +
      " (expected redis://[user[:password]@]host[:port][/db][?protocol=3])");
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percent_decode(std::string_view url, std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    int hi = i + 2 < s.size() ? hex_value(s[i + 1]) : -1;
    int lo = i + 2 < s.size() ? hex_value(s[i + 2]) : -1;
    if (hi < 0 || lo < 0)
      bad(url, "a '%' in the user or password is not followed by two hex digits");
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

template <class T>
T number(std::string_view url, std::string_view text, T lo, T hi, const char* what) {
  T v{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || v < lo || v > hi)
    bad(url, std::string(what) + " \"" + std::string(text) + "\" is not a number from " +
                 std::to_string(lo) + " to " + std::to_string(hi));
  return v;
}

}  // namespace

Url Url::parse(std::string_view url) {
  Url u;
  std::string_view rest = url;
  if (rest.starts_with("rediss://"))
    bad(url,
        "TLS (rediss://) is not supported by grove::redis yet; use redis:// on a trusted network");
  if (!rest.starts_with("redis://")) bad(url, "it does not start with redis://");
  rest.remove_prefix(8);

  if (auto q = rest.find('?'); q != std::string_view::npos) {
    std::string_view query = rest.substr(q + 1);
    rest = rest.substr(0, q);
    while (!query.empty()) {
      std::string_view item = query.substr(0, query.find('&'));
      query.remove_prefix(std::min(query.size(), item.size() + 1));
      if (item.starts_with("protocol="))
        u.protocol = number<int>(url, item.substr(9), 2, 3, "protocol");
      else
        bad(url, "unknown option \"" + std::string(item.substr(0, item.find('='))) +
                     "\" (known: protocol)");
    }
  }
  if (auto slash = rest.find('/'); slash != std::string_view::npos) {
    std::string_view db = rest.substr(slash + 1);
    rest = rest.substr(0, slash);
    if (!db.empty()) u.db = number<int>(url, db, 0, 1'000'000, "the database");
  }
  if (auto at = rest.rfind('@'); at != std::string_view::npos) {
    std::string_view userinfo = rest.substr(0, at);
    rest = rest.substr(at + 1);
    auto colon = userinfo.find(':');
    u.user = percent_decode(url, userinfo.substr(0, colon));
    if (colon != std::string_view::npos)
      u.password = percent_decode(url, userinfo.substr(colon + 1));
    else if (!u.user.empty()) {
      // redis://secret@host: a lone userinfo is the password (as redis-cli -u reads it).
      u.password = std::move(u.user);
      u.user.clear();
    }
  }
  std::string_view host = rest, port;
  if (rest.starts_with("[")) {
    auto close = rest.find(']');
    if (close == std::string_view::npos) bad(url, "an IPv6 address without its ']'");
    host = rest.substr(1, close - 1);
    std::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') bad(url, "something other than :port after the IPv6 address");
      port = after.substr(1);
    }
  } else if (auto colon = rest.rfind(':'); colon != std::string_view::npos) {
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
  }
  if (!host.empty()) u.host = std::string(host);
  if (!port.empty()) u.port = number<std::uint16_t>(url, port, 1, 65535, "the port");
  return u;
}

std::string Url::redacted() const {
  std::string host_part = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  std::string who = user.empty() ? "" : user + (password.empty() ? "" : ":***") + "@";
  if (user.empty() && !password.empty()) who = ":***@";
  return "redis://" + who + host_part + ":" + std::to_string(port) + "/" + std::to_string(db);
}

}  // namespace grove::redis
