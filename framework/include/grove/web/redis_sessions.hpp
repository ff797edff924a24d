// Server-side sessions in Redis (Flask-Session's RedisSessionInterface), so that every
// instance behind a load balancer, on any machine, reads the same session.
//
//   app.config["SECRET_KEY"] = "a long random string";
//   app.config["SESSION_TYPE"] = "redis";                       // chosen by config alone,
//   app.config["SESSION_REDIS_URL"] = "redis://10.0.0.5:6379/0"; // or in code:
//   app.session_interface = std::make_shared<web::RedisSessionInterface>(
//       web::RedisSessionOptions{.url = "redis://10.0.0.5:6379/0"});
//   // views use web::session() exactly as with the cookie session.
//
// Contract:
//  - The session is a JSON object stored as a string under SESSION_KEY_PREFIX + id
//    ("session:" + id), with a TTL of PERMANENT_SESSION_LIFETIME (permanent or not), reset
//    whenever the session is written or, for a permanent session with
//    SESSION_REFRESH_EACH_REQUEST, refreshed. The id is 32 random bytes (base64url); the
//    cookie carries only the id, HMAC-signed with SECRET_KEY (SECRET_KEY_FALLBACKS are
//    accepted for reading). Cookie attributes and when Set-Cookie is sent: as the cookie
//    session (grove/web/sessions.hpp). A session emptied by the request is deleted from
//    Redis and its cookie deleted.
//  - An unknown, expired or tampered id starts a new session under a new id (an id is never
//    taken from the client).
//  - Redis down or slow (past SESSION_REDIS_TIMEOUT): the request still gets its answer.
//    The session reads as empty, changes to it are not saved, and each failure is an error
//    line on app.logger; nothing throws into the view.
//  - The session is opened when the request starts (before before_request hooks), because
//    opening it waits for Redis, which a coroutine view running on the hub cannot do
//    synchronously; the wait blocks only the request's green thread (green::wait).
//  - One interface (and its connection pool) serves one OS thread's hub at a time: the
//    server's green threads, each --workers process with its own. Use one per App.
//  - Without SECRET_KEY: as the cookie session (reads empty, writing throws).
//
// Config keys (read by from_config(), which SESSION_TYPE = "redis" uses):
//   SESSION_REDIS_URL        redis://[user[:password]@]host[:port][/db] (required)
//   SESSION_KEY_PREFIX       "session:"
//   SESSION_REDIS_POOL_SIZE  10 connections
//   SESSION_REDIS_TIMEOUT    1.0 seconds: connect, acquire and each command
//
// Built with grove::redis (GROVE_BUILD_CLIENTS); without it this header is absent from the
// build and SESSION_TYPE = "redis" is a ConfigError saying so.
#pragma once

#include <grove/redis/pool.hpp>
#include <grove/web/sessions.hpp>

#include <chrono>
#include <memory>
#include <string>

namespace grove::web {

struct RedisSessionOptions {
  std::string url;
  std::string key_prefix = "session:";
  std::size_t pool_size = 10;
  std::chrono::milliseconds timeout{1000};
};

// A session read from (or to be written to) Redis under `id`.
class RedisSession : public Session {
 public:
  RedisSession(Json data, std::string id, bool is_new);
  const std::string& id() const noexcept { return id_; }
  // Redis could not be read when the request opened the session: it reads as empty and is
  // not written back (that would overwrite the real one).
  bool store_unavailable = false;

 private:
  std::string id_;
};

class RedisSessionInterface : public SessionInterface {
 public:
  // std::invalid_argument for a bad URL, a pool_size of 0 or a timeout that is not positive.
  // Its pool shows in the metrics as grove_pool_*{client="redis", pool="sessions"}.
  explicit RedisSessionInterface(RedisSessionOptions options);
  ~RedisSessionInterface() override;
  RedisSessionInterface(const RedisSessionInterface&) = delete;
  RedisSessionInterface& operator=(const RedisSessionInterface&) = delete;
  // From SESSION_REDIS_URL and the other keys above; ConfigError naming the key otherwise.
  static std::shared_ptr<RedisSessionInterface> from_config(const App& app);

  std::unique_ptr<Session> open_session(App& app, Request& request) override;
  void save_session(App& app, Session& session, Response& response) override;
  bool open_at_request_start() const noexcept override { return true; }

  // The Redis key of session `id`.
  std::string key_of(std::string_view id) const { return options_.key_prefix + std::string(id); }
  redis::Pool& pool() noexcept { return *pool_; }

 private:
  std::unique_ptr<Session> fresh_session() const;
  RedisSessionOptions options_;
  std::shared_ptr<redis::Pool> pool_;
  std::uint64_t metrics_id_ = 0;
};

}  // namespace grove::web
