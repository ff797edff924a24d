// A Redis reply, RESP2 or RESP3: one value of a type, with typed access that throws
// redis::TypeError when the type is not the one asked for.
//
//   redis::Reply r = co_await conn.command("GET", "user:7");
//   std::optional<std::string> name = r.as_optional_string();   // nil: nullopt
//   redis::Reply list = co_await conn.command("LRANGE", "queue", 0, -1);
//   for (const redis::Reply& item : list.elements()) use(item.as_string());
//
// Error replies (-ERR ...) are values here; Connection::command throws them as ServerError,
// pipeline() returns them in place so one failure does not hide the other replies.
#pragma once

#include <grove/redis/errors.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace grove::redis {

enum class ReplyType {
  simple_string,  // +OK
  error,          // -ERR ... (and RESP3 blob errors !)
  integer,        // :42
  bulk_string,    // $5 hello (and RESP3 verbatim strings =)
  nil,            // $-1, *-1, RESP3 _
  array,          // *N
  map,            // RESP3 %N: elements() holds key, value, key, value, ...
  set,            // RESP3 ~N
  push,           // RESP3 >N: out-of-band data (pub/sub messages)
  double_value,   // RESP3 ,3.14 (text kept in str())
  boolean,        // RESP3 #t / #f
  big_number,     // RESP3 (123456789012345678901234567890 (text in str())
};

// "bulk string", "array", ... for messages.
const char* type_name(ReplyType type) noexcept;

class Reply {
 public:
  Reply() = default;  // nil
  static Reply scalar(ReplyType type, std::string text) {
    Reply r;
    r.type_ = type;
    r.str_ = std::move(text);
    return r;
  }
  static Reply of_integer(std::int64_t v) {
    Reply r;
    r.type_ = ReplyType::integer;
    r.int_ = v;
    return r;
  }
  static Reply of_boolean(bool v) {
    Reply r;
    r.type_ = ReplyType::boolean;
    r.int_ = v;
    return r;
  }
  static Reply aggregate(ReplyType type, std::vector<Reply> elements) {
    Reply r;
    r.type_ = type;
    r.elements_ = std::move(elements);
    return r;
  }

  ReplyType type() const noexcept { return type_; }
  bool is_nil() const noexcept { return type_ == ReplyType::nil; }
  bool is_error() const noexcept { return type_ == ReplyType::error; }
  bool is_string() const noexcept {
    return type_ == ReplyType::simple_string || type_ == ReplyType::bulk_string;
  }
  bool is_aggregate() const noexcept {
    return type_ == ReplyType::array || type_ == ReplyType::map || type_ == ReplyType::set ||
           type_ == ReplyType::push;
  }

  // A simple or bulk string (also accepted: an integer, as its digits, and a double's text).
  std::string as_string() const;
  // As as_string(), with nil as nullopt.
  std::optional<std::string> as_optional_string() const;
  // An integer reply (also a string of digits: GET of a counter).
  std::int64_t as_integer() const;
  std::optional<std::int64_t> as_optional_integer() const;
  double as_double() const;
  // A RESP3 boolean, or RESP2's integer 0/1 (EXISTS, SISMEMBER).
  bool as_bool() const;
  // The elements of an array, set, map (key, value, ...) or push; TypeError for others,
  // nil included (a nil array is is_nil()).
  const std::vector<Reply>& elements() const;
  std::vector<Reply>& elements();
  // An array or map read as pairs: HGETALL in RESP2 (flat) and RESP3 (a map).
  std::vector<std::pair<std::string, std::string>> as_pairs() const;
  // The error text of an error reply ("ERR unknown command ...").
  const std::string& error() const;
  // The raw text of a scalar (simple, bulk, error, double, big number).
  const std::string& str() const noexcept { return str_; }

  // Throws ServerError if this is an error reply; returns *this otherwise.
  const Reply& throw_if_error() const;

  // A short rendering for messages and tests: "\"OK\"", "(integer) 3", "[\"a\", nil]".
  std::string to_string() const;

  bool operator==(const Reply&) const = default;

 private:
  [[noreturn]] void wrong_type(const char* wanted) const;
  ReplyType type_ = ReplyType::nil;
  std::string str_;
  std::int64_t int_ = 0;
  std::vector<Reply> elements_;
};

}  // namespace grove::redis
