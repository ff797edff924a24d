// The request cycle (Flask's wsgi_app / full_dispatch_request), routing and registration.
#include "internal.hpp"

#include <grove/web/app.hpp>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <stdexcept>

namespace grove::web {

using detail::RequestContext;
using detail::RouteEntry;
using detail::ScaffoldState;

namespace detail {

void insert_typed_handler(std::vector<TypedErrorHandler>& list, TypedErrorHandler handler) {
  for (auto& h : list) {
    if (h.type_name == handler.type_name) {
      h = std::move(handler);
      return;
    }
  }
  // Keep every handler before the handlers of its base classes: insert just before the
  // first registered base of the new type (every type derived from it is already earlier).
  auto pos = std::find_if(list.begin(), list.end(), [&](const TypedErrorHandler& h) {
    return h.catches_null_of(handler.throw_null);
  });
  list.insert(pos, std::move(handler));
}

void check_error_code(int code) {
  if (code < 400 || code > 599)
    throw std::invalid_argument("errorhandler(" + std::to_string(code) +
                                "): not an HTTP error status; register handlers for 400-599, or "
                                "errorhandler<ExceptionType>() for exceptions");
}

}  // namespace detail

namespace {

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string join_prefix(std::string_view prefix, std::string_view rule) {
  if (prefix.empty()) return std::string(rule);
  std::string out(prefix);
  while (!out.empty() && out.back() == '/') out.pop_back();
  if (rule.empty() || rule.front() != '/') out.push_back('/');
  out += rule;
  return out;
}

void check_prefix(const std::string& prefix) {
  if (prefix.find('<') != std::string::npos)
    throw std::invalid_argument("blueprint url_prefix '" + prefix +
                                "' has a parameter; grove's blueprints take static prefixes only");
  if (!prefix.empty() && prefix.front() != '/')
    throw std::invalid_argument("blueprint url_prefix '" + prefix + "' must start with '/'");
}

bool is_std_exception(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception&) {
    return true;
  } catch (...) {
    return false;
  }
}

// Calls an erased callable, bridging the coroutine it returned, if any.
template <class Out, class... A>
void call_erased(App& app, const std::function<aio::Task<void>(Out*, A...)>& fn, Out* out,
                 std::type_identity_t<A>... args) {
  aio::Task<void> t = fn(out, std::forward<A>(args)...);
  if (t) app.run_coroutine(std::move(t));
}

aio::Task<void> next_chunk(std::optional<std::string>* out, Response::AsyncSource* source) {
  *out = co_await (*source)();
}

}  // namespace

// --- Scaffold and Blueprint ------------------------------------------------------------------

Scaffold::Scaffold(std::string name, std::string url_prefix)
    : state_(std::make_shared<ScaffoldState>()) {
  check_prefix(url_prefix);
  state_->name = std::move(name);
  state_->url_prefix = std::move(url_prefix);
}

Scaffold& Scaffold::add_url_rule(std::string rule, ViewFunc view,
                                 std::vector<std::string> methods) {
  if (!methods.empty()) view.methods = std::move(methods);
  if (view.methods.empty()) view.methods = {"GET"};
  for (auto& m : view.methods) m = upper(std::move(m));
  if (!view.fn) throw std::invalid_argument("add_url_rule('" + rule + "'): the view is empty");
  Rule parsed(rule);  // validates the syntax now
  if (view.check) view.check(parsed);
  state_->coroutines |= view.coroutine;
  on_route(std::move(rule), std::move(view));
  return *this;
}

Scaffold& Scaffold::register_blueprint(Blueprint& child, std::string url_prefix) {
  check_prefix(url_prefix);
  if (child.state().get() == state_.get())
    throw std::invalid_argument("a blueprint cannot be registered on itself");
  state_->children.push_back({child.state(), std::move(url_prefix)});
  return *this;
}

Blueprint::Blueprint(std::string name, std::string url_prefix)
    : Scaffold(std::move(name), std::move(url_prefix)) {
  if (state_->name.empty() || state_->name.find('.') != std::string::npos)
    throw std::invalid_argument("blueprint name '" + state_->name +
                                "' must be non-empty and contain no '.'");
}

void Blueprint::on_route(std::string rule, ViewFunc view) {
  if (state_->registered)
    throw std::logic_error("blueprint '" + state_->name +
                           "' is already registered on an app; add route '" + rule +
                           "' before registering it");
  state_->routes.push_back({std::move(rule), std::move(view)});
}

// --- App: registration ------------------------------------------------------------------------

App::App(std::string name)
    : Scaffold(name), logger(std::move(name)), async_to_sync(thread_bridge),
      impl_(std::make_unique<Impl>()) {
  impl_->app_scope = {state_.get()};
  state_->template_folder = detail::absolute_path("templates");  // Flask's default folder
}

App::~App() = default;

namespace {

// Normalises a view's methods and inserts the route in matching order.
void add_entry(App::Impl& impl, std::string rule, ViewFunc view, std::vector<ScaffoldState*> chain,
               std::vector<std::string> names, const std::string& endpoint_prefix);

}  // namespace

void App::on_route(std::string rule, ViewFunc view) {
  add_entry(*impl_, std::move(rule), std::move(view), {}, {}, "");
}

namespace {
// What a matched request reads (rule, endpoint, blueprints) and whose hooks apply to it,
// computed once per route.
void describe_route(RouteEntry& entry, ScaffoldState* app_state) {
  entry.info = Request::Route{entry.rule.text(), entry.endpoint, entry.blueprint_names};
  entry.scopes = entry.chain;
  entry.scopes.push_back(app_state);
}
}  // namespace

namespace {

void add_entry(App::Impl& impl, std::string rule, ViewFunc view, std::vector<ScaffoldState*> chain,
               std::vector<std::string> names, const std::string& endpoint_prefix) {
  auto entry = std::make_unique<RouteEntry>(std::move(rule));
  entry->endpoint = endpoint_prefix + view.endpoint;
  entry->fn = std::move(view.fn);
  entry->streams_body = view.streams_body;
  entry->chain = std::move(chain);
  entry->blueprint_names = std::move(names);
  auto has = [&](std::string_view m) {
    return std::find(entry->methods.begin(), entry->methods.end(), m) != entry->methods.end();
  };
  for (auto& m : view.methods)
    if (!has(m)) entry->methods.push_back(m);
  if (has("GET") && !has("HEAD")) entry->methods.push_back("HEAD");
  if (!has("OPTIONS")) {
    entry->methods.push_back("OPTIONS");
    entry->auto_options = true;
  }
  describe_route(*entry, impl.app_scope.front());
  auto pos = std::find_if(
      impl.routes.begin(), impl.routes.end(),
      [&](const std::unique_ptr<RouteEntry>& r) { return entry->rule.before(r->rule); });
  impl.routes.insert(pos, std::move(entry));
}

// Registers the routes of `bp` (and of its children) under `prefix`.
void register_tree(App::Impl& impl, const std::shared_ptr<ScaffoldState>& bp,
                   const std::string& prefix, std::vector<ScaffoldState*> chain,
                   std::vector<std::string> names) {
  for (auto* s : chain)
    if (s == bp.get())
      throw std::invalid_argument("blueprint '" + bp->name + "' is registered inside itself");
  chain.insert(chain.begin(), bp.get());
  names.insert(names.begin(), bp->name);
  std::string dotted;
  for (auto it = names.rbegin(); it != names.rend(); ++it)
    dotted += (dotted.empty() ? "" : ".") + *it;
  bp->registered = true;
  if (std::find(impl.blueprints.begin(), impl.blueprints.end(), bp) == impl.blueprints.end())
    impl.blueprints.push_back(bp);
  for (auto& r : bp->routes)  // copied: a blueprint may be registered under two prefixes
    add_entry(impl, join_prefix(prefix, r.rule), r.view, chain, names, dotted + ".");
  for (auto& child : bp->children) {
    const std::string& own = child.url_prefix.empty() ? child.state->url_prefix : child.url_prefix;
    register_tree(impl, child.state, join_prefix(prefix, own), chain, names);
  }
}

}  // namespace

Scaffold& App::register_blueprint(Blueprint& bp, std::string url_prefix) {
  check_prefix(url_prefix);
  register_tree(*impl_, bp.state(), url_prefix.empty() ? bp.state()->url_prefix : url_prefix, {},
                {});
  return *this;
}

std::vector<std::string> App::url_map() const {
  std::vector<std::string> out;
  for (auto& r : impl_->routes) {
    std::string methods;
    for (auto& m : r->methods) methods += (methods.empty() ? "" : ",") + m;
    out.push_back(methods + " " + r->rule.text() + " -> " + r->endpoint);
  }
  return out;
}

std::vector<std::string> App::blueprints() const {
  std::vector<std::string> out;
  for (auto& b : impl_->blueprints) out.push_back(b->name);
  return out;
}

bool App::has_coroutines() const noexcept {
  if (state_->coroutines || impl_->ran_coroutine.load(std::memory_order_relaxed)) return true;
  for (auto& b : impl_->blueprints)
    if (b->coroutines) return true;
  return false;
}

// --- the request cycle ----------------------------------------------------------------------

namespace {

struct Cycle {
  App& app;
  RequestContext& ctx;
  Request& req;
  ScaffoldState& app_state;
  const std::vector<std::unique_ptr<RouteEntry>>& routes;

  // Scopes from the innermost blueprint out to the app (set once the route is known).
  const std::vector<ScaffoldState*>* scope_list = nullptr;
  void set_scopes(const std::vector<ScaffoldState*>& app_scope) {
    scope_list = ctx.route ? &ctx.route->scopes : &app_scope;
  }
  const std::vector<ScaffoldState*>& scopes_inner_first() const { return *scope_list; }

  bool propagate() const {
    const Json* p = app.config.find("PROPAGATE_EXCEPTIONS");
    if (p && p->is_bool()) return p->as_bool();
    return app.config.get<bool>("TESTING", false);
  }

  const RouteEntry* match(std::exception_ptr& routing_error,
                          std::vector<std::string>& auto_options_allow) {
    ViewArgs args;
    bool path_matched = false;
    for (auto& r : routes) {
      if (!r->rule.match(req.path(), args)) continue;
      path_matched = true;
      if (std::find(r->methods.begin(), r->methods.end(), req.method()) != r->methods.end()) {
        req.mutable_view_args() = std::move(args);
        req.set_route(r->info);
        // The automatic OPTIONS answer lists what every rule matching this path allows.
        if (req.method() == "OPTIONS" && r->auto_options) {
          for (auto& r2 : routes) {
            ViewArgs scratch;
            if (r2->rule.match(req.path(), scratch))
              for (auto& m : r2->methods) auto_options_allow.push_back(m);
          }
        }
        return r.get();
      }
    }
    try {
      if (path_matched) {  // 405: what every rule matching this path allows
        std::vector<std::string> allowed;
        for (auto& r : routes) {
          ViewArgs scratch;
          if (r->rule.match(req.path(), scratch))
            for (auto& m : r->methods) allowed.push_back(m);
        }
        throw MethodNotAllowed(std::move(allowed));
      }
      throw NotFound();
    } catch (...) {
      routing_error = std::current_exception();
    }
    return nullptr;
  }

  std::optional<Response> preprocess() {
    // The app's hooks, then each blueprint's from the outermost in.
    const auto& scopes = scopes_inner_first();
    for (auto it = scopes.rbegin(); it != scopes.rend(); ++it) {
      for (auto& fn : (*it)->before) {
        std::optional<Response> out;
        call_erased(app, fn, &out, req);
        if (out) return out;
      }
    }
    return std::nullopt;
  }

  Response dispatch(const std::exception_ptr& routing_error,
                    const std::vector<std::string>& allow) {
    if (routing_error) std::rethrow_exception(routing_error);
    const RouteEntry& r = *ctx.route;
    if (req.method() == "OPTIONS" && r.auto_options) {
      std::vector<std::string> methods = allow;
      std::sort(methods.begin(), methods.end());
      methods.erase(std::unique(methods.begin(), methods.end()), methods.end());
      std::string joined;
      for (auto& m : methods) joined += (joined.empty() ? "" : ", ") + m;
      Response resp(std::string(), 200);
      resp.headers.set("Allow", joined);
      return resp;
    }
    Response out{Response::Blank{}};
    call_erased(app, r.fn, &out, req);
    return out;
  }

  // Flask's _find_error_handler: by status (blueprints first, then the app), then by type
  // (blueprints first, then the app; most derived type first within a scope).
  const detail::ErrorFn* find_handler(const std::exception_ptr& e, std::optional<int> code) const {
    const auto& scopes = scopes_inner_first();
    if (code) {
      for (auto* s : scopes) {
        auto it = s->by_status.find(*code);
        if (it != s->by_status.end()) return &it->second;
      }
    }
    for (auto* s : scopes)
      for (auto& h : s->by_type)
        if (h.matches(e)) return &h.fn;
    return nullptr;
  }

  // Flask's handle_user_exception: an answer for a handled exception, or rethrows.
  Response handle_user_exception(std::exception_ptr e) {
    const HTTPException* http = detail::exception_object<const HTTPException>(e);
    const detail::ErrorFn* handler =
        find_handler(e, http ? std::optional<int>(http->code()) : std::nullopt);
    if (!handler) {
      if (http) return http->get_response();
      std::rethrow_exception(e);
    }
    Response out{Response::Blank{}};
    call_erased(app, *handler, &out, e);
    return out;
  }

  // Flask's handle_exception: logs, answers 500 through the 500 handler if there is one.
  Response handle_exception(std::exception_ptr e) {
    app.logger.exception("Exception on " + req.path() + " [" + req.method() + "]", e);
    std::exception_ptr server_error =
        std::make_exception_ptr(InternalServerError(std::string(), e));
    const detail::ErrorFn* handler = find_handler(server_error, 500);
    Response out{Response::Blank{}};
    if (handler) call_erased(app, *handler, &out, server_error);
    else out = detail::exception_object<InternalServerError>(server_error)->get_response();
    return finalize(std::move(out), true);
  }

  // after_request hooks: innermost blueprint first, each scope's in reverse order.
  Response finalize(Response rv, bool from_error_handler) {
    try {
      for (auto* s : scopes_inner_first())
        for (auto it = s->after.rbegin(); it != s->after.rend(); ++it)
          call_erased(app, *it, &rv, req);
      detail::save_session(app, ctx, rv);  // after the hooks, as Flask's process_response
    } catch (...) {
      if (!from_error_handler) throw;
      app.logger.exception("Request finalizing failed with an error while handling an error",
                           std::current_exception());
    }
    return rv;
  }

  Response full_dispatch(const std::exception_ptr& routing_error,
                         const std::vector<std::string>& allow) {
    Response rv{Response::Blank{}};
    try {
      detail::open_session_at_start(app, ctx);
      std::optional<Response> early = preprocess();
      rv = early ? std::move(*early) : dispatch(routing_error, allow);
    } catch (...) {
      rv = handle_user_exception(std::current_exception());
    }
    return finalize(std::move(rv), false);
  }

  void teardown(std::exception_ptr error) {
    for (auto* s : scopes_inner_first()) {
      for (auto it = s->teardown.rbegin(); it != s->teardown.rend(); ++it) {
        try {
          detail::Nothing nothing;
          call_erased(app, *it, &nothing, error);
        } catch (...) {
          app.logger.exception(
              "Error in a teardown_request hook on " + req.path() + " [" + req.method() + "]",
              std::current_exception());
        }
      }
    }
  }
};

}  // namespace

Response App::handle(std::shared_ptr<Request> request) {
  auto ctx = std::make_shared<RequestContext>();
  ctx->app = this;
  ctx->request = request.get();
  ctx->kept = std::move(request);
  return handle_context(std::move(ctx));
}

Response App::handle_context(std::shared_ptr<RequestContext> ctx) {
  Request& req = *ctx->request;
  if (const Json* limit = config.find("MAX_CONTENT_LENGTH"); limit && limit->is_int())
    req.set_max_content_length(static_cast<std::size_t>(limit->as_int()));

  detail::ContextBinding bind(ctx.get());
  Cycle cycle{*this, *ctx, req, *state_, impl_->routes};

  std::exception_ptr routing_error;
  std::vector<std::string> allow;
  ctx->route = cycle.match(routing_error, allow);
  cycle.set_scopes(impl_->app_scope);

  std::exception_ptr error;  // what teardown hooks receive: the unhandled exception
  Response response{Response::Blank{}};
  try {
    try {
      response = cycle.full_dispatch(routing_error, allow);
    } catch (...) {
      error = std::current_exception();
      // Exceptions that are not errors (a green thread being killed, a cancelled task) and,
      // when configured, every exception, go up to the caller.
      if (!is_std_exception(error) || cycle.propagate()) throw;
      response = cycle.handle_exception(error);
    }
  } catch (...) {
    cycle.teardown(error ? error : std::current_exception());
    throw;
  }
  cycle.teardown(error);

  // A streamed body is produced after this returns: keep the request context alive for it
  // and bind it around each chunk (Flask's stream_with_context, always on).
  if (response.async_source()) {
    App* app = this;
    Response::AsyncSource src = std::move(response.async_source());
    response.async_source() = nullptr;
    response.source() = [ctx, app, src = std::move(src)]() mutable -> std::optional<std::string> {
      detail::ContextBinding b(ctx.get());
      std::optional<std::string> chunk;
      app->run_coroutine(next_chunk(&chunk, &src));
      return chunk;
    };
  } else if (response.source()) {
    Response::Source src = std::move(response.source());
    response.source() = [ctx, src = std::move(src)]() mutable -> std::optional<std::string> {
      detail::ContextBinding b(ctx.get());
      return src();
    };
  }
  // A WebSocket handler runs after this returns too: in the request's context.
  if (response.upgrade()) {
    Response::Upgrade run = std::move(response.upgrade());
    response.upgrade() = [ctx, run = std::move(run)](grove::http::UpgradedStream& s) {
      detail::ContextBinding b(ctx.get());
      run(s);
    };
  }
  return response;
}

void App::run_coroutine(aio::Task<void> coro) {
  impl_->ran_coroutine.store(true, std::memory_order_relaxed);
  if (RequestContext* ctx = detail::current_request_context()) {
    // The coroutine may run on another thread: read the body here, on the connection's,
    // unless its view takes the body itself through request.stream() (the bridge's pump).
    const bool streams = ctx->route && ctx->route->streams_body;
    if (!streams && !ctx->request->body_loaded()) ctx->request->load_body();
  }
  if (!async_to_sync)
    throw std::logic_error(
        "grove::web: app.async_to_sync is empty; assign web::thread_bridge, "
        "web::green_bridge or a bridge of your own");
  async_to_sync(std::move(coro));
}

}  // namespace grove::web
