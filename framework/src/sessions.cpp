// Sessions: the Session object, the signed-cookie interface, flash(), and the request
// cycle's open/save (Flask's sessions.py).
#include "internal.hpp"

#include <grove/web/sessions.hpp>
#include <grove/web/signing.hpp>
#ifdef GROVE_WEB_REDIS_SESSIONS
#include <grove/web/redis_sessions.hpp>
#endif

#include <chrono>
#include <stdexcept>

namespace grove::web {

namespace detail {
// What one request knows about its session.
struct SessionSlot {
  std::unique_ptr<Session> session;  // null until opened
  std::optional<std::vector<std::pair<std::string, std::string>>> flashes;
};
}  // namespace detail

namespace {

constexpr std::int64_t kDefaultLifetime = 31 * 24 * 3600;  // Flask's 31 days

const char* const kNoSecretKey =
    "The session is unavailable because no secret key was set. Set app.config[\"SECRET_KEY\"] to "
    "something unique and secret (and keep it out of the source code).";

std::string config_text(const App& app, std::string_view key, std::string fallback) {
  return app.config.get<std::string>(key, std::move(fallback));
}

bool config_flag(const App& app, std::string_view key, bool fallback) {
  return app.config.get<bool>(key, fallback);
}

detail::SessionSlot& slot_of(detail::RequestContext& ctx) {
  if (!ctx.session) ctx.session = std::make_shared<detail::SessionSlot>();
  return *ctx.session;
}

SessionInterface& interface_of(App& app) { return app.active_session_interface(); }

// What config["SESSION_TYPE"] names.
std::shared_ptr<SessionInterface> configured_interface(const App& app) {
  std::string type = config_text(app, "SESSION_TYPE", "cookie");
  if (type == "cookie") return std::make_shared<SecureCookieSessionInterface>();
  if (type == "redis") {
#ifdef GROVE_WEB_REDIS_SESSIONS
    return RedisSessionInterface::from_config(app);
#else
    throw ConfigError("SESSION_TYPE", app.config.source("SESSION_TYPE"),
                      "config key \"SESSION_TYPE\" is \"redis\", but this grove was built without "
                      "grove::redis: configure it with -DGROVE_BUILD_CLIENTS=ON");
#endif
  }
  throw ConfigError(
      "SESSION_TYPE", app.config.source("SESSION_TYPE"),
      "config key \"SESSION_TYPE\" must be \"cookie\" or \"redis\", not \"" + type + "\"");
}

Session& open_in(App& app, detail::RequestContext& ctx) {
  detail::SessionSlot& slot = slot_of(ctx);
  if (!slot.session) {
    slot.session = interface_of(app).open_session(app, *ctx.request);
    if (!slot.session) {
      slot.session = std::make_unique<Session>();
      slot.session->is_null = true;
    }
  }
  return *slot.session;
}

detail::RequestContext& current_context(const char* what) {
  detail::RequestContext* ctx = detail::current_request_context();
  if (!ctx)
    throw std::logic_error(std::string("grove::web::") + what + ": working outside of a request");
  return *ctx;
}

std::vector<std::pair<std::string, std::string>>& flashes_of(detail::RequestContext& ctx) {
  detail::SessionSlot& slot = slot_of(ctx);
  if (!slot.flashes) {
    slot.flashes.emplace();
    Session& s = open_in(*ctx.app, ctx);
    if (s.contains("_flashes")) {
      std::optional<Json> stored = s.pop("_flashes");
      if (stored && stored->is_array())
        for (const auto& f : stored->as_array())
          if (f.is_array() && f.size() == 2 && f[0].is_string() && f[1].is_string())
            slot.flashes->emplace_back(f[0].as_string(), f[1].as_string());
    }
  }
  return *slot.flashes;
}

bool wanted(const std::vector<std::string>& filter, const std::string& category) {
  if (filter.empty()) return true;
  for (const auto& c : filter)
    if (c == category) return true;
  return false;
}

}  // namespace

// --- Session --------------------------------------------------------------------------------

Session::Session(Json data, bool fresh) : is_new(fresh), data_(std::move(data)) {
  if (!data_.is_object())
    throw std::invalid_argument("grove::web::Session: the data must be a JSON object");
}

const Json* Session::find(std::string_view key) const {
  touch();
  return data_.find(key);
}

const Json& Session::data() const {
  touch();
  return data_;
}

std::size_t Session::size() const {
  touch();
  return data_.size();
}

void Session::write() {
  if (is_null) throw std::logic_error(kNoSecretKey);
  touch();
  modified = true;
}

Json& Session::operator[](std::string_view key) {
  write();
  return data_[key];
}

std::optional<Json> Session::pop(std::string_view key) {
  touch();
  auto& members = data_.as_object();
  for (auto it = members.begin(); it != members.end(); ++it) {
    if (it->first != key) continue;
    write();
    Json v = std::move(it->second);
    members.erase(it);
    return v;
  }
  return std::nullopt;
}

void Session::clear() {
  touch();
  if (data_.empty()) return;
  write();
  data_ = Json::object();
}

bool Session::permanent() const { return get<bool>("_permanent", false); }

void Session::set_permanent(bool permanent) {
  if (permanent) (*this)["_permanent"] = true;
  else pop("_permanent");
}

// --- SessionInterface ----------------------------------------------------------------------

std::vector<std::string> SessionInterface::secret_keys(const App& app) {
  std::string key = config_text(app, "SECRET_KEY", "");
  if (key.empty()) return {};
  std::vector<std::string> keys{key};
  for (auto& old : app.config.get<std::vector<std::string>>("SECRET_KEY_FALLBACKS", {}))
    if (!old.empty()) keys.push_back(std::move(old));
  return keys;
}

std::int64_t SessionInterface::now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string SessionInterface::cookie_name(const App& app) const {
  return config_text(app, "SESSION_COOKIE_NAME", "session");
}

std::int64_t SessionInterface::lifetime_seconds(const App& app) const {
  std::int64_t seconds =
      app.config.get<std::int64_t>("PERMANENT_SESSION_LIFETIME", kDefaultLifetime);
  if (seconds <= 0)
    throw ConfigError(
        "PERMANENT_SESSION_LIFETIME", app.config.source("PERMANENT_SESSION_LIFETIME"),
        "config key \"PERMANENT_SESSION_LIFETIME\" must be a positive number of seconds, not " +
            std::to_string(seconds));
  return seconds;
}

CookieOptions SessionInterface::cookie_options(const App& app, const Session& session) const {
  CookieOptions o;
  o.domain = config_text(app, "SESSION_COOKIE_DOMAIN", "");
  o.path = config_text(app, "SESSION_COOKIE_PATH", config_text(app, "APPLICATION_ROOT", "/"));
  o.httponly = config_flag(app, "SESSION_COOKIE_HTTPONLY", true);
  o.secure = config_flag(app, "SESSION_COOKIE_SECURE", false);
  o.samesite = config_text(app, "SESSION_COOKIE_SAMESITE", "");
  if (!o.samesite.empty() && o.samesite != "Lax" && o.samesite != "Strict" && o.samesite != "None")
    throw ConfigError("SESSION_COOKIE_SAMESITE", app.config.source("SESSION_COOKIE_SAMESITE"),
                      "config key \"SESSION_COOKIE_SAMESITE\" must be \"Lax\", \"Strict\", "
                      "\"None\" or null, not \"" +
                          o.samesite + "\"");
  if (session.permanent()) o.max_age = lifetime_seconds(app);
  return o;
}

bool SessionInterface::should_set_cookie(const App& app, const Session& session) const {
  return session.modified ||
         (session.permanent() && config_flag(app, "SESSION_REFRESH_EACH_REQUEST", true));
}

// --- SecureCookieSessionInterface -----------------------------------------------------------

std::unique_ptr<Session> SecureCookieSessionInterface::open_session(App& app, Request& request) {
  std::vector<std::string> keys = secret_keys(app);
  if (keys.empty()) return nullptr;
  std::string name = cookie_name(app);
  std::optional<std::string> cookie = request.cookies().get(name);
  auto fresh = [] { return std::make_unique<Session>(Json::object(), true); };
  if (!cookie || cookie->empty()) return fresh();
  auto refuse = [&](std::string_view why) {
    app.logger.debug("session cookie '" + name + "' ignored (" + std::string(why) +
                     "): starting an empty session");
    return fresh();
  };
  if (cookie->size() > kMaxCookieBytes)
    return refuse(std::to_string(cookie->size()) + " bytes, over " +
                  std::to_string(kMaxCookieBytes));
  auto token = Signer(std::move(keys)).unsign(*cookie);
  if (!token) return refuse("bad signature");
  if (now_seconds() - token->timestamp > lifetime_seconds(app)) return refuse("expired");
  try {
    Json data = Json::parse(token->payload);
    if (!data.is_object()) return refuse("not a JSON object");
    return std::make_unique<Session>(std::move(data));
  } catch (const JsonError& e) {
    return refuse(std::string("invalid JSON: ") + e.what());
  }
}

bool SessionInterface::begin_save(const App& app, const Session& session,
                                  Response& response) const {
  const bool accessed = session.accessed;  // before the reads below mark it
  if (accessed) response.headers.add("Vary", "Cookie");
  if (session.empty()) {
    // Flask: an emptied session deletes the cookie; one never set stays unset.
    if (session.modified) {
      CookieOptions options = cookie_options(app, session);
      response.delete_cookie(cookie_name(app), options.path, options.domain);
      if (!accessed) response.headers.add("Vary", "Cookie");
    }
    return false;
  }
  return should_set_cookie(app, session);
}

void SecureCookieSessionInterface::save_session(App& app, Session& session, Response& response) {
  if (!begin_save(app, session, response)) return;
  std::string name = cookie_name(app);
  CookieOptions options = cookie_options(app, session);
  std::string value = Signer(secret_keys(app)).sign(session.data().dump(), now_seconds());
  if (value.size() > kBrowserLimit)
    app.logger.warning("the session cookie '" + name + "' is " + std::to_string(value.size()) +
                       " bytes; browsers ignore cookies over " + std::to_string(kBrowserLimit) +
                       ": keep less in the session, or use a server-side SessionInterface");
  response.set_cookie(name, value, options);
}

// --- the request cycle's part --------------------------------------------------------------

SessionInterface& App::active_session_interface() {
  if (session_interface) return *session_interface;
  // Made once, under the once_flag: the app is called from many green threads (and, with
  // the test client, OS threads) at once.
  std::call_once(impl_->session_once,
                 [&] { impl_->configured_session = configured_interface(*this); });
  return *impl_->configured_session;
}

void detail::open_session_at_start(App& app, RequestContext& ctx) {
  if (interface_of(app).open_at_request_start()) open_in(app, ctx);
}

Session& session() {
  detail::RequestContext& ctx = current_context("session()");
  return open_in(*ctx.app, ctx);
}

void detail::save_session(App& app, RequestContext& ctx, Response& response) {
  SessionInterface& iface = interface_of(app);
  detail::SessionSlot* slot = ctx.session.get();
  if (!slot || !slot->session) {
    // Not used by the request: only a permanent session that must be refreshed needs it.
    if (!ctx.request->headers().contains("Cookie")) return;
    if (!config_flag(app, "SESSION_REFRESH_EACH_REQUEST", true)) return;
    if (!ctx.request->cookies().contains(iface.cookie_name(app))) return;
    open_in(app, ctx);
    slot = ctx.session.get();
  }
  if (slot->session->is_null) return;
  iface.save_session(app, *slot->session, response);
}

void flash(std::string message, std::string category) {
  detail::RequestContext& ctx = current_context("flash()");
  Session& s = open_in(*ctx.app, ctx);
  Json& list = s["_flashes"];
  if (!list.is_array()) list = Json::array();
  list.push_back(Json::array({std::move(category), std::move(message)}));
}

std::vector<std::pair<std::string, std::string>> get_flashed_messages_with_categories(
    const std::vector<std::string>& category_filter) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& f : flashes_of(current_context("get_flashed_messages()")))
    if (wanted(category_filter, f.first)) out.push_back(f);
  return out;
}

std::vector<std::string> get_flashed_messages(const std::vector<std::string>& category_filter) {
  std::vector<std::string> out;
  for (auto& f : get_flashed_messages_with_categories(category_filter))
    out.push_back(std::move(f.second));
  return out;
}

}  // namespace grove::web
