// grove::web::Response — what a view returns (or what the framework makes of it).
//
// A view may return a Response, a string (text/html, as Flask), a Json value
// (application/json), or a tuple/pair adding a status and headers; make_response() turns
// each into a Response. A body is a buffer or a stream: a pull source called for one chunk
// at a time (nullopt ends it), or a coroutine source (each chunk produced through the app's
// async_to_sync). The request context stays available while a stream is produced.
//
//   return web::Response("created", 201, {{"Location", "/items/7"}});
//   return web::Response::json({{"message", "Hello, World!"}});
//   return web::Response::stream([n = 0]() mutable -> std::optional<std::string> {
//     if (n == 3) return std::nullopt;
//     return "chunk " + std::to_string(n++) + "\n";
//   });
#pragma once

#include <grove/aio/task.hpp>
#include <grove/http/gateway.hpp>
#include <grove/web/datastructures.hpp>
#include <grove/web/json.hpp>

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

namespace grove::http {
class UpgradedStream;
}

namespace grove::web {

struct CookieOptions {
  std::optional<long> max_age;  // seconds; 0 deletes
  std::string path = "/";
  std::string domain;
  bool secure = false;
  bool httponly = false;
  std::string samesite;  // "Strict", "Lax", "None" or empty
};

class Response {
 public:
  // Next chunk, or nullopt at the end. Called on the connection's green thread.
  using Source = std::function<std::optional<std::string>()>;
  // The same as a coroutine; each call is run through the app's async_to_sync.
  using AsyncSource = std::function<aio::Task<std::optional<std::string>>()>;

  static constexpr std::string_view kDefaultMimetype = "text/html; charset=utf-8";

  Response() { headers.add("Content-Type", kDefaultMimetype); }
  // A response with no headers at all (the framework's placeholders, overwritten before use).
  struct Blank {};
  explicit Response(Blank) noexcept {}
  Response(std::string body, int status_code = 200, Headers extra = {});
  Response(const char* body, int status_code = 200, Headers extra = {})
      : Response(std::string(body), status_code, std::move(extra)) {}
  Response(std::string_view body, int status_code = 200, Headers extra = {})
      : Response(std::string(body), status_code, std::move(extra)) {}
  // application/json, compact.
  Response(const Json& body, int status_code = 200, Headers extra = {});

  static Response json(const Json& body, int status_code = 200) {
    return Response(body, status_code);
  }
  static Response text(std::string body, int status_code = 200);
  static Response stream(Source source, int status_code = 200, Headers extra = {});
  static Response stream(AsyncSource source, int status_code = 200, Headers extra = {});

  int status = 200;
  Headers headers;

  int status_code() const noexcept { return status; }
  // The Content-Type without parameters ("text/html").
  std::string mimetype() const;
  void set_mimetype(std::string_view content_type) {
    headers.set("Content-Type", std::string(content_type));
  }

  bool is_streamed() const noexcept { return bool(source_) || bool(async_source_); }
  // A body read from a file (send_file()): the server sends it with sendfile(2), so it is
  // never in memory; get_data() reads it.
  bool has_file() const noexcept { return bool(file_); }
  const grove::http::FileBody& file() const noexcept { return file_; }
  void set_file(grove::http::FileBody body);
  // The buffered body. For a stream this is empty until get_data() collected it.
  const std::string& data() const noexcept { return body_; }
  void set_data(std::string body);
  // Moves the buffered body out (for adapters).
  std::string take_data() noexcept { return std::move(body_); }
  // The whole body: a file body is read, a stream is drained (through the current app's bridge for
  // a coroutine source) and becomes a buffered body.
  const std::string& get_data();
  // The body parsed as JSON (after get_data()).
  Json get_json();

  void set_cookie(std::string_view name, std::string_view value, const CookieOptions& options = {});
  void delete_cookie(std::string_view name, std::string_view path = "/",
                     std::string_view domain = "");

  // --- for the framework and servers --------------------------------------------------
  Source& source() noexcept { return source_; }
  AsyncSource& async_source() noexcept { return async_source_; }
  grove::http::FileBody take_file() noexcept { return std::move(file_); }
  // A 101 response's protocol (app.websocket()): the server runs it on the connection's
  // green thread after the head, inside this request's context.
  using Upgrade = std::function<void(grove::http::UpgradedStream&)>;
  Upgrade& upgrade() noexcept { return upgrade_; }

 private:
  std::string body_;
  grove::http::FileBody file_;
  Source source_;
  AsyncSource async_source_;
  Upgrade upgrade_;
};

// --- make_response ------------------------------------------------------------------------
// Flask's make_response: a view's return value as a Response.
namespace detail {
template <class T>
struct is_tuple_like : std::false_type {};
template <class... T>
struct is_tuple_like<std::tuple<T...>> : std::true_type {};
template <class A, class B>
struct is_tuple_like<std::pair<A, B>> : std::true_type {};
}  // namespace detail

inline Response make_response(Response r) { return r; }
inline Response make_response(std::string body) { return Response(std::move(body)); }
inline Response make_response(std::string_view body) { return Response(body); }
inline Response make_response(const char* body) { return Response(body); }
inline Response make_response(const Json& body) { return Response(body); }

template <class T>
concept ResponseValue =
    std::is_same_v<std::decay_t<T>, Response> || std::is_same_v<std::decay_t<T>, std::string> ||
    std::is_same_v<std::decay_t<T>, std::string_view> || std::is_same_v<std::decay_t<T>, Json> ||
    std::is_convertible_v < std::decay_t<T>,
const char* > ;

// (body, status), (body, headers), (body, status, headers)
template <class B>
Response make_response(std::pair<B, int> rv) {
  Response r = make_response(std::move(rv.first));
  r.status = rv.second;
  return r;
}
template <class B>
Response make_response(std::tuple<B, int> rv) {
  Response r = make_response(std::move(std::get<0>(rv)));
  r.status = std::get<1>(rv);
  return r;
}
template <class B>
Response make_response(std::tuple<B, Headers> rv) {
  Response r = make_response(std::move(std::get<0>(rv)));
  for (const auto& [k, v] : std::get<1>(rv)) r.headers.set(k, v);
  return r;
}
template <class B>
Response make_response(std::tuple<B, int, Headers> rv) {
  Response r = make_response(std::move(std::get<0>(rv)));
  r.status = std::get<1>(rv);
  for (const auto& [k, v] : std::get<2>(rv)) r.headers.set(k, v);
  return r;
}

// Whether make_response accepts T (checked at registration, so a view returning something
// else is a compile error naming the rule rather than a runtime TypeError).
template <class T>
concept Responsive = requires(T v) {
  make_response(std::move(v));
};

}  // namespace grove::web
