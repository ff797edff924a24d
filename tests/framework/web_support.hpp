// Helpers shared by the framework tests.
#pragma once

#include <grove/web.hpp>

#include <catch2/catch.hpp>

#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace grove::web::test {

using namespace std::chrono_literals;

// Captures what app.logger writes.
struct LogCapture {
  std::mutex mutex;
  std::vector<std::string> lines;
  explicit LogCapture(App& app) {
    app.logger.set_sink([this](Logger::Level level, std::string_view, std::string_view message) {
      std::lock_guard lock(mutex);
      lines.push_back(std::string(level_name(level)) + ": " + std::string(message));
    });
  }
  bool contains(std::string_view text) {
    std::lock_guard lock(mutex);
    for (auto& l : lines)
      if (l.find(text) != std::string::npos) return true;
    return false;
  }
  std::size_t size() {
    std::lock_guard lock(mutex);
    return lines.size();
  }
};

// The test client with a cookie jar, as a browser keeps one.
struct Browser {
  TestClient client;
  std::map<std::string, std::string> jar;
  explicit Browser(App& app) : client(app.test_client()) {}

  TestResponse open(const std::string& method, const std::string& target, RequestOptions o = {}) {
    std::string cookie;
    for (auto& [k, v] : jar) cookie += (cookie.empty() ? "" : "; ") + k + "=" + v;
    if (!cookie.empty()) o.headers.set("Cookie", cookie);
    TestResponse r = client.open(method, target, std::move(o));
    for (std::string_view sv : r.headers.get_all("Set-Cookie")) {
      std::string set(sv);
      auto eq = set.find('='), end = set.find(';');
      std::string name = set.substr(0, eq), value = set.substr(eq + 1, end - eq - 1);
      if (set.find("Max-Age=0") != std::string::npos) jar.erase(name);
      else jar[name] = value;
    }
    return r;
  }
  TestResponse get(const std::string& target) { return open("GET", target); }
};

inline std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (auto& s : v) out += (out.empty() ? "" : ",") + s;
  return out;
}

}  // namespace grove::web::test
