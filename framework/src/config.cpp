// app.config: defaults, typed-access errors, JSON files and environment variables.
#include <grove/web/config.hpp>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

extern char** environ;

namespace grove::web {

namespace {
constexpr std::string_view kInCode = "app.config";

std::string shown(const Json& v) {
  std::string text = v.dump();
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  return text;
}
}  // namespace

Config::Config() {
  values_ = Json::object();
  values_["DEBUG"] = false;
  values_["TESTING"] = false;
  values_["PROPAGATE_EXCEPTIONS"] = nullptr;
  values_["MAX_CONTENT_LENGTH"] = nullptr;
  values_["MAX_FORM_MEMORY_SIZE"] = static_cast<std::int64_t>(500000);
  values_["MAX_FORM_PARTS"] = static_cast<std::int64_t>(1000);
  values_["UPLOAD_SPOOL_THRESHOLD"] = static_cast<std::int64_t>(500 * 1024);
  values_["UPLOAD_TEMP_DIR"] = "";
  values_["SEND_FILE_MAX_AGE_DEFAULT"] = nullptr;
  values_["TEMPLATES_AUTO_RELOAD"] = nullptr;
  values_["JSON_MAX_DEPTH"] = static_cast<std::int64_t>(Json::kDefaultMaxDepth);
}

Json& Config::operator[](std::string_view key) {
  // Set in code from here on (a value loaded earlier is being replaced or changed).
  if (auto it = sources_.find(key); it != sources_.end()) sources_.erase(it);
  return values_[key];
}

std::string Config::source(std::string_view key) const {
  auto it = sources_.find(key);
  return it == sources_.end() ? std::string(kInCode) : it->second;
}

void Config::wrong_type(std::string_view key, const Json& v, std::string_view expected) const {
  std::string from = source(key);
  throw ConfigError(std::string(key), from,
                    "config key \"" + std::string(key) + "\" (from " + from + ") must be " +
                        std::string(expected) + ", not " + shown(v));
}

void Config::missing(std::string_view key) const {
  throw ConfigError(
      std::string(key), "",
      "config key \"" + std::string(key) +
          "\" is required but not set: set it in the config file, the environment or app.config");
}

void Config::update(const Json& object, std::string_view source) {
  if (!object.is_object())
    throw ConfigError("", std::string(source), "Config::update: not a JSON object");
  for (const auto& [k, v] : object.as_object()) {
    values_[k] = v;
    if (source == kInCode) sources_.erase(k);
    else sources_[k] = std::string(source);
  }
}

bool Config::from_file(const std::string& path, bool silent) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (silent && errno == ENOENT) return false;
    throw ConfigError("", path,
                      "config file " + path + ": cannot be read (" + std::strerror(errno) + ")");
  }
  std::ostringstream text;
  text << in.rdbuf();
  Json object;
  try {
    object = Json::parse(text.str());
  } catch (const JsonError& e) {
    throw ConfigError("", path, "config file " + path + ": invalid JSON: " + e.what());
  }
  if (!object.is_object())
    throw ConfigError("", path,
                      "config file " + path +
                          ": must hold a JSON object ({\"KEY\": value, ...}), not " +
                          shown(object));
  update(object, path);
  return true;
}

std::size_t Config::from_env(std::string_view prefix) {
  std::size_t n = 0;
  for (char** e = environ; e && *e; ++e) {
    std::string_view kv(*e);
    if (!kv.starts_with(prefix)) continue;
    auto eq = kv.find('=');
    if (eq == std::string_view::npos || eq == prefix.size()) continue;
    std::string key(kv.substr(prefix.size(), eq - prefix.size()));
    std::string_view value = kv.substr(eq + 1);
    try {
      values_[key] = Json::parse(value);
    } catch (const JsonError&) {
      values_[key] = std::string(value);
    }
    sources_[key] = "environment variable " + std::string(kv.substr(0, eq));
    ++n;
  }
  return n;
}

}  // namespace grove::web
