// Real HTTP for the framework tests: an in-process server on its own OS thread (its own
// hub), libcurl clients on the test thread, and a spawned grove-demo.
#pragma once

#include "web_support.hpp"

#include <grove/http.hpp>

#include <curl/curl.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace grove::web::test {

struct HttpResult {
  long status = 0;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string error;  // curl's, when the transfer failed
  std::string header(std::string_view name) const {
    for (auto& [k, v] : headers)
      if (iequals(k, name)) return v;
    return {};
  }
  bool has_header(std::string_view name) const {
    for (auto& [k, v] : headers)
      if (iequals(k, name)) return true;
    return false;
  }
};

struct CurlRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::string> headers;
  std::optional<std::string> body;
  bool chunked = false;  // send the body with Transfer-Encoding: chunked
  long timeout_ms = 10000;
  std::string ca_file{};                // HTTPS: the CA the server's certificate chains to
  std::string cert_file{}, key_file{};  // HTTPS: a client certificate
};

namespace detail_http {
inline size_t on_body(char* p, size_t s, size_t n, void* u) {
  static_cast<HttpResult*>(u)->body.append(p, s * n);
  return s * n;
}
inline size_t on_header(char* p, size_t s, size_t n, void* u) {
  std::string_view line(p, s * n);
  auto colon = line.find(':');
  if (colon != std::string_view::npos) {
    std::string_view v = line.substr(colon + 1);
    while (!v.empty() && (v.front() == ' ')) v.remove_prefix(1);
    while (!v.empty() && (v.back() == '\r' || v.back() == '\n' || v.back() == ' '))
      v.remove_suffix(1);
    static_cast<HttpResult*>(u)->headers.emplace_back(std::string(line.substr(0, colon)),
                                                      std::string(v));
  } else if (line.starts_with("HTTP/")) {
    static_cast<HttpResult*>(u)->headers.clear();  // a 100 Continue head came first
  }
  return s * n;
}
struct Upload {
  std::string data;
  size_t pos = 0;
};
inline size_t on_read(char* p, size_t s, size_t n, void* u) {
  auto* up = static_cast<Upload*>(u);
  size_t take = std::min(s * n, up->data.size() - up->pos);
  take = std::min<size_t>(take, 7);  // small pieces: several chunks
  std::memcpy(p, up->data.data() + up->pos, take);
  up->pos += take;
  return take;
}

// A prepared easy handle and what it writes into.
struct Transfer {
  CURL* easy = nullptr;
  curl_slist* list = nullptr;
  HttpResult result;
  Upload upload;
  Transfer(const Transfer&) = delete;
  explicit Transfer(const CurlRequest& r) {
    easy = curl_easy_init();
    curl_easy_setopt(easy, CURLOPT_URL, r.url.c_str());
    curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, r.method.c_str());
    if (r.method == "HEAD") curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &on_body);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, &result);
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &on_header);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, &result);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, r.timeout_ms);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_FORBID_REUSE, 1L);
    for (auto& h : r.headers) list = curl_slist_append(list, h.c_str());
    if (r.body) {
      if (r.chunked) {
        upload.data = *r.body;
        list = curl_slist_append(list, "Transfer-Encoding: chunked");
        curl_easy_setopt(easy, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(easy, CURLOPT_READFUNCTION, &on_read);
        curl_easy_setopt(easy, CURLOPT_READDATA, &upload);
        curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, r.method.c_str());
      } else {
        curl_easy_setopt(easy, CURLOPT_POSTFIELDS, r.body->data());
        curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, long(r.body->size()));
      }
    }
    if (list) curl_easy_setopt(easy, CURLOPT_HTTPHEADER, list);
    if (!r.ca_file.empty()) curl_easy_setopt(easy, CURLOPT_CAINFO, r.ca_file.c_str());
    if (!r.cert_file.empty()) {
      curl_easy_setopt(easy, CURLOPT_SSLCERT, r.cert_file.c_str());
      curl_easy_setopt(easy, CURLOPT_SSLKEY, r.key_file.c_str());
    }
  }
  void finish(CURLcode rc) {
    if (rc != CURLE_OK) result.error = curl_easy_strerror(rc);
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &result.status);
  }
  ~Transfer() {
    curl_easy_cleanup(easy);
    curl_slist_free_all(list);
  }
};
}  // namespace detail_http

inline HttpResult http(const CurlRequest& r) {
  detail_http::Transfer t(r);
  t.finish(curl_easy_perform(t.easy));
  return std::move(t.result);
}
inline HttpResult http_get(const std::string& url) { return http({"GET", url}); }

// Runs `cmd` through the shell and returns its standard output and error; *status gets its
// exit status (128 if it did not exit).
inline std::string output_of(const std::string& cmd, int* status) {
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  REQUIRE(p);
  char buf[4096];
  std::string out;
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int st = ::pclose(p);
  *status = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
  return out;
}

// A real client's run as one string, "exit <status>\n<its output>": a test compares both.
inline std::string run_client(const std::string& cmd) {
  int status = 0;
  std::string out = output_of(cmd, &status);
  return "exit " + std::to_string(status) + "\n" + out;
}

// "name=value" of a Set-Cookie field.
inline std::string cookie_pair(const std::string& set_cookie) {
  return set_cookie.substr(0, set_cookie.find(';'));
}

// Runs every request at once (curl multi) and returns when all are done.
inline std::vector<HttpResult> http_parallel(const std::vector<CurlRequest>& requests) {
  CURLM* multi = curl_multi_init();
  curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, 0L);
  std::vector<std::unique_ptr<detail_http::Transfer>> ts;
  for (auto& r : requests) {
    ts.push_back(std::make_unique<detail_http::Transfer>(r));
    curl_multi_add_handle(multi, ts.back()->easy);
  }
  int running = 0;
  do {
    curl_multi_perform(multi, &running);
    int msgs = 0;
    while (CURLMsg* m = curl_multi_info_read(multi, &msgs))
      if (m->msg == CURLMSG_DONE)
        for (auto& t : ts)
          if (t->easy == m->easy_handle) t->finish(m->data.result);
    if (running) curl_multi_poll(multi, nullptr, 0, 100, nullptr);
  } while (running);
  std::vector<HttpResult> out;
  for (auto& t : ts) {
    curl_multi_remove_handle(multi, t->easy);
    out.push_back(std::move(t->result));
  }
  curl_multi_cleanup(multi);
  return out;
}

// The framework app served by grove::http::Server on a thread of its own (its own hub).
class ServedApp {
 public:
  explicit ServedApp(App& app, std::function<void(grove::http::ServerConfig&)> tweak = {}) {
    grove::http::ServerConfig config;
    config.binds = {"127.0.0.1:0"};
    config.handle_signals = false;
    config.graceful_timeout = 2s;
    if (tweak) tweak(config);
    std::promise<std::string> ready;
    auto address = ready.get_future();
    thread_ = std::thread([this, &app, config, &ready] {
      try {
        server_ = std::make_unique<grove::http::Server>(app.application(), config);
        server_->listen();
        ready.set_value(server_->addresses().front());
        server_->serve_forever();
      } catch (...) {
        try {
          ready.set_exception(std::current_exception());
        } catch (...) {
        }
      }
    });
    std::string bound = address.get();  // "127.0.0.1:port" or "https://127.0.0.1:port"
    base_ = bound.starts_with("https://") ? bound : "http://" + bound;
  }
  ~ServedApp() {
    if (server_) server_->stop_threadsafe(1s);
    thread_.join();
  }
  const std::string& base() const { return base_; }
  std::string url(std::string_view path) const { return base_ + std::string(path); }
  grove::http::Server& server() { return *server_; }

 private:
  std::thread thread_;
  std::unique_ptr<grove::http::Server> server_;
  std::string base_;
};

#ifdef GROVE_DEMO_PATH
// A grove-demo child process (or another program serving through grove::http::serve):
// started with `args` (plus --bind 127.0.0.1:0), its stderr collected; base() is its
// address once the startup line appeared.
class DemoProcess {
 public:
  explicit DemoProcess(std::vector<std::string> args, std::vector<std::string> env = {},
                       std::string program = GROVE_DEMO_PATH) {
    int fds[2];
    REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
    std::vector<std::string> argv_s = {program, "--bind", "127.0.0.1:0"};
    for (auto& a : args) argv_s.push_back(a);
    std::vector<char*> argv;
    for (auto& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> env_s;
    for (char** e = environ; *e; ++e) env_s.emplace_back(*e);
    for (auto& e : env) env_s.push_back(e);
    std::vector<char*> envp;
    for (auto& e : env_s) envp.push_back(e.data());
    envp.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
    REQUIRE(posix_spawn(&pid_, program.c_str(), &fa, nullptr, argv.data(), envp.data()) == 0);
    posix_spawn_file_actions_destroy(&fa);
    ::close(fds[1]);
    err_ = fds[0];
    auto deadline = std::chrono::steady_clock::now() + 20s;
    while (base_.empty() && std::chrono::steady_clock::now() < deadline) {
      read_some(200);
      auto at = output_.find("listening on http://");
      if (at != std::string::npos) {
        auto end = output_.find_first_of(" ,\n", at + 20);
        if (end != std::string::npos) base_ = output_.substr(at + 13, end - at - 13);
      }
      int status;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        break;
      }
    }
    INFO(output_);
    REQUIRE(!base_.empty());
  }
  ~DemoProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status;
      for (int i = 0; i < 100; ++i) {
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
          pid_ = -1;
          break;
        }
        std::this_thread::sleep_for(50ms);
      }
      if (pid_ > 0) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
      }
    }
    ::close(err_);
  }
  const std::string& base() const { return base_; }
  pid_t pid() const { return pid_; }
  std::string url(std::string_view path) const { return base_ + std::string(path); }
  // Everything the process wrote to stderr so far.
  const std::string& output() {
    read_some(50);
    return output_;
  }

 private:
  void read_some(int timeout_ms) {
    pollfd p{err_, POLLIN, 0};
    while (::poll(&p, 1, timeout_ms) > 0) {
      char buf[4096];
      ssize_t n = ::read(err_, buf, sizeof buf);
      if (n <= 0) break;
      output_.append(buf, size_t(n));
      timeout_ms = 0;
    }
  }
  pid_t pid_ = -1;
  int err_ = -1;
  std::string output_;
  std::string base_;
};

#endif  // GROVE_DEMO_PATH

}  // namespace grove::web::test
