// Framework internals shared by the sources.
#pragma once

#include <grove/web/app.hpp>
#include <grove/web/routing.hpp>

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace grove::web::detail {

struct RouteEntry {
  Rule rule;
  std::string endpoint;
  std::vector<std::string> methods;  // upper-case; HEAD added with GET, OPTIONS unless auto
  bool auto_options = false;         // OPTIONS answered by the framework
  bool streams_body = false;         // web::streamed_body: no body read before a coroutine
  ViewFn fn;
  std::vector<ScaffoldState*> chain;  // the blueprints it belongs to, innermost first
  std::vector<std::string> blueprint_names;
  std::vector<ScaffoldState*> scopes;  // chain, then the app: whose hooks and handlers apply
  Request::Route info;                 // what request.url_rule() etc. read, without a copy

  explicit RouteEntry(std::string r) : rule(std::move(r)) {}
};

struct SessionSlot;  // sessions.cpp

// One allocation per request: the context holds the request it made (the gateway's), or
// keeps alive the one it was given (App::handle).
struct RequestContext : std::enable_shared_from_this<RequestContext> {
  App* app = nullptr;
  Request* request = nullptr;
  const RouteEntry* route = nullptr;
  std::optional<Request> own;
  std::shared_ptr<Request> kept;
  std::shared_ptr<SessionSlot> session;  // made when the session or flashes are first used
};

// Binds a request context to the calling execution context (OS thread, or green thread under
// greenlet) for a synchronous scope. Nestable.
class ContextBinding {
 public:
  explicit ContextBinding(RequestContext* ctx);
  ~ContextBinding();
  ContextBinding(const ContextBinding&) = delete;
  ContextBinding& operator=(const ContextBinding&) = delete;

 private:
  const void* key_;
  RequestContext* ctx_;
};

RequestContext* current_request_context() noexcept;

// `path` made absolute against the working directory (unchanged when it already is).
std::string absolute_path(std::string path);

class Templates;  // templating.cpp
// An app's template cache and its folders in search order (app first, then blueprints).
struct TemplateEnv {
  Templates* cache = nullptr;
  std::vector<std::string> folders;
};

// Wraps the bridged coroutine so that `loop` (a context_loop) knows when it has finished;
// from then on the loop counts as alive only while work of its own remains.
aio::Task<void> track_main(EventLoop& loop, aio::Task<void> coro);
void bind_context(const void* key, RequestContext* ctx);
void unbind_context(const void* key, RequestContext* ctx) noexcept;
const void* context_key() noexcept;

}  // namespace grove::web::detail

namespace grove::web {
struct App::Impl {
  std::vector<std::unique_ptr<detail::RouteEntry>> routes;  // in matching order
  std::vector<std::shared_ptr<detail::ScaffoldState>> blueprints;
  std::vector<detail::ScaffoldState*> app_scope;  // the scopes of a request no route matched
  std::atomic<bool> ran_coroutine{false};
  std::atomic<bool> deployment_checked{false};
  // The interface config["SESSION_TYPE"] chose, made once on first use (sessions.cpp).
  std::once_flag session_once;
  std::shared_ptr<SessionInterface> configured_session;
  // render_template()'s loaded sources (templating.cpp), made on first use.
  std::once_flag templates_once;
  std::shared_ptr<detail::Templates> templates;
};
}  // namespace grove::web
