// grove::web::Scaffold and Blueprint: routes, hooks and error handlers (Flask's
// sansio/scaffold.py and blueprints.py).
//
// Promises: a rule is checked against its view's parameters when it is registered (a
// mismatch throws std::invalid_argument then, not a 500 later); hooks run in the order
// documented on each method; a blueprint's hooks and error handlers apply to its own
// routes only. App derives from Scaffold, so everything here works on an app too.
//
//   web::Blueprint api("api", "/api");
//   api.route("/items/<int:id>", [](std::int64_t id) { return web::Json{{"id", id}}; });
//   api.before_request([](web::Request& r) -> std::optional<web::Response> {
//     if (!r.headers().contains("Authorization")) return web::Response("no", 401);
//     return std::nullopt;
//   });
//   api.errorhandler(404, [] { return web::Response::json({{"error", "not found"}}, 404); });
//   app.register_blueprint(api);                  // GET /api/items/7
#pragma once

#include <grove/web/body_stream.hpp>
#include <grove/web/detail/scaffold.hpp>
#include <grove/web/exceptions.hpp>
#include <grove/web/request.hpp>
#include <grove/web/response.hpp>
#include <grove/web/routing.hpp>
#include <grove/web/websocket.hpp>

#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace grove::web {

class Blueprint;

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
  Scaffold& route(std::string rule, std::vector<std::string> methods, F view,
                  std::string endpoint = {}) {
    ViewFunc v = view_func(rule, std::move(methods), std::move(view), std::move(endpoint));
    return add_url_rule(std::move(rule), std::move(v));
  }
  template <class F>
  Scaffold& route(std::string rule, F view) {
    return route(std::move(rule), {"GET"}, std::move(view));
  }
  // A coroutine view that reads its own body with co_await request.stream().read(n)
  // (grove/web/body_stream.hpp): the body is not read into memory before it runs.
  template <class F>
  Scaffold& route(std::string rule, std::vector<std::string> methods, StreamedBody<F> view,
                  std::string endpoint = {}) {
    ViewFunc v = view_func(rule, std::move(methods), std::move(view.view), std::move(endpoint));
    v.streams_body = true;
    return add_url_rule(std::move(rule), std::move(v));
  }
  // Serves the files under `folder` (relative: to the working directory now) at
  // `url_path`/<path:filename> as the endpoint "static" ("<blueprint>.static" on a
  // blueprint; url_path is then under the blueprint's prefix), through
  // send_from_directory(): url_for("static", {{"filename", "app.css"}}). Flask registers
  // its static folder by default; grove does when asked, so no app grows a route it did
  // not name. See grove/web/files.hpp.
  Scaffold& serve_static(std::string folder, std::string url_path = "/static");

  // Where render_template() finds this scaffold's templates (relative: to the working
  // directory now). An app's default is "templates" in the working directory when the App
  // was made; a blueprint has none unless given. The app's folder is searched first, then
  // each blueprint's in registration order (grove/web/templating.hpp).
  Scaffold& template_folder(std::string folder);
  const std::string& template_folder() const noexcept { return state_->template_folder; }
  // Adds a JSON object to every template's context (Flask's context_processor): the app's
  // for every render, a blueprint's for renders in requests to its routes. Each runs at
  // every render; the view's own context wins over them. A result that is not an object is
  // a TemplateError.
  //   app.context_processor([] { return web::Json{{"user", web::session().get<std::string>("user",
  //   "")}}; });
  Scaffold& context_processor(std::function<Json()> processor);

  // A WebSocket endpoint (docs/websocket.md, docs/web.md): a GET route whose view accepts
  // the upgrade and runs `handler` on the connection's green thread, inside the request's
  // context (web::request().view_args() has the rule's parameters). before_request hooks run
  // first and may refuse with an HTTP response; a request that is no valid handshake gets
  // 400 (426 for another version). The handler is a plain function of a
  // grove::http::ws::WebSocket&, or a coroutine of a web::AsyncWebSocket& (run on the
  // green bridge):
  //   app.websocket("/ws/<room>", [](grove::http::ws::WebSocket& ws) {
  //     while (auto m = ws.receive()) ws.send(request().view_args()["room"] + ": " + m->data);
  //   });
  //   app.websocket("/ws/echo", [](web::AsyncWebSocket& ws) -> aio::Task<void> {
  //     while (auto m = co_await ws.receive()) co_await ws.send(*m);
  //   });
  Scaffold& websocket(std::string rule, std::function<void(grove::http::ws::WebSocket&)> handler,
                      grove::http::ws::Options options = {}, std::string endpoint = {});
  Scaffold& websocket(std::string rule, std::function<aio::Task<void>(AsyncWebSocket&)> handler,
                      grove::http::ws::Options options = {}, std::string endpoint = {});
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
    state_->coroutines |=
        detail::hook_is_coroutine<F, Request&>() || detail::hook_is_coroutine<F>();
    state_->before.push_back(detail::make_before(std::move(f)));
    return *this;
  }
  // Runs after each request with its response, blueprint hooks first, each scope's in
  // reverse order of registration. f(Response) returns the replacement; f(Response&)
  // may change it in place and return void. Optionally followed by Request&.
  template <class F>
  Scaffold& after_request(F f) {
    state_->coroutines |= detail::hook_is_coroutine<F, Response>() ||
                          detail::hook_is_coroutine<F, Response&>() ||
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
    state_->coroutines |=
        detail::hook_is_coroutine<F, std::exception_ptr>() || detail::hook_is_coroutine<F>();
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
    state_->coroutines |=
        detail::hook_is_coroutine<F, HTTPException&>() || detail::hook_is_coroutine<F>();
    state_->by_status[code] = detail::make_error_handler<HTTPException>(std::move(f));
    return *this;
  }
  // For exceptions of type E and types derived from it; among the handlers that match, the
  // one for the most derived type wins. f(const E&), f(std::exception_ptr) or f().
  template <class E, class F>
  Scaffold& errorhandler(F f) {
    state_->coroutines |= detail::hook_is_coroutine<F, E&>() || detail::hook_is_coroutine<F>();
    detail::insert_typed_handler(state_->by_type, detail::make_typed_error_handler<E>(
                                                      detail::make_error_handler<E>(std::move(f))));
    return *this;
  }

  // Registers a blueprint: on an app, its routes (and its children's) are added now under
  // `url_prefix` (default: the blueprint's own); on a blueprint, `child` is nested and its
  // routes get both prefixes when the parent is registered.
  virtual Scaffold& register_blueprint(Blueprint& child, std::string url_prefix = {});

  const std::shared_ptr<detail::ScaffoldState>& state() const noexcept { return state_; }

 protected:
  explicit Scaffold(std::string name, std::string url_prefix = {});
  template <class F>
  static ViewFunc view_func(const std::string& rule, std::vector<std::string> methods, F view,
                            std::string endpoint) {
    ViewFunc v;
    v.endpoint = endpoint.empty() ? rule : std::move(endpoint);
    v.methods = std::move(methods);
    v.coroutine = detail::returns_task<F>();
    v.check = [](const Rule& r) { detail::check_view<F>(r, "the view"); };
    v.fn = detail::ViewAdapter<F>{std::move(view)};
    return v;
  }
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

}  // namespace grove::web
