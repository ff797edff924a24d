// grove::web::Request — the incoming request as a view sees it (Flask's `request`).
//
// Views either take `Request&` as their first parameter or call web::request(), which
// returns the request of the code calling it: per green thread, and carried into
// coroutines across every suspension by the framework's bridges.
//
// Parsing is lazy: args, form, cookies and JSON are parsed on first use and cached. The
// body is read from the server on first use of data()/form()/json() (all at once, bounded
// by MAX_CONTENT_LENGTH when configured, else by the server's own limit).
#pragma once

#include <grove/http/tls.hpp>
#include <grove/web/datastructures.hpp>
#include <grove/web/json.hpp>
#include <grove/web/uploads.hpp>

#include <any>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace grove::web {

class App;
class BodyStream;
namespace detail {
class BodyWait;
}

// One converted path parameter: its text and, for <int:..>/<float:..>, its number.
struct ViewArg {
  enum class Kind { string, integer, number };
  std::string name;
  std::string text;
  Kind kind = Kind::string;
  std::int64_t integer = 0;
  double number = 0;
};

class ViewArgs {
 public:
  const ViewArg* find(std::string_view name) const;
  // The text of `name`; throws std::out_of_range when the rule has no such parameter.
  const std::string& operator[](std::string_view name) const;
  std::int64_t get_int(std::string_view name) const;
  std::size_t size() const noexcept { return args_.size(); }
  const ViewArg& at(std::size_t i) const { return args_.at(i); }
  auto begin() const { return args_.begin(); }
  auto end() const { return args_.end(); }
  void clear() { args_.clear(); }
  void push_back(ViewArg a) { args_.push_back(std::move(a)); }
  void pop_back() { args_.pop_back(); }

 private:
  std::vector<ViewArg> args_;
};

class Request {
 public:
  // Reads the whole remaining body, throwing HTTPException(413) past `limit` bytes.
  using BodyReader = std::function<std::string(std::size_t limit)>;

  Request() = default;
  // `target` is "path?query"; the path is percent-decoded here.
  Request(std::string method, std::string_view target, Headers headers = {}, std::string body = {});
  // From parts a server already split: `path` decoded, `query` as sent.
  static Request from_parts(std::string method, std::string path, std::string query,
                            Headers headers);
  struct Parts {
    std::string_view method, path, query;
  };
  // The same, built in place (the gateway's): no headers yet (see view_headers()).
  explicit Request(const Parts& parts);
  Request(const Request&) = delete;
  Request& operator=(const Request&) = delete;
  Request(Request&&) = default;
  Request& operator=(Request&&) = default;

  const std::string& method() const noexcept { return method_; }
  // The decoded path ("/a b").
  const std::string& path() const noexcept { return path_; }
  // Everything after '?', not decoded.
  const std::string& query_string() const noexcept { return query_; }
  // path?query (query omitted when empty).
  std::string full_path() const;
  std::string url() const;
  // The request's header fields. From the server, they are read where the server parsed
  // them (no copy); the non-const overload makes the request's own copy first.
  const Headers& headers() const noexcept { return viewed_headers_ ? *viewed_headers_ : headers_; }
  Headers& headers();
  std::string host() const { return headers().get("Host", ""); }
  const std::string& remote_addr() const noexcept { return remote_addr_; }
  // "https" when the request came over TLS (url_for's _external URLs follow it).
  const std::string& scheme() const noexcept { return scheme_; }
  bool is_secure() const noexcept { return scheme_ == "https"; }
  // The TLS connection's facts (version, cipher, SNI name, client certificate subject,
  // issuer and whether it was verified), or nullptr over plain HTTP and in the test client.
  //   if (auto* t = request.tls(); t && t->client_verified) user = t->client_subject;
  const grove::http::TlsFacts* tls() const noexcept { return tls_; }
  const std::string& http_version() const noexcept { return version_; }

  // --- parsed on first use ---------------------------------------------------------------
  const MultiDict& args() const;
  const MultiDict& cookies() const;
  // The text fields of an application/x-www-form-urlencoded or multipart/form-data body;
  // empty for any other content type. A multipart body is parsed as it is read (never
  // whole in memory): a malformed one is a BadRequest (400) saying what is wrong; a text
  // field over MAX_FORM_MEMORY_SIZE, more than MAX_FORM_PARTS parts, or a body over
  // MAX_CONTENT_LENGTH is a RequestEntityTooLarge (413).
  const MultiDict& form();
  // The file parts of a multipart/form-data body (Flask's request.files), parsed with form().
  const FileMultiDict& files();
  // request.stream: reads up to n more bytes of the body as it arrives, without keeping it
  // (0 at the end); RequestEntityTooLarge past MAX_CONTENT_LENGTH. Once it has been used,
  // data(), form() and json() see only what it did not read, as in Flask.
  std::size_t read(char* buf, std::size_t n);
  // The same for a coroutine view: co_await request.stream().read(n) (grove/web/body_stream.hpp).
  BodyStream stream();
  // The raw body (Flask's get_data()).
  const std::string& data();
  const std::string& body() { return data(); }
  // Whether the content type is application/json or */*+json.
  bool is_json() const;
  // The body as JSON. Throws BadRequest (400) if the content type is not JSON or the body
  // is not valid JSON, as Flask's request.json does.
  const Json& json();
  // Like json(); `force` ignores the content type, `silent` returns nullptr on failure.
  const Json* get_json(bool force = false, bool silent = false);
  std::string content_type() const { return headers().get("Content-Type", ""); }
  std::string mimetype() const { return media_type(content_type()); }
  std::optional<std::uint64_t> content_length() const;

  // --- routing results ---------------------------------------------------------------------
  const ViewArgs& view_args() const noexcept { return view_args_; }
  // The matched rule ("/user/<int:id>"), endpoint, and blueprint chain (innermost first).
  const std::string& url_rule() const noexcept {
    return route_ ? route_->rule : empty_route().rule;
  }
  const std::string& endpoint() const noexcept {
    return route_ ? route_->endpoint : empty_route().endpoint;
  }
  std::string blueprint() const {
    return blueprints().empty() ? std::string() : blueprints().front();
  }
  const std::vector<std::string>& blueprints() const noexcept {
    return route_ ? route_->blueprints : empty_route().blueprints;
  }

  // Per-request storage for hooks and views (Flask's `g`).
  std::map<std::string, std::any, std::less<>>& g() noexcept { return g_; }

  // --- for adapters (gateway, test client) -------------------------------------------------
  void set_body(std::string body);
  void set_body_reader(BodyReader reader, std::optional<std::uint64_t> declared_length);
  void set_remote_addr(std::string addr) { remote_addr_ = std::move(addr); }
  void set_http_version(std::string v) { version_ = std::move(v); }
  void set_scheme(std::string scheme) { scheme_ = std::move(scheme); }
  // The connection's TLS facts; they must outlive the request (the server's do).
  void set_tls(const grove::http::TlsFacts* facts) noexcept { tls_ = facts; }
  void set_max_content_length(std::optional<std::size_t> limit) { max_content_length_ = limit; }
  // Where read() takes the body from, piece by piece (the gateway's: the connection).
  using StreamReader = std::function<std::size_t(char*, std::size_t)>;
  void set_stream_reader(StreamReader reader) { stream_ = std::move(reader); }

  // Runs `job` on the connection's side (the green thread or OS thread that owns it) while a
  // coroutine of this request waits; how the bridges let request.stream() read the body
  // without blocking the hub. Installed by web::green_bridge and web::thread_bridge for as
  // long as they run a coroutine of the request; empty otherwise.
  using BodyPump = std::function<void(std::function<void()> job)>;
  void set_body_pump(BodyPump pump) { pump_ = std::move(pump); }
  const BodyPump& body_pump() const noexcept { return pump_; }

  bool body_loaded() const noexcept { return body_loaded_; }
  // Reads the body now (before a coroutine that may run on another thread needs it).
  void load_body() { (void)data(); }
  ViewArgs& mutable_view_args() noexcept { return view_args_; }
  // Reads the header fields from `fields` in place; they must outlive the request (the
  // server's request does: it lives until the response has been sent).
  void view_headers(const Headers& fields) noexcept { viewed_headers_ = &fields; }
  // What routing found: the rule, the endpoint and the blueprint chain.
  struct Route {
    std::string rule, endpoint;
    std::vector<std::string> blueprints;
  };
  void set_route(std::string rule, std::string endpoint, std::vector<std::string> blueprints) {
    owned_route_ =
        std::make_shared<Route>(Route{std::move(rule), std::move(endpoint), std::move(blueprints)});
    route_ = owned_route_.get();
  }
  // The same without a copy: `route` is the app's and outlives the request.
  void set_route(const Route& route) noexcept {
    owned_route_.reset();
    route_ = &route;
  }

 private:
  std::string method_, path_, query_;
  std::string remote_addr_, scheme_ = "http", version_ = "HTTP/1.1";
  Headers headers_;
  const Headers* viewed_headers_ = nullptr;
  const grove::http::TlsFacts* tls_ = nullptr;
  std::string body_;
  BodyReader reader_;
  std::optional<std::uint64_t> declared_length_;
  std::optional<std::size_t> max_content_length_;
  bool body_loaded_ = true;
  mutable std::optional<MultiDict> args_, cookies_;
  std::optional<MultiDict> form_;
  std::optional<FileMultiDict> files_;
  StreamReader stream_;
  std::uint64_t streamed_ = 0;  // bytes read()
  std::size_t body_pos_ = 0;    // read() position in a body held in memory
  BodyPump pump_;
  // Set while a read of request.stream() is in flight (cleared on the connection's side
  // when it ends, even if its coroutine stopped waiting); shared with that read.
  std::shared_ptr<std::atomic<bool>> stream_reading_;
  friend class BodyStream;
  friend class detail::BodyWait;
  // read() and data() without the check that they are not called from a coroutine whose
  // body is still on the connection (what BodyStream's jobs call, on the connection's side).
  std::size_t read_body(char* buf, std::size_t n);
  const std::string& load_data();
  void check_not_streaming(const char* what) const;
  void parse_form();
  void parse_multipart();
  std::optional<Json> json_;
  bool json_failed_ = false;
  ViewArgs view_args_;
  const Route* route_ = nullptr;
  std::shared_ptr<const Route> owned_route_;
  static const Route& empty_route() noexcept;
  std::map<std::string, std::any, std::less<>> g_;
};

// The request being handled by the calling code (green thread, coroutine of a bridged
// handler, or stream source). Throws std::logic_error outside a request.
Request& request();
// Whether there is one.
bool has_request_context() noexcept;
// The App handling it; std::logic_error outside a request.
App& current_app();

}  // namespace grove::web
