// grove::web::Config — app.config (Flask's Config): a JSON object with typed access, loaded
// from code, a JSON file and prefixed environment variables.
//
//   app.config.from_file("app.json");            // {"SECRET_KEY": "...", "PORT": 8080}
//   app.config.from_env("NOTES_");               // NOTES_DEBUG=true -> DEBUG = true
//   int port = app.config.get<int>("PORT", 8000);
//   std::string key = app.config.require<std::string>("SECRET_KEY");
//
// Promises:
//  - get<T>(key, fallback) returns the fallback only when the key is missing or null; a
//    value of another type is a ConfigError naming the key, where the value came from (the
//    file, the environment variable, or app.config in code) and the type expected:
//      config key "PORT" (from app.json) must be an integer, not "eighty"
//    T may be bool, an integer type (range-checked), a floating type, std::string,
//    std::vector<std::string> or Json (any value).
//  - require<T>(key) is get<T> without a fallback: a missing key is a ConfigError naming it.
//  - from_file reads a JSON object; a missing file (unless `silent`), unreadable file,
//    invalid JSON (with the byte offset) or a non-object is a ConfigError naming the file,
//    and nothing is loaded. Later loads override earlier ones key by key.
//  - from_env loads PREFIX<KEY>=value as KEY, the value parsed as JSON when it is JSON
//    (numbers, true/false, "quoted", [lists]) and kept as a string otherwise.
// Defaults: DEBUG false, TESTING false, PROPAGATE_EXCEPTIONS null (follows TESTING),
// MAX_CONTENT_LENGTH null (the server's limit applies), JSON_MAX_DEPTH 64.
#pragma once

#include <grove/web/json.hpp>

#include <cstdint>
#include <limits>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace grove::web {

class ConfigError : public std::runtime_error {
 public:
  ConfigError(std::string key, std::string source, std::string message)
      : std::runtime_error(std::move(message)), key_(std::move(key)), source_(std::move(source)) {}
  // The key concerned (empty for a whole file) and where its value came from.
  const std::string& key() const noexcept { return key_; }
  const std::string& source() const noexcept { return source_; }

 private:
  std::string key_, source_;
};

class Config {
 public:
  Config();

  Json& operator[](std::string_view key);
  const Json* find(std::string_view key) const { return values_.find(key); }
  bool contains(std::string_view key) const { return values_.contains(key); }

  template <class T>
  T get(std::string_view key, T fallback) const {
    const Json* v = find(key);
    if (!v || v->is_null()) return fallback;
    return convert<T>(key, *v);
  }
  template <class T>
  T require(std::string_view key) const {
    const Json* v = find(key);
    if (!v || v->is_null()) missing(key);
    return convert<T>(key, *v);
  }

  // Loads a JSON object from `path`. Returns false only for a missing file with `silent`.
  bool from_file(const std::string& path, bool silent = false);
  // Returns how many variables were loaded.
  std::size_t from_env(std::string_view prefix = "GROVE_WEB_");
  void update(const Json& object, std::string_view source = "app.config");
  const Json& values() const noexcept { return values_; }
  // Where key's value came from: a file path, "environment variable X" or "app.config".
  std::string source(std::string_view key) const;

 private:
  template <class T>
  T convert(std::string_view key, const Json& v) const;
  [[noreturn]] void wrong_type(std::string_view key, const Json& v,
                               std::string_view expected) const;
  [[noreturn]] void missing(std::string_view key) const;

  Json values_;
  std::map<std::string, std::string, std::less<>> sources_;
};

template <class T>
T Config::convert(std::string_view key, const Json& v) const {
  if constexpr (std::is_same_v<T, bool>) {
    if (!v.is_bool()) wrong_type(key, v, "true or false");
    return v.as_bool();
  } else if constexpr (std::is_integral_v<T>) {
    if (!v.is_int()) wrong_type(key, v, "an integer");
    std::int64_t i = v.as_int();
    if constexpr (std::is_unsigned_v<T>) {
      if (i < 0 || static_cast<std::uint64_t>(i) > std::numeric_limits<T>::max())
        wrong_type(key, v, "an integer from 0 to " + std::to_string(std::numeric_limits<T>::max()));
    } else {
      if (i < std::numeric_limits<T>::min() || i > std::numeric_limits<T>::max())
        wrong_type(key, v,
                   "an integer from " + std::to_string(std::numeric_limits<T>::min()) + " to " +
                       std::to_string(std::numeric_limits<T>::max()));
    }
    return static_cast<T>(i);
  } else if constexpr (std::is_floating_point_v<T>) {
    if (!v.is_number()) wrong_type(key, v, "a number");
    return static_cast<T>(v.as_double());
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (!v.is_string()) wrong_type(key, v, "a string");
    return v.as_string();
  } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
    if (!v.is_array()) wrong_type(key, v, "a list of strings");
    std::vector<std::string> out;
    for (const auto& item : v.as_array()) {
      if (!item.is_string()) wrong_type(key, v, "a list of strings");
      out.push_back(item.as_string());
    }
    return out;
  } else {
    static_assert(std::is_same_v<T, Json>,
                  "Config::get<T>: T must be bool, an integer, a floating type, "
                  "std::string, std::vector<std::string> or Json");
    return v;
  }
}

}  // namespace grove::web
