// Server-side sessions in Redis: the cookie carries a signed random id, Redis the JSON.
#include "internal.hpp"

#include <grove/green/aio.hpp>
#include <grove/http/metrics.hpp>
#include <grove/redis.hpp>
#include <grove/web/redis_sessions.hpp>
#include <grove/web/signing.hpp>

#include <openssl/rand.h>

#include <stdexcept>

namespace grove::web {

namespace {

// The ids are signed apart from cookie sessions: a cookie session's token is never an id.
constexpr std::string_view kIdSalt = "grove.session.redis-id";
constexpr std::size_t kIdBytes = 32;

std::string random_id() {
  unsigned char bytes[kIdBytes];
  if (RAND_bytes(bytes, sizeof bytes) != 1)
    throw std::runtime_error("grove::web: RAND_bytes failed to make a session id");
  return base64url_encode(std::string_view(reinterpret_cast<const char*>(bytes), sizeof bytes));
}

redis::PoolOptions pool_options(const RedisSessionOptions& o) {
  if (o.pool_size == 0)
    throw std::invalid_argument("grove::web::RedisSessionInterface: pool_size must be at least 1");
  if (o.timeout <= std::chrono::milliseconds::zero())
    throw std::invalid_argument("grove::web::RedisSessionInterface: the timeout must be positive");
  redis::PoolOptions p;
  p.url = o.url;
  p.max_size = o.pool_size;
  p.acquire_timeout = o.timeout;
  p.connection.connect_timeout = o.timeout;
  p.connection.command_timeout = o.timeout;
  return p;
}

// Runs a Redis call from the synchronous request cycle: only the calling green thread
// waits (or, outside one, the calling thread while its hub runs).
template <class T>
T wait_for(aio::Task<T> call) {
  return green::wait(std::move(call));
}

}  // namespace

RedisSession::RedisSession(Json data, std::string id, bool fresh)
    : Session(std::move(data), fresh), id_(std::move(id)) {}

RedisSessionInterface::RedisSessionInterface(RedisSessionOptions options)
    : options_(std::move(options)), pool_(std::make_shared<redis::Pool>(pool_options(options_))),
      metrics_id_(http::add_pool_metrics("redis", "sessions", pool_)) {}

RedisSessionInterface::~RedisSessionInterface() { http::remove_pool_metrics(metrics_id_); }

std::shared_ptr<RedisSessionInterface> RedisSessionInterface::from_config(const App& app) {
  RedisSessionOptions o;
  o.url = app.config.get<std::string>("SESSION_REDIS_URL", "");
  if (o.url.empty())
    throw ConfigError(
        "SESSION_REDIS_URL", app.config.source("SESSION_REDIS_URL"),
        "config key \"SESSION_REDIS_URL\" must name the Redis server of SESSION_TYPE \"redis\" "
        "(redis://host:port/db)");
  o.key_prefix = app.config.get<std::string>("SESSION_KEY_PREFIX", o.key_prefix);
  o.pool_size = app.config.get<std::size_t>("SESSION_REDIS_POOL_SIZE", o.pool_size);
  double seconds = app.config.get<double>("SESSION_REDIS_TIMEOUT", 1.0);
  o.timeout = std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000));
  try {
    return std::make_shared<RedisSessionInterface>(std::move(o));
  } catch (const std::invalid_argument& e) {
    throw ConfigError("SESSION_REDIS_URL", app.config.source("SESSION_REDIS_URL"),
                      std::string("the Redis session config is invalid: ") + e.what());
  }
}

std::unique_ptr<Session> RedisSessionInterface::fresh_session() const {
  return std::make_unique<RedisSession>(Json::object(), random_id(), true);
}

std::unique_ptr<Session> RedisSessionInterface::open_session(App& app, Request& request) {
  std::vector<std::string> keys = secret_keys(app);
  if (keys.empty()) return nullptr;
  std::string name = cookie_name(app);
  std::optional<std::string> cookie = request.cookies().get(name);
  if (!cookie || cookie->empty()) return fresh_session();
  auto refuse = [&](std::string_view why) {
    app.logger.debug("session cookie '" + name + "' ignored (" + std::string(why) +
                     "): starting a new session");
    return fresh_session();
  };
  auto token = Signer(std::move(keys), kIdSalt).unsign(*cookie);
  if (!token) return refuse("bad signature");
  if (now_seconds() - token->timestamp > lifetime_seconds(app)) return refuse("expired");
  std::optional<std::string> stored;
  try {
    stored = wait_for(pool_->get(key_of(token->payload)));
  } catch (const redis::Error&) {
    app.logger.error("the session store is unreachable (" +
                     describe_exception(std::current_exception()) +
                     "): this request's session reads as empty and will not be saved");
    auto s = std::make_unique<RedisSession>(Json::object(), token->payload, false);
    s->store_unavailable = true;
    return s;
  }
  if (!stored) return refuse("no such session in Redis: expired or deleted");
  try {
    Json data = Json::parse(*stored);
    if (!data.is_object()) return refuse("stored session is not a JSON object");
    return std::make_unique<RedisSession>(std::move(data), token->payload, false);
  } catch (const JsonError& e) {
    return refuse(std::string("stored session is not JSON: ") + e.what());
  }
}

void RedisSessionInterface::save_session(App& app, Session& session, Response& response) {
  auto* s = dynamic_cast<RedisSession*>(&session);
  if (!s)
    throw std::logic_error(
        "grove::web::RedisSessionInterface: save_session got a session it did not open");
  if (s->store_unavailable) {
    if (s->modified)
      app.logger.error(
          "session changes lost: the session store was unreachable when the request began");
    return;
  }
  const bool store = begin_save(app, session, response);
  const std::int64_t lifetime = lifetime_seconds(app);
  try {
    if (!store) {
      // An emptied session goes from Redis too (begin_save deleted its cookie).
      if (session.empty() && session.modified && !session.is_new)
        wait_for(pool_->command("DEL", key_of(s->id())));
      return;
    }
    if (session.modified)
      wait_for(pool_->command("SET", key_of(s->id()), session.data().dump(), "EX", lifetime));
    else  // refreshed, unchanged: move the expiry only, never overwrite another request's write
      wait_for(pool_->command("EXPIRE", key_of(s->id()), lifetime));
  } catch (const redis::Error&) {
    app.logger.error("the session was not saved: the session store failed (" +
                     describe_exception(std::current_exception()) + ")");
    return;
  }
  response.set_cookie(cookie_name(app),
                      Signer(secret_keys(app), kIdSalt).sign(s->id(), now_seconds()),
                      cookie_options(app, session));
}

}  // namespace grove::web
