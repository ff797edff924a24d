// grove::web::App — a Flask-like application, and the async_to_sync bridges.
//
//   web::App app;
//   app.route("/hello", [] { return web::Response::text("Hello, World!"); });
//   app.route("/user/<int:id>", {"GET"}, [](std::int64_t id) { return "user " + std::to_string(id);
//   }); app.route("/slow", [](web::Request& req) -> aio::Task<web::Response> {
//     co_await aio::sleep(10ms);
//     co_return req.method();                 // also web::request().method()
//   });
//   app.errorhandler<std::runtime_error>([](const std::runtime_error& e) {
//     return web::Response(web::Json{{"error", e.what()}}, 500);
//   });
//   auto r = app.test_client().get("/hello");   // no socket, every hook runs
//   grove::http::serve(std::ref(app), argc, argv);  // or behind the server
//
// Any view, hook, error handler, View::dispatch_request or MethodView method may be a
// coroutine (return grove::aio::Task<...>), mixed freely with synchronous ones. Each call
// that returns a coroutine is run through `app.async_to_sync` at that moment, so replacing
// the bridge changes every blueprint, view and hook at once, without re-registering.
//
// Register routes, hooks and handlers before serving; the app is then read-only and may be
// called from many green threads (and worker threads) at once.
//
// This header also gives Scaffold/Blueprint (grove/web/scaffold.hpp), the class-based views
// (grove/web/views.hpp) and the test client (grove/web/testing.hpp).
#pragma once

#include <grove/aio/task.hpp>
#include <grove/web/logging.hpp>
#include <grove/web/request.hpp>
#include <grove/web/response.hpp>
#include <grove/web/scaffold.hpp>
#include <grove/web/sessions.hpp>
#include <grove/web/testing.hpp>
#include <grove/web/urls.hpp>
#include <grove/web/views.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace grove::http {
class Request;
class Response;
}  // namespace grove::http

namespace grove::web {

// Runs a coroutine to completion from synchronous code and returns when it has, rethrowing
// the exception it ended with (with its type). The Task is lazy: it has not started.
// web::thread_bridge (the default) and web::green_bridge are the two built in; any callable
// of this shape can replace them (see examples/web_custom_bridge.cpp).
using AsyncToSync = std::function<void(aio::Task<void>)>;

// --- the app --------------------------------------------------------------------------------
namespace detail {
struct RequestContext;
struct TemplateEnv;
TemplateEnv template_env(App& app);
}  // namespace detail

class App : public Scaffold {
 public:
  explicit App(std::string name = "app");
  ~App() override;
  App(const App&) = delete;
  App& operator=(const App&) = delete;

  Config config;
  Logger logger;
  // Where web::session() lives; empty: the signed cookie (SecureCookieSessionInterface).
  std::shared_ptr<SessionInterface> session_interface;
  // The interface in use: session_interface if set, else the one config["SESSION_TYPE"]
  // names ("cookie", the default, or "redis": grove/web/redis_sessions.hpp), made on first
  // use; ConfigError for another name.
  SessionInterface& active_session_interface();

  // How a coroutine returned by a view, hook or error handler is run from the synchronous
  // request cycle. Read at every such call. Default: web::thread_bridge.
  AsyncToSync async_to_sync;

  // Returns a synchronous callable for f: calling it calls f and, when f returns a
  // coroutine (aio::Task<T>), runs it through async_to_sync (read at that call) and returns
  // its T. Flask's ensure_sync.
  template <class F>
  auto ensure_sync(F f) {
    return [this, f = std::move(f)](auto&&... args) mutable -> decltype(auto) {
      using R = std::invoke_result_t<F&, decltype(args)...>;
      if constexpr (detail::is_task_v<R>) {
        using T = typename detail::task_traits<std::decay_t<R>>::value_type;
        if constexpr (std::is_void_v<T>) {
          run_coroutine(std::invoke(f, std::forward<decltype(args)>(args)...));
        } else {
          std::optional<T> out;
          run_coroutine(store_into(&out, std::invoke(f, std::forward<decltype(args)>(args)...)));
          return T(std::move(*out));
        }
      } else {
        return std::invoke(f, std::forward<decltype(args)>(args)...);
      }
    };
  }
  // Runs a coroutine through async_to_sync: the request context (if any) travels with it,
  // and the request body is read first, since the coroutine may run on another thread.
  void run_coroutine(aio::Task<void> coro);

  // The whole request cycle: routing, before hooks, the view, error handlers, after hooks,
  // teardown hooks. The response of a streamed body keeps the request context alive and
  // produces its chunks with it.
  Response handle(std::shared_ptr<Request> request);
  Response handle(Request&& request) {
    return handle(std::make_shared<Request>(std::move(request)));
  }

  // The server's gateway interface: App is a grove::http application
  // (grove::http::serve(std::ref(app), argc, argv), or app.application()).
  grove::http::Response operator()(grove::http::Request& request);
  std::function<grove::http::Response(grove::http::Request&)> application();

  TestClient test_client() { return TestClient(*this); }

  Scaffold& register_blueprint(Blueprint& bp, std::string url_prefix = {}) override;

  // Whether a coroutine view, hook or error handler was registered (on the app or any
  // registered blueprint) or has been run.
  bool has_coroutines() const noexcept;
  // Every registered rule: "GET,HEAD,OPTIONS /user/<int:id> -> endpoint".
  std::vector<std::string> url_map() const;
  // Names of the registered blueprints.
  std::vector<std::string> blueprints() const;

  // Checks what the app is about to be served with and warns (through grove::compat's
  // warning registry, once per process) about combinations that cannot work well: see
  // docs/web.md. The gateway calls it on the first request; servers and the demo call it at
  // start-up. Returns the ids of the warnings that apply.
  std::vector<std::string> check_deployment(bool compat_patched, bool green_server);

  struct Impl;

 protected:
  void on_route(std::string rule, ViewFunc view) override;
  bool impl_deployment_checked() const noexcept;

 private:
  template <class T, class X>
  static aio::Task<void> store_into(std::optional<T>* out, aio::Task<X> t) {
    out->emplace(co_await std::move(t));
  }
  friend class Scaffold;
  // The request cycle over a context made by handle() or the gateway.
  Response handle_context(std::shared_ptr<detail::RequestContext> ctx);
  friend std::string url_for(const App& app, std::string_view endpoint, const Json& values);
  friend detail::TemplateEnv detail::template_env(App& app);
  std::unique_ptr<Impl> impl_;
};

// --- bridges ----------------------------------------------------------------------------------
// The default async_to_sync (asgiref's AsyncToSync): runs the coroutine on a fresh loop of
// the default engine (GROVE_LOOP, else the build's) on a worker thread while the calling
// thread blocks; the request context travels to the worker. Tasks the coroutine left running
// are cancelled when it returns and named in a warning. Called where a loop is already
// running (inside a coroutine, or in a green thread that runs one), it throws
// web::BridgeError saying to await the coroutine instead or to use the green bridge.
// Under a patched green server the blocked thread is the hub's: every other green thread
// waits too (check_deployment() warns).
void thread_bridge(aio::Task<void> coro);

// The green bridge: runs the coroutine inside the calling thread's hub (the `green` engine),
// on a loop of its own; only the calling green thread waits, its siblings keep running. The
// running loop is that green thread's alone. Leftover tasks: as thread_bridge. Outside a
// green thread (main) the caller's context waits, as any green wait does.
void green_bridge(aio::Task<void> coro);

}  // namespace grove::web

namespace grove::green {
// The green bridge under the name the design gives it: app.async_to_sync =
// grove::green::async_to_sync. (greenlet provides no bridge of its own; this one lives in
// the framework because it carries the framework's request context.)
inline void async_to_sync(aio::Task<void> coro) { web::green_bridge(std::move(coro)); }
}  // namespace grove::green

namespace grove::web {

// What the bridges throw for a call they cannot make.
class BridgeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// "thread", "green", or "custom" for another callable.
std::string bridge_name(const AsyncToSync& bridge);
// "thread" -> thread_bridge, "green" -> green_bridge; std::invalid_argument otherwise.
AsyncToSync bridge_from_name(std::string_view name);

// --- carrying the request context (for user-written bridges) ------------------------------
// The request context of the calling code (empty outside a request).
class RequestContextRef {
 public:
  RequestContextRef() = default;
  explicit RequestContextRef(std::shared_ptr<detail::RequestContext> c) : ctx_(std::move(c)) {}
  explicit operator bool() const noexcept { return bool(ctx_); }
  detail::RequestContext* get() const noexcept { return ctx_.get(); }

 private:
  std::shared_ptr<detail::RequestContext> ctx_;
};
RequestContextRef capture_request_context();
// Makes `ctx` the request context of the calling execution context (OS thread or green
// thread) for a synchronous scope. A bridge that runs the coroutine on a thread of its own
// wraps the run in one of these.
class RequestContextScope {
 public:
  explicit RequestContextScope(const RequestContextRef& ctx);
  ~RequestContextScope();
  RequestContextScope(const RequestContextScope&) = delete;
  RequestContextScope& operator=(const RequestContextScope&) = delete;

 private:
  const void* key_;
  bool bound_;
  detail::RequestContext* ctx_ = nullptr;
};
// A loop that forwards to `inner` and runs each of its callbacks with `ctx` bound and itself
// as the running loop: for a bridge whose loop runs coroutines of several requests in one
// execution context (the hub), so each coroutine sees its own request after every
// suspension. aio tasks created on it stay on it.
std::unique_ptr<EventLoop> context_loop(std::unique_ptr<EventLoop> inner, RequestContextRef ctx);
// The same over a loop the caller keeps owning (it must outlive the returned one).
std::unique_ptr<EventLoop> context_loop(EventLoop& inner, RequestContextRef ctx);

}  // namespace grove::web
