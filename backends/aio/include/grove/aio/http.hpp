// An async HTTP/1.1 client on libcurl's multi-socket interface.
//
// libcurl's sockets are watched by the task's EventLoop (CURLMOPT_SOCKETFUNCTION) and its
// timeouts are loop timers (CURLMOPT_TIMERFUNCTION): no thread of grove's, on any engine.
// Requests on one client share its connection cache and run concurrently:
//
//   aio::HttpClient http;                                    // on the running loop
//   auto [a, b] = co_await aio::gather(http.get(url_a), http.get(url_b));
//   const aio::HttpHeaders json{{"Content-Type", "application/json"}};
//   aio::HttpResponse r = co_await http.post(url, R"({"x":1})", json, 2s);
//
// Any status the server sends (404, 500, ...) is a response, not an error. A transfer that
// fails (refused, reset, bad URL) throws HttpError; one that runs out of time throws
// TimeoutError. Both messages name the method and the URL. Cancelling the task aborts the
// transfer.
//
// HTTPS (libcurl over OpenSSL) verifies the server's certificate chain and host name by
// default, against the system's CAs or `tls.ca_file`; a certificate that fails says so
// ("the certificate of localhost was not accepted: SSL certificate problem: ...", OpenSSL's
// reason):
//
//   aio::HttpRequest r("GET", "https://localhost:8443/");
//   r.tls.ca_file = "/etc/ssl/my-ca.pem";                       // a private CA
//   r.tls.cert_file = "client.pem"; r.tls.key_file = "client.key";  // a client certificate
//   aio::HttpResponse resp = co_await http.request(std::move(r));
#pragma once

#include <grove/aio/task.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace grove::aio {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

// Not an aggregate on purpose: g++ 12 destroys twice the members of an aggregate
// temporary built inside a co_await expression (`co_await c.request({...})`); with a
// constructor, `co_await c.request(HttpRequest("POST", url))` is safe.
struct HttpRequest {
  explicit HttpRequest(std::string method_ = "GET", std::string url_ = {})
      : method(std::move(method_)), url(std::move(url_)) {}

  std::string method = "GET";
  std::string url;
  HttpHeaders headers;
  std::string body;  // sent when non-empty, or for POST/PUT/PATCH
  // For the whole transfer (connecting included); `forever` for none.
  Duration timeout = std::chrono::seconds(30);
  bool follow_redirects = false;
  // HTTPS settings; the defaults verify the server against the system's CAs.
  struct Tls {
    std::string ca_file;    // PEM: the CAs to trust instead of the system's
    std::string cert_file;  // PEM: a client certificate (with its chain) ...
    std::string key_file;   // ... and its unencrypted private key
    bool verify = true;     // false: no check of the chain nor the name (never in production)
  } tls;
};

struct HttpResponse {
  long status = 0;
  HttpHeaders headers;  // as received, in order (of the final response, after redirects)
  std::string body;

  // The first header named `name` (case-insensitive), if any.
  std::optional<std::string> header(std::string_view name) const;
};

// A transfer failed. what() names the method, the URL and libcurl's reason.
class HttpError : public std::runtime_error {
 public:
  HttpError(std::string message, std::string url, int curl_code)
      : std::runtime_error(std::move(message)), url_(std::move(url)), curl_code_(curl_code) {}
  const std::string& url() const noexcept { return url_; }
  int curl_code() const noexcept { return curl_code_; }

 private:
  std::string url_;
  int curl_code_;
};

namespace detail {
class CurlMulti;
}

class HttpClient {
 public:
  // A client on the loop running in this context (get_running_loop()).
  HttpClient();
  explicit HttpClient(EventLoop& loop);
  // Transfers still running fail with HttpError.
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // The client must outlive the returned tasks.
  Task<HttpResponse> request(HttpRequest request);
  Task<HttpResponse> get(std::string url, HttpHeaders headers = {},
                         Duration timeout = std::chrono::seconds(30));
  Task<HttpResponse> post(std::string url, std::string body, HttpHeaders headers = {},
                          Duration timeout = std::chrono::seconds(30));
  // Transfers in flight.
  std::size_t active() const noexcept;

 private:
  std::unique_ptr<detail::CurlMulti> multi_;
};

// One-off requests, each on a client of its own (no connection reuse between calls).
Task<HttpResponse> http_request(HttpRequest request);
Task<HttpResponse> http_get(std::string url, HttpHeaders headers = {},
                            Duration timeout = std::chrono::seconds(30));
Task<HttpResponse> http_post(std::string url, std::string body, HttpHeaders headers = {},
                             Duration timeout = std::chrono::seconds(30));

}  // namespace grove::aio
