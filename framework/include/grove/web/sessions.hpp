// Sessions and flashed messages (Flask's sessions.py and helpers.flash).
//
//   app.config["SECRET_KEY"] = "a long random string";
//   app.route("/login", {"POST"}, [](web::Request& r) {
//     web::session()["user"] = r.form()["name"];
//     web::session().set_permanent(true);           // kept for PERMANENT_SESSION_LIFETIME
//     web::flash("Logged in");
//     return web::redirect(web::url_for("index"));
//   });
//   app.route("/", {"GET"}, [] {
//     std::string user = web::session().get<std::string>("user", "nobody");
//     for (auto& m : web::get_flashed_messages()) ...
//   });
//
// web::session() is a JSON object kept, by default, in a signed cookie (SecureCookieSession-
// Interface): readable by the client, but any change to it invalidates the signature. The
// cookie interface promises:
//  - The cookie is HMAC-SHA256-signed with SECRET_KEY; SECRET_KEY_FALLBACKS (a list of old
//    keys) are accepted for reading, so keys can be rotated without logging everyone out.
//  - Config: SESSION_COOKIE_NAME ("session"), SESSION_COOKIE_DOMAIN (none),
//    SESSION_COOKIE_PATH ("/"), SESSION_COOKIE_HTTPONLY (true), SESSION_COOKIE_SECURE (false),
//    SESSION_COOKIE_SAMESITE (none; "Lax", "Strict" or "None"), PERMANENT_SESSION_LIFETIME
//    (seconds, 31 days), SESSION_REFRESH_EACH_REQUEST (true).
//  - Set-Cookie is sent only when the session was modified, or is permanent and
//    SESSION_REFRESH_EACH_REQUEST holds (its expiry then moves forward); a session emptied by
//    the request deletes the cookie. A session read by the request adds "Vary: Cookie".
//  - A permanent session's cookie has Max-Age PERMANENT_SESSION_LIFETIME; any cookie older
//    than PERMANENT_SESSION_LIFETIME is refused.
//  - A cookie that is tampered with, signed with an unknown key, expired, larger than 4096
//    bytes or not a JSON object gives an empty session and a debug line on app.logger,
//    never an error page. A session too large for browsers (over 4093 bytes signed) is still
//    sent, with a warning on app.logger.
//  - Without SECRET_KEY the session reads as empty and writing to it throws std::logic_error
//    saying to set SECRET_KEY.
// Replace app.session_interface with a SessionInterface of your own to keep sessions
// elsewhere (a server-side store keeps only an id in the cookie), or set
// app.config["SESSION_TYPE"] = "redis" for grove/web/redis_sessions.hpp's.
#pragma once

#include <grove/web/json.hpp>
#include <grove/web/response.hpp>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace grove::web {

class App;
class Request;

// The session of one request: a JSON object with Flask's tracking flags. Reading methods
// mark it accessed; writing methods mark it modified. A value changed in place through
// operator[] counts as modified (operator[] is for writing: on a missing key it inserts
// null, so read with get/find).
class Session {
 public:
  Session() = default;
  explicit Session(Json data, bool is_new = false);
  virtual ~Session() = default;

  const Json* find(std::string_view key) const;
  bool contains(std::string_view key) const { return find(key) != nullptr; }
  template <class T>
  T get(std::string_view key, T fallback) const {
    touch();
    return data_.value<T>(key, std::move(fallback));
  }
  // The whole object (reading).
  const Json& data() const;
  std::size_t size() const;
  bool empty() const { return size() == 0; }

  Json& operator[](std::string_view key);
  void set(std::string_view key, Json value) { (*this)[key] = std::move(value); }
  // Removes key; returns its value (nullopt when it was absent, and then nothing changes).
  std::optional<Json> pop(std::string_view key);
  void clear();

  // Kept for PERMANENT_SESSION_LIFETIME (stored in the session as "_permanent", as Flask).
  bool permanent() const;
  void set_permanent(bool permanent);

  bool modified = false;
  mutable bool accessed = false;
  bool is_new = false;
  // A session without a secret key: empty, and writing throws.
  bool is_null = false;

 private:
  void touch() const { accessed = true; }
  void write();
  Json data_ = Json::object();
};

// Where sessions live. open_session returns nullptr when sessions are unavailable (a null
// session is then used); save_session writes what the response needs (a cookie).
class SessionInterface {
 public:
  virtual ~SessionInterface() = default;
  virtual std::unique_ptr<Session> open_session(App& app, Request& request) = 0;
  virtual void save_session(App& app, Session& session, Response& response) = 0;
  // Whether the request cycle opens the session as the request starts, before the
  // before_request hooks, rather than on first use. An interface whose open_session waits
  // for a store returns true: a coroutine view (running on the hub) cannot wait for it.
  virtual bool open_at_request_start() const noexcept { return false; }

  // The cookie attributes from app.config, for this interface and those replacing it.
  std::string cookie_name(const App& app) const;
  CookieOptions cookie_options(const App& app, const Session& session) const;
  // Whether save_session should send the cookie (modified, or permanent and refreshed).
  bool should_set_cookie(const App& app, const Session& session) const;
  std::int64_t lifetime_seconds(const App& app) const;
  // What every save_session starts with: "Vary: Cookie" when the request read the session,
  // and for a session the request emptied, the cookie's deletion. Returns whether the
  // session is to be stored and its cookie sent (not empty, and should_set_cookie).
  bool begin_save(const App& app, const Session& session, Response& response) const;
  // SECRET_KEY, then SECRET_KEY_FALLBACKS: the keys a Signer takes; empty without SECRET_KEY.
  static std::vector<std::string> secret_keys(const App& app);
  // Seconds since the epoch, the timestamps signed tokens carry.
  static std::int64_t now_seconds();
};

// The default: the whole session in an HMAC-signed cookie.
class SecureCookieSessionInterface : public SessionInterface {
 public:
  static constexpr std::size_t kMaxCookieBytes = 4096;  // larger incoming cookies are refused
  static constexpr std::size_t kBrowserLimit = 4093;    // larger outgoing ones draw a warning

  std::unique_ptr<Session> open_session(App& app, Request& request) override;
  void save_session(App& app, Session& session, Response& response) override;
};

// The session of the current request (std::logic_error outside a request). Opened on first
// use; saved after the after_request hooks.
Session& session();

// Stores a message for the next request that calls get_flashed_messages() (in the session).
void flash(std::string message, std::string category = "message");
// The flashed messages, removed from the session on the first call of a request and the
// same for the rest of it. `category_filter`, if not empty, keeps those categories only.
std::vector<std::string> get_flashed_messages(const std::vector<std::string>& category_filter = {});
// The same as (category, message) pairs.
std::vector<std::pair<std::string, std::string>> get_flashed_messages_with_categories(
    const std::vector<std::string>& category_filter = {});

namespace detail {
struct RequestContext;
// The request cycle opens the session at its start when the interface asks for it.
void open_session_at_start(App& app, RequestContext& ctx);
// The request cycle saves the session (if it was opened, or a cookie may need refreshing).
void save_session(App& app, RequestContext& ctx, Response& response);
}  // namespace detail

}  // namespace grove::web
