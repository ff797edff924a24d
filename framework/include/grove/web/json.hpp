// grove::web::Json — a small JSON value: null, bool, integer, number, string, array, object.
//
// Objects keep insertion order (so `{"statuses":[...],"elapsed_ms":N}` serialises in the order
// it was built) and look keys up linearly, which is the fast case for the small objects web
// handlers build. Integers that fit in int64 stay integers; everything else with a fraction
// or an exponent is a double.
//
// parse() is strict RFC 8259 (no comments, no trailing commas, no NaN), validates UTF-8 and
// surrogate pairs, and is iterative with a nesting limit, so hostile input from the network
// cannot exhaust a green thread's small stack. dump() is compact (`{"a":1}`), escapes
// control characters, and refuses NaN and infinities.
//
//   web::Json j = {{"message", "Hello"}, {"ids", web::Json::array({1, 2, 3})}};
//   j["ok"] = true;
//   std::string text = j.dump();          // {"message":"Hello","ids":[1,2,3],"ok":true}
//   auto back = web::Json::parse(text);
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace grove::web {

// Invalid JSON text (what() gives the byte offset) or a value of the wrong kind.
class JsonError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Json {
 public:
  enum class Kind { null, boolean, integer, number, string, array, object };
  using Array = std::vector<Json>;
  using Member = std::pair<std::string, Json>;
  using Object = std::vector<Member>;

  Json() noexcept = default;
  Json(std::nullptr_t) noexcept {}
  Json(bool b) noexcept : v_(b) {}
  template <class I, std::enable_if_t<std::is_integral_v<I> && !std::is_same_v<I, bool> &&
                                          !std::is_same_v<I, char>,
                                      int> = 0>
  Json(I i) noexcept : v_(static_cast<std::int64_t>(i)) {}
  Json(double d) noexcept : v_(d) {}
  Json(float d) noexcept : v_(static_cast<double>(d)) {}
  Json(const char* s) : v_(std::string(s)) {}
  Json(std::string s) noexcept : v_(std::move(s)) {}
  Json(std::string_view s) : v_(std::string(s)) {}
  Json(Array a) noexcept : v_(std::move(a)) {}
  Json(Object o) noexcept : v_(std::move(o)) {}
  // `{{"k", v}, ...}` builds an object when every element is a two-element list whose first
  // element is a string; anything else builds an array. Use array() for an array of pairs.
  Json(std::initializer_list<Json> init);

  static Json array(std::initializer_list<Json> items = {}) { return Json(Array(items)); }
  static Json object() { return Json(Object{}); }
  template <class T>
  static Json array_of(const std::vector<T>& items) {
    Array a;
    a.reserve(items.size());
    for (const auto& x : items) a.emplace_back(x);
    return Json(std::move(a));
  }

  // --- kind ---------------------------------------------------------------------------
  Kind kind() const noexcept { return static_cast<Kind>(v_.index()); }
  bool is_null() const noexcept { return kind() == Kind::null; }
  bool is_bool() const noexcept { return kind() == Kind::boolean; }
  bool is_int() const noexcept { return kind() == Kind::integer; }
  bool is_number() const noexcept { return kind() == Kind::integer || kind() == Kind::number; }
  bool is_string() const noexcept { return kind() == Kind::string; }
  bool is_array() const noexcept { return kind() == Kind::array; }
  bool is_object() const noexcept { return kind() == Kind::object; }

  // --- access (JsonError on the wrong kind) ---------------------------------------------
  bool as_bool() const;
  std::int64_t as_int() const;  // also a double with no fraction that fits
  double as_double() const;     // integers convert
  const std::string& as_string() const;
  const Array& as_array() const;
  Array& as_array();
  const Object& as_object() const;
  Object& as_object();

  // Object access. operator[] on null turns it into an object; on an object it inserts
  // null when the key is missing. at() throws JsonError when the key is missing.
  Json& operator[](std::string_view key);
  const Json& at(std::string_view key) const;
  // nullptr when missing or not an object.
  const Json* find(std::string_view key) const;
  bool contains(std::string_view key) const { return find(key) != nullptr; }
  // The value at key converted to T, or `fallback` when missing or null.
  template <class T>
  T value(std::string_view key, T fallback) const;

  // Array access. push_back on null turns it into an array.
  Json& operator[](std::size_t index);
  const Json& operator[](std::size_t index) const;
  void push_back(Json item);
  // Elements of an array, members of an object, 0 otherwise.
  std::size_t size() const noexcept;
  bool empty() const noexcept { return size() == 0; }

  // --- text -------------------------------------------------------------------------
  std::string dump() const;
  void dump_to(std::string& out) const;
  static constexpr std::size_t kDefaultMaxDepth = 64;
  static Json parse(std::string_view text, std::size_t max_depth = kDefaultMaxDepth);

  friend bool operator==(const Json& a, const Json& b);
  friend bool operator!=(const Json& a, const Json& b) { return !(a == b); }

 private:
  std::variant<std::nullptr_t, bool, std::int64_t, double, std::string, Array, Object> v_;
};

// Appends `s` as a JSON string literal (quoted, escaped).
void json_quote(std::string& out, std::string_view s);

template <class T>
T Json::value(std::string_view key, T fallback) const {
  const Json* j = find(key);
  if (!j || j->is_null()) return fallback;
  if constexpr (std::is_same_v<T, bool>) {
    return j->as_bool();
  } else if constexpr (std::is_integral_v<T>) {
    return static_cast<T>(j->as_int());
  } else if constexpr (std::is_floating_point_v<T>) {
    return static_cast<T>(j->as_double());
  } else if constexpr (std::is_constructible_v<T, std::string>) {
    return T(j->as_string());
  } else {
    return T(*j);
  }
}

}  // namespace grove::web
