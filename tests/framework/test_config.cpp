// app.config: typed access whose errors name the key, its source and the expected type;
// JSON files and prefixed environment variables (Flask's test_config.py, as behaviours).
#include "web_support.hpp"

#include <unistd.h>
#include <cstdio>
#include <fstream>

using namespace grove::web;
using namespace grove::web::test;

namespace {
// A file in the test's temporary directory, removed afterwards.
struct TempFile {
  std::string path;
  explicit TempFile(const std::string& text) {
    char name[] = "/tmp/grove-config-XXXXXX.json";
    int fd = ::mkstemps(name, 5);
    REQUIRE(fd >= 0);
    ::close(fd);
    path = name;
    std::ofstream(path) << text;
  }
  ~TempFile() { std::remove(path.c_str()); }
};

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no ConfigError)";
}
}  // namespace

TEST_CASE("web: config: typed access, and a wrong type names the key, its source and the type",
          "[config]") {
  Config c;
  c["PORT"] = "eighty";
  c["DEBUG"] = true;
  c["RATIO"] = 0.5;
  c["NAMES"] = Json::array({"a", "b"});
  c["BIG"] = 70000;
  CHECK(c.get<bool>("DEBUG", false));
  CHECK(c.get<double>("RATIO", 0) == 0.5);
  CHECK(c.get<int>("MISSING", 7) == 7);
  CHECK(c.get<std::vector<std::string>>("NAMES", {}) == std::vector<std::string>{"a", "b"});
  CHECK(c.get<int>("BIG", 0) == 70000);
  CHECK(c.get<Json>("NAMES", nullptr).size() == 2);
  c["NULLED"] = nullptr;
  CHECK(c.get<std::string>("NULLED", "fallback") == "fallback");  // null is "not set"

  CHECK(error_of([&] { c.get<int>("PORT", 0); }) ==
        "config key \"PORT\" (from app.config) must be an integer, not \"eighty\"");
  CHECK(error_of([&] { c.get<std::string>("DEBUG", ""); }) ==
        "config key \"DEBUG\" (from app.config) must be a string, not true");
  CHECK(error_of([&] { c.get<bool>("RATIO", false); }).find("must be true or false, not 0.5") !=
        std::string::npos);
  CHECK(error_of([&] { c.get<std::uint16_t>("BIG", 0); }).find("from 0 to 65535, not 70000") !=
        std::string::npos);
  CHECK(error_of([&] { c.get<int>("DEBUG", 0); }).find("\"DEBUG\"") != std::string::npos);
  c["NAMES"] = Json::array({"a", 1});
  CHECK(error_of([&] { c.get<std::vector<std::string>>("NAMES", {}); }).find("a list of strings") !=
        std::string::npos);

  try {
    c.require<std::string>("SECRET_KEY");
    FAIL("no ConfigError");
  } catch (const ConfigError& e) {
    CHECK(e.key() == "SECRET_KEY");
    CHECK(std::string(e.what()).find("required but not set") != std::string::npos);
  }
  CHECK(c.require<bool>("DEBUG"));
}

TEST_CASE("web: config: a JSON file loads key by key and its errors name the file", "[config]") {
  Config c;
  TempFile good(R"({"SECRET_KEY": "from file", "PORT": "eighty", "DEBUG": true})");
  CHECK(c.from_file(good.path));
  CHECK(c.get<std::string>("SECRET_KEY", "") == "from file");
  CHECK(c.get<bool>("DEBUG", false));
  CHECK(c.get<bool>("TESTING", true) == false);  // defaults the file does not name stay
  CHECK(c.source("PORT") == good.path);
  CHECK(error_of([&] { c.get<int>("PORT", 0); }) ==
        "config key \"PORT\" (from " + good.path + ") must be an integer, not \"eighty\"");
  c["PORT"] = 8080;  // set in code: the file is no longer its source
  CHECK(c.source("PORT") == "app.config");

  TempFile later(R"({"SECRET_KEY": "second"})");
  c.from_file(later.path);
  CHECK(c.get<std::string>("SECRET_KEY", "") == "second");
  CHECK(c.get<bool>("DEBUG", false));

  // Bad files are errors naming the file, and load nothing.
  TempFile broken(R"({"A": 1,})");
  std::string e = error_of([&] { c.from_file(broken.path); });
  CHECK(e.find(broken.path) != std::string::npos);
  CHECK(e.find("invalid JSON") != std::string::npos);
  CHECK_FALSE(c.contains("A"));
  TempFile list("[1, 2]");
  CHECK(error_of([&] { c.from_file(list.path); }).find("must hold a JSON object") !=
        std::string::npos);
  CHECK(error_of([&] { c.from_file("/nonexistent/grove.json"); }).find("/nonexistent/grove.json") !=
        std::string::npos);
  CHECK_FALSE(c.from_file("/nonexistent/grove.json", /*silent=*/true));
}

TEST_CASE("web: config: prefixed environment variables, parsed as JSON when they are", "[config]") {
  ::setenv("GROVE_CFGTEST_PORT", "8080", 1);
  ::setenv("GROVE_CFGTEST_NAME", "plain words", 1);
  ::setenv("GROVE_CFGTEST_DEBUG", "true", 1);
  ::setenv("GROVE_CFGTEST_HOSTS", R"(["a","b"])", 1);
  ::setenv("GROVE_CFGTEST_LIMIT", "lots", 1);
  Config c;
  CHECK(c.from_env("GROVE_CFGTEST_") == 5);
  CHECK(c.get<int>("PORT", 0) == 8080);
  CHECK(c.get<std::string>("NAME", "") == "plain words");
  CHECK(c.get<bool>("DEBUG", false));
  CHECK(c.get<std::vector<std::string>>("HOSTS", {}).size() == 2);
  CHECK(error_of([&] { c.get<int>("LIMIT", 0); }) ==
        "config key \"LIMIT\" (from environment variable GROVE_CFGTEST_LIMIT) must be an integer, "
        "not \"lots\"");
  for (const char* k : {"PORT", "NAME", "DEBUG", "HOSTS", "LIMIT"})
    ::unsetenv(("GROVE_CFGTEST_" + std::string(k)).c_str());
}

TEST_CASE("web: config: a wrongly typed framework key fails the request with the key named",
          "[config]") {
  App app;
  LogCapture log(app);
  app.config["SECRET_KEY"] = 12345;
  app.route("/", [] {
    session()["a"] = 1;
    return "ok";
  });
  CHECK(app.test_client().get("/").status == 500);
  CHECK(log.contains("config key \"SECRET_KEY\" (from app.config) must be a string, not 12345"));
}
