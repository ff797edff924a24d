// grove::web class-based views: View, MethodView and as_view() (Flask's views.py).
//
// Promises: as_view() creates a fresh instance per request with the arguments it was given;
// a MethodView allows exactly the methods it defines (HEAD follows get), and any other
// method is a 405 with the Allow header; members may be coroutines.
//
//   struct Items : web::MethodView {
//     web::Response get(std::int64_t id) { return web::Json{{"id", id}}; }
//     aio::Task<web::Response> delete_(std::int64_t id) { co_return web::Response("", 204); }
//   };
//   app.add_url_rule("/items/<int:id>", web::as_view<Items>("items"));
#pragma once

#include <grove/web/detail/views.hpp>
#include <grove/web/exceptions.hpp>
#include <grove/web/scaffold.hpp>

#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace grove::web {

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

template <class V, class... CtorArgs>
ViewFunc as_view(std::string endpoint, CtorArgs... ctor_args) {
  static_assert(std::is_base_of_v<View, V>,
                "grove::web::as_view: V must derive from web::View or web::MethodView");
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
      checks.push_back(
          [method](const Rule& r) { MV::check(r, std::string("MethodView::") + method); });
      coroutine = coroutine || MV::coroutine();
    };
    if constexpr (requires { &V::get; }) add("GET", &V::get);
    if constexpr (requires { &V::post; }) add("POST", &V::post);
    if constexpr (requires { &V::put; }) add("PUT", &V::put);
    if constexpr (requires { &V::patch; }) add("PATCH", &V::patch);
    if constexpr (requires { &V::delete_; }) add("DELETE", &V::delete_);
    if constexpr (requires { &V::head; }) add("HEAD", &V::head);
    if constexpr (requires { &V::options; }) add("OPTIONS", &V::options);
    static_assert(
        requires { &V::get; } || requires { &V::post; } || requires { &V::put; } ||
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
    static_assert(
        requires { &V::dispatch_request; },
        "grove::web: a View defines dispatch_request (derive from MethodView for per-method "
        "handlers)");
    using MV = detail::MemberView<V, decltype(&V::dispatch_request)>;
    v.methods = detail::view_methods<V>();
    v.coroutine = MV::coroutine();
    v.check = [](const Rule& r) { MV::check(r, "View::dispatch_request"); };
    v.fn = MV{&V::dispatch_request, make};
  }
  return v;
}

}  // namespace grove::web
