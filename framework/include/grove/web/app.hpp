// grove::web::App — a Flask-like application; Blueprint; class-based views; the test client.
//
//   web::App app;
//   app.route("/hello", [] { return web::Response::text("Hello, World!"); });
//   app.route("/user/<int:id>", {"GET"}, [](std::int64_t id) { return "user " + std::to_string(id); });
//   app.route("/slow", [](web::Request& req) -> aio::Task<web::Response> {
//     co_await aio::sleep(10ms);
//     co_return req.method();                 // also web::request().method()
//   });
//   app.errorhandler<std::runtime_error>([](const std::runtime_error& e) {
//     return web::Response(web::Json{{"error", e.what()}}, 500);
//   });
//   auto r = app.test_client().get("/hello");   // no socket, every hook runs
//
// Any view, hook, error handler, View::dispatch_request or MethodView method may be a
// coroutine (return grove::aio::Task<...>), mixed freely with synchronous ones. Each call
// that returns a coroutine is run through `app.async_to_sync` at that moment, so replacing
// the bridge changes every blueprint, view and hook at once, without re-registering.
//
// Register routes, hooks and handlers before serving; the app is then read-only and may be
// called from many green threads (and worker threads) at once.
#pragma once

#include <grove/aio/task.hpp>
#include <grove/web/handler.hpp>
#include <grove/web/logging.hpp>
#include <grove/web/request.hpp>
#include <grove/web/response.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
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

class App;
class Blueprint;
class TestClient;

// Runs a coroutine to completion from synchronous code and returns when it has, rethrowing
// the exception it ended with (with its type). The Task is lazy: it has not started.
// web::thread_bridge (the default) and web::green_bridge are the two built in; any callable
// of this shape can replace them (see examples/custom_bridge.cpp).
using AsyncToSync = std::function<void(aio::Task<void>)>;

// A view registered under a rule: its endpoint name, methods and the erased callable.
struct ViewFunc {
  std::string endpoint;
  std::vector<std::string> methods;  // empty: {"GET"}
  detail::ViewFn fn;
  // Validates the handler's path parameters against the rule (throws std::invalid_argument).
  std::function<void(const Rule&)> check;
  bool coroutine = false;  // some callable of it is known to be a coroutine
};

namespace detail {
struct ScaffoldState {
  std::string name;
  std::string url_prefix;
  std::vector<BeforeFn> before;
  std::vector<AfterFn> after;
  std::vector<TeardownFn> teardown;
  std::map<int, ErrorFn> by_status;
  std::vector<TypedErrorHandler> by_type;  // most derived first
  struct PendingRoute {
    std::string rule;
    ViewFunc view;
  };
  std::vector<PendingRoute> routes;  // a blueprint's, until it is registered
  struct Child {
    std::shared_ptr<ScaffoldState> state;
    std::string url_prefix;  // overrides the child's own when not empty
  };
  std::vector<Child> children;
  bool registered = false;
  bool coroutines = false;  // a coroutine callable was registered here
};

void insert_typed_handler(std::vector<TypedErrorHandler>& list, TypedErrorHandler handler);
void check_error_code(int code);
}  // namespace detail

// What App and Blueprint share: routes, hooks and error handlers.
class Scaffold {
 public:
  virtual ~Scaffold() = default;

  const std::string& name() const noexcept { return state_->name; }

  // --- routes ------------------------------------------------------------------------------
  // Registers `view` for `rule` and `methods` ("GET" when empty; HEAD follows GET and
  // OPTIONS is answered automatically unless listed). The view may take web::Request& first
  // and then the rule's parameters in order, typed as their converters say
  // (<int:id> -> any integer type, <float:x> -> double, others -> std::string or
  // std::string_view); a mismatch is a std::invalid_argument here, not a 500 later.
  template <class F>
  Scaffold& route(std::string rule, std::vector<std::string> methods, F view, std::string endpoint = {}) {
    ViewFunc v;
    v.endpoint = endpoint.empty() ? rule : std::move(endpoint);
    v.methods = std::move(methods);
    v.coroutine = detail::returns_task<F>();
    v.check = [](const Rule& r) { detail::check_view<F>(r, "the view"); };
    v.fn = detail::ViewAdapter<F>{std::move(view)};
    return add_url_rule(std::move(rule), std::move(v));
  }
  template <class F>
  Scaffold& route(std::string rule, F view) {
    return route(std::move(rule), {"GET"}, std::move(view));
  }
  // A class-based view from as_view<V>(), or a hand-made ViewFunc. `methods`, if given,
  // replaces the view's own.
  Scaffold& add_url_rule(std::string rule, ViewFunc view, std::vector<std::string> methods = {});

  // --- hooks ---------------------------------------------------------------------------------
  // Runs before each request (of this blueprint, for a blueprint), app hooks first, in
  // registration order. f() or f(Request&); returning void or an empty std::optional goes
  // on; returning a response (or an engaged optional) answers the request with it and skips
  // the view and the remaining before hooks (after hooks still run).
  template <class F>
  Scaffold& before_request(F f) {
    state_->coroutines |= detail::hook_is_coroutine<F, Request&>() || detail::hook_is_coroutine<F>();
    state_->before.push_back(detail::make_before(std::move(f)));
    return *this;
  }
  // Runs after each request with its response, blueprint hooks first, each scope's in
  // reverse order of registration. f(Response) returns the replacement; f(Response&)
  // may change it in place and return void. Optionally followed by Request&.
  template <class F>
  Scaffold& after_request(F f) {
    state_->coroutines |= detail::hook_is_coroutine<F, Response>() || detail::hook_is_coroutine<F, Response&>() ||
                          detail::hook_is_coroutine<F, Response, Request&>() ||
                          detail::hook_is_coroutine<F, Response&, Request&>();
    state_->after.push_back(detail::make_after(std::move(f)));
    return *this;
  }
  // Runs when the request ends, whatever happened: f() or f(std::exception_ptr) (the
  // unhandled exception, or null). Every teardown hook runs even if one throws; what they
  // throw is logged to app.logger. Same order as after_request.
  template <class F>
  Scaffold& teardown_request(F f) {
    state_->coroutines |= detail::hook_is_coroutine<F, std::exception_ptr>() || detail::hook_is_coroutine<F>();
    state_->teardown.push_back(detail::make_teardown(std::move(f)));
    return *this;
  }

  // --- error handlers --------------------------------------------------------------------
  // For HTTP errors with this status (abort(code), 404/405 from routing, HTTPException).
  // For 500, it also answers every unhandled exception (it receives an InternalServerError
  // whose original_exception() is what was thrown). f(const HTTPException&) or f().
  template <class F>
  Scaffold& errorhandler(int code, F f) {
    detail::check_error_code(code);
    state_->coroutines |= detail::hook_is_coroutine<F, HTTPException&>() || detail::hook_is_coroutine<F>();
    state_->by_status[code] = detail::make_error_handler<HTTPException>(std::move(f));
    return *this;
  }
  // For exceptions of type E and types derived from it; among the handlers that match, the
  // one for the most derived type wins. f(const E&), f(std::exception_ptr) or f().
  template <class E, class F>
  Scaffold& errorhandler(F f) {
    state_->coroutines |= detail::hook_is_coroutine<F, E&>() || detail::hook_is_coroutine<F>();
    detail::insert_typed_handler(state_->by_type,
                                 detail::make_typed_error_handler<E>(detail::make_error_handler<E>(std::move(f))));
    return *this;
  }

  // Registers a blueprint: on an app, its routes (and its children's) are added now under
  // `url_prefix` (default: the blueprint's own); on a blueprint, `child` is nested and its
  // routes get both prefixes when the parent is registered.
  virtual Scaffold& register_blueprint(Blueprint& child, std::string url_prefix = {});

  const std::shared_ptr<detail::ScaffoldState>& state() const noexcept { return state_; }

 protected:
  explicit Scaffold(std::string name, std::string url_prefix = {});
  virtual void on_route(std::string rule, ViewFunc view) = 0;

  std::shared_ptr<detail::ScaffoldState> state_;
};

// A group of routes, hooks and error handlers registered on an app under a URL prefix.
// Its hooks and error handlers apply to its own routes only. Register its routes before
// registering it; hooks and error handlers may be added later. Copies share state.
class Blueprint : public Scaffold {
 public:
  explicit Blueprint(std::string name, std::string url_prefix = {});

 protected:
  void on_route(std::string rule, ViewFunc view) override;
};

// --- class-based views --------------------------------------------------------------------
// Derive from View and define dispatch_request (with the same parameters a view function
// may take; it may be a coroutine), optionally `static inline std::vector<std::string>
// methods = {...}`. Derive from MethodView and define get/post/put/patch/delete_/head/
// options members instead: the allowed methods are the ones defined. An instance is
// created per request with the arguments given to as_view().
struct View {
  virtual ~View() = default;
};
struct MethodView : View {};

namespace detail {
// Calls `member` on a fresh V for this request; the instance lives as long as a coroutine
// member runs.
template <class V, class M>
struct MemberView {
  M member;
  std::function<std::shared_ptr<V>()> make;
  aio::Task<void> operator()(Response* out, Request& req) {
    std::shared_ptr<V> self = make();
    using Args = typename fn_traits<M>::args;
    constexpr bool takes_req = first_is_request<Args>();
    constexpr std::size_t n = std::tuple_size_v<Args> - (takes_req ? 1 : 0);
    auto bound = [&](auto&&... a) -> decltype(auto) { return std::invoke(member, *self, std::forward<decltype(a)>(a)...); };
    return deliver<ViewOut>(out, invoke_view<decltype(bound), Args, takes_req>(bound, req, std::make_index_sequence<n>{}),
                            self);
  }
  static void check(const Rule& r, std::string_view what) {
    using Args = typename fn_traits<M>::args;
    constexpr bool takes_req = first_is_request<Args>();
    constexpr std::size_t n = std::tuple_size_v<Args> - (takes_req ? 1 : 0);
    check_params<Args, takes_req ? 1 : 0>(r, what, std::make_index_sequence<n>{});
  }
  static constexpr bool coroutine() { return is_task_v<typename fn_traits<M>::result>; }
};

template <class V>
std::vector<std::string> view_methods() {
  if constexpr (requires { V::methods; }) {
    std::vector<std::string> out;
    for (const auto& m : V::methods) out.emplace_back(m);
    return out;
  } else {
    return {"GET"};
  }
}
}  // namespace detail

template <class V, class... CtorArgs>
ViewFunc as_view(std::string endpoint, CtorArgs... ctor_args) {
  static_assert(std::is_base_of_v<View, V>, "grove::web::as_view: V must derive from web::View or web::MethodView");
  std::function<std::shared_ptr<V>()> make = [=] { return std::make_shared<V>(ctor_args...); };
  ViewFunc v;
  v.endpoint = std::move(endpoint);
  if constexpr (std::is_base_of_v<MethodView, V>) {
    std::vector<std::pair<std::string, detail::ViewFn>> table;
    std::vector<std::function<void(const Rule&)>> checks;
    bool coroutine = false;
    auto add = [&](const char* method, auto member) {
      using MV = detail::MemberView<V, decltype(member)>;
      table.emplace_back(method, MV{member, make});
      checks.push_back([method](const Rule& r) { MV::check(r, std::string("MethodView::") + method); });
      coroutine = coroutine || MV::coroutine();
    };
    if constexpr (requires { &V::get; }) add("GET", &V::get);
    if constexpr (requires { &V::post; }) add("POST", &V::post);
    if constexpr (requires { &V::put; }) add("PUT", &V::put);
    if constexpr (requires { &V::patch; }) add("PATCH", &V::patch);
    if constexpr (requires { &V::delete_; }) add("DELETE", &V::delete_);
    if constexpr (requires { &V::head; }) add("HEAD", &V::head);
    if constexpr (requires { &V::options; }) add("OPTIONS", &V::options);
    static_assert(requires { &V::get; } || requires { &V::post; } || requires { &V::put; } ||
                      requires { &V::patch; } || requires { &V::delete_; },
                  "grove::web: a MethodView defines at least one of get, post, put, patch, delete_");
    for (auto& [m, fn] : table) v.methods.push_back(m);
    v.coroutine = coroutine;
    v.check = [checks](const Rule& r) {
      for (auto& c : checks) c(r);
    };
    v.fn = [table = std::move(table)](Response* out, Request& req) -> aio::Task<void> {
      const detail::ViewFn* get = nullptr;
      for (auto& [m, fn] : table) {
        if (m == req.method()) return fn(out, req);
        if (m == "GET") get = &fn;
      }
      if (req.method() == "HEAD" && get) return (*get)(out, req);
      std::vector<std::string> allowed;
      for (auto& [m, fn] : table) allowed.push_back(m);
      throw MethodNotAllowed(std::move(allowed));
    };
  } else {
    static_assert(requires { &V::dispatch_request; },
                  "grove::web: a View defines dispatch_request (derive from MethodView for per-method handlers)");
    using MV = detail::MemberView<V, decltype(&V::dispatch_request)>;
    v.methods = detail::view_methods<V>();
    v.coroutine = MV::coroutine();
    v.check = [](const Rule& r) { MV::check(r, "View::dispatch_request"); };
    v.fn = MV{&V::dispatch_request, make};
  }
  return v;
}

// --- the test client ----------------------------------------------------------------------
// What a request made with the test client carries. Designated initializers read well:
//   client.post("/echo", {.data = "hi"});  client.post("/api", {.json = Json{{"a", 1}}});
struct RequestOptions {
  Headers headers;
  std::string data;             // the body
  std::optional<Json> json;     // a JSON body (sets Content-Type: application/json)
  MultiDict form;               // an urlencoded body
  MultiDict query;              // appended to the target's query string
  std::string content_type;     // for `data`
  std::string remote_addr = "127.0.0.1";
};

// A finished response: the body of a streamed response has been collected.
class TestResponse {
 public:
  int status = 0;
  Headers headers;
  std::string body;
  bool streamed = false;

  int status_code() const noexcept { return status; }
  const std::string& data() const noexcept { return body; }
  const std::string& text() const noexcept { return body; }
  std::string mimetype() const { return media_type(headers.get("Content-Type", "")); }
  // The body parsed as JSON (JsonError if it is not).
  Json json() const { return Json::parse(body); }
};

class TestClient {
 public:
  explicit TestClient(App& app) : app_(&app) {}

  // Runs the whole request cycle (routing, every hook, error handlers, bridges) without a
  // socket. A streamed body is collected. Exceptions escape only with PROPAGATE_EXCEPTIONS
  // (or TESTING) set.
  TestResponse open(std::string method, std::string target, RequestOptions options = {});
  TestResponse get(std::string target, RequestOptions options = {}) { return open("GET", std::move(target), std::move(options)); }
  TestResponse head(std::string target, RequestOptions options = {}) { return open("HEAD", std::move(target), std::move(options)); }
  TestResponse options(std::string target, RequestOptions options = {}) { return open("OPTIONS", std::move(target), std::move(options)); }
  TestResponse post(std::string target, RequestOptions options = {}) { return open("POST", std::move(target), std::move(options)); }
  TestResponse post(std::string target, std::string body, std::string content_type = "text/plain; charset=utf-8");
  TestResponse post_json(std::string target, Json body);
  TestResponse put(std::string target, RequestOptions options = {}) { return open("PUT", std::move(target), std::move(options)); }
  TestResponse patch(std::string target, RequestOptions options = {}) { return open("PATCH", std::move(target), std::move(options)); }
  TestResponse delete_(std::string target, RequestOptions options = {}) { return open("DELETE", std::move(target), std::move(options)); }

 private:
  App* app_;
};

// --- the app --------------------------------------------------------------------------------
class App : public Scaffold {
 public:
  explicit App(std::string name = "app");
  ~App() override;
  App(const App&) = delete;
  App& operator=(const App&) = delete;

  Config config;
  Logger logger;

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
  Response handle(Request&& request) { return handle(std::make_shared<Request>(std::move(request))); }

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
namespace detail {
struct RequestContext;
}
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
