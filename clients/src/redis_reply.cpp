// grove::redis::Reply: typed access, each refusal a TypeError naming what the reply was.
#include <grove/redis/reply.hpp>

#include <charconv>
#include <cstdlib>

namespace grove::redis {

const char* type_name(ReplyType type) noexcept {
  switch (type) {
    case ReplyType::simple_string: return "simple string";
    case ReplyType::error: return "error";
    case ReplyType::integer: return "integer";
    case ReplyType::bulk_string: return "bulk string";
    case ReplyType::nil: return "nil";
    case ReplyType::array: return "array";
    case ReplyType::map: return "map";
    case ReplyType::set: return "set";
    case ReplyType::push: return "push";
    case ReplyType::double_value: return "double";
    case ReplyType::boolean: return "boolean";
    case ReplyType::big_number: return "big number";
  }
  return "unknown";
}

void Reply::wrong_type(const char* wanted) const {
  std::string hint;
  if (type_ == ReplyType::nil)
    hint = " (the key or field does not exist: read it with as_optional_...())";
  if (type_ == ReplyType::error) hint = " (the server refused the command)";
  throw TypeError("grove::redis: the reply " + to_string().substr(0, 80) + " is a " +
                  type_name(type_) + ", not " + wanted + hint);
}

std::string Reply::as_string() const {
  switch (type_) {
    case ReplyType::simple_string:
    case ReplyType::bulk_string:
    case ReplyType::double_value:
    case ReplyType::big_number: return str_;
    case ReplyType::integer: return std::to_string(int_);
    default: wrong_type("a string");
  }
}

std::optional<std::string> Reply::as_optional_string() const {
  if (is_nil()) return std::nullopt;
  return as_string();
}

std::int64_t Reply::as_integer() const {
  if (type_ == ReplyType::integer) return int_;
  if (type_ == ReplyType::bulk_string || type_ == ReplyType::simple_string) {
    std::int64_t v = 0;
    auto [end, ec] = std::from_chars(str_.data(), str_.data() + str_.size(), v);
    if (!str_.empty() && ec == std::errc() && end == str_.data() + str_.size()) return v;
  }
  wrong_type("an integer");
}

std::optional<std::int64_t> Reply::as_optional_integer() const {
  if (is_nil()) return std::nullopt;
  return as_integer();
}

double Reply::as_double() const {
  if (type_ == ReplyType::integer) return double(int_);
  if (type_ == ReplyType::double_value || type_ == ReplyType::bulk_string ||
      type_ == ReplyType::simple_string) {
    char* end = nullptr;
    double v = std::strtod(str_.c_str(), &end);
    if (!str_.empty() && end == str_.c_str() + str_.size()) return v;
  }
  wrong_type("a number");
}

bool Reply::as_bool() const {
  if (type_ == ReplyType::boolean || (type_ == ReplyType::integer && (int_ == 0 || int_ == 1)))
    return int_ != 0;
  wrong_type("a boolean (or integer 0/1)");
}

const std::vector<Reply>& Reply::elements() const {
  if (!is_aggregate()) wrong_type("an array, set, map or push");
  return elements_;
}

std::vector<Reply>& Reply::elements() {
  if (!is_aggregate()) wrong_type("an array, set, map or push");
  return elements_;
}

std::vector<std::pair<std::string, std::string>> Reply::as_pairs() const {
  if ((type_ != ReplyType::array && type_ != ReplyType::map) || elements_.size() % 2 != 0)
    wrong_type("a map or an array of key, value pairs");
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(elements_.size() / 2);
  for (std::size_t i = 0; i < elements_.size(); i += 2)
    out.emplace_back(elements_[i].as_string(), elements_[i + 1].as_string());
  return out;
}

const std::string& Reply::error() const {
  if (type_ != ReplyType::error) wrong_type("an error");
  return str_;
}

const Reply& Reply::throw_if_error() const {
  if (type_ == ReplyType::error) throw ServerError(str_);
  return *this;
}

std::string Reply::to_string() const {
  switch (type_) {
    case ReplyType::nil: return "nil";
    case ReplyType::integer: return "(integer) " + std::to_string(int_);
    case ReplyType::boolean: return int_ ? "true" : "false";
    case ReplyType::error: return "(error) " + str_;
    case ReplyType::double_value:
    case ReplyType::big_number: return str_;
    case ReplyType::simple_string:
    case ReplyType::bulk_string:
      return "\"" + str_.substr(0, 200) + (str_.size() > 200 ? "...\"" : "\"");
    default: break;
  }
  std::string out = type_ == ReplyType::map ? "{" : "[";
  for (std::size_t i = 0; i < elements_.size(); ++i) {
    if (i) out += (type_ == ReplyType::map && i % 2) ? ": " : ", ";
    out += elements_[i].to_string();
    if (out.size() > 400) {
      out += ", ...";
      break;
    }
  }
  return out + (type_ == ReplyType::map ? "}" : "]");
}

}  // namespace grove::redis
