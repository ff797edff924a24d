// Small containers and text helpers the request and response objects are made of:
// MultiDict (query arguments, form fields, cookies), Headers, and the URL and media-type
// helpers. Promises: MultiDict keeps order and repeated keys; decoding never throws on bad
// escapes (they are kept literally, as browsers do).
//
//   web::MultiDict args = web::parse_query("a=1&b=x%20y&a=2");
//   args.get("b");                 // "x y"
//   args.get_all("a");             // {"1", "2"}
//   args.get_as<int>("a", 0);      // 1
//   web::media_type("Application/JSON; charset=utf-8");   // "application/json"
#pragma once

#include <grove/http/headers.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace grove::web {

// An ordered multimap of strings: query arguments and form fields (werkzeug's MultiDict).
// get() returns the first value for a key; get_all() every value in order.
class MultiDict {
 public:
  using Item = std::pair<std::string, std::string>;

  MultiDict() = default;
  MultiDict(std::initializer_list<Item> items) : items_(items) {}

  void add(std::string key, std::string value) {
    items_.emplace_back(std::move(key), std::move(value));
  }
  // Replaces every value of key with one.
  void set(std::string_view key, std::string value);
  void remove(std::string_view key);

  std::optional<std::string> get(std::string_view key) const;
  std::string get(std::string_view key, std::string_view fallback) const;
  // The first value parsed as T (an integer or floating type), or fallback when missing or
  // not a number of that type.
  template <class T>
  T get_as(std::string_view key, T fallback) const;
  std::vector<std::string> get_all(std::string_view key) const;
  bool contains(std::string_view key) const {
    for (const auto& item : items_)
      if (item.first == key) return true;
    return false;
  }
  // The first value; throws BadRequest (400) naming the key when missing, as Flask does.
  const std::string& operator[](std::string_view key) const;

  std::size_t size() const noexcept { return items_.size(); }
  bool empty() const noexcept { return items_.empty(); }
  auto begin() const { return items_.begin(); }
  auto end() const { return items_.end(); }
  const std::vector<Item>& items() const noexcept { return items_; }

 private:
  std::vector<Item> items_;
};

// HTTP header fields: ordered, several values per name, names compared case-insensitively.
// The server's type itself, so a request's fields are read where the server parsed them
// and a response's go to the wire as they are: get(name) gives a view (optional), get(name,
// fallback) an owned std::string, get_all(name) every value.
using Headers = grove::http::Headers;
using grove::http::iequals;

// Percent-decoding. `plus_as_space` for application/x-www-form-urlencoded. Invalid escapes
// are kept literally (as browsers and werkzeug do).
std::string url_decode(std::string_view s, bool plus_as_space = false);
// Percent-encoding of everything except unreserved characters (RFC 3986).
std::string url_encode(std::string_view s);
// Parses "a=1&b=2&a=3" (query strings and urlencoded bodies).
MultiDict parse_query(std::string_view qs);
// Builds a query string from items.
std::string encode_query(const MultiDict& items);
// Parses a Cookie header ("a=1; b=2"); later duplicates do not replace earlier ones.
MultiDict parse_cookies(std::string_view header);

// The media type of a Content-Type value, lower-cased, parameters dropped:
// "Application/JSON; charset=utf-8" -> "application/json".
std::string media_type(std::string_view content_type);

// The standard reason phrase ("Not Found"), or "Unknown" for unregistered codes.
std::string_view reason_phrase(int status) noexcept;

template <class T>
T MultiDict::get_as(std::string_view key, T fallback) const {
  auto v = get(key);
  if (!v) return fallback;
  if constexpr (std::is_floating_point_v<T>) {
    try {
      std::size_t used = 0;
      double d = std::stod(*v, &used);
      return used == v->size() ? static_cast<T>(d) : fallback;
    } catch (...) {
      return fallback;
    }
  } else {
    try {
      std::size_t used = 0;
      long long i = std::stoll(*v, &used);
      return used == v->size() ? static_cast<T>(i) : fallback;
    } catch (...) {
      return fallback;
    }
  }
}

}  // namespace grove::web
