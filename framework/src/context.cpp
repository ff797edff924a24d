// The request context: which request the calling code is handling.
//
// Keyed by grove::current_context(), which greenlet makes per green thread: many requests
// interleave on one OS thread, each in its own green thread. Coroutines carry it through
// their bridge: the thread bridge binds it on its worker thread, the green bridge binds it
// around each callback of the request's own loop (context_loop), so it is right after
// every suspension.
#include "internal.hpp"

#include <grove/context.hpp>

#include <stdexcept>
#include <unordered_map>
#include <vector>

namespace grove::web {
namespace detail {

namespace {
struct Stack {
  RequestContext* top = nullptr;
  std::vector<RequestContext*> below;
};
// Per OS thread: green threads never migrate, so their contexts live in their thread's map.
thread_local std::unordered_map<const void*, Stack> t_bindings;
}  // namespace

const void* context_key() noexcept { return &grove::current_context(); }

void bind_context(const void* key, RequestContext* ctx) {
  Stack& s = t_bindings[key];
  if (s.top) s.below.push_back(s.top);
  s.top = ctx;
}

void unbind_context(const void* key, RequestContext* ctx) noexcept {
  auto it = t_bindings.find(key);
  if (it == t_bindings.end()) return;
  Stack& s = it->second;
  if (s.top == ctx) {
    if (s.below.empty()) {
      // Keep the entry: the same green thread (a kept-alive connection) binds again soon.
      // Bounded: past a few thousand idle entries, they are dropped.
      s.top = nullptr;
      if (t_bindings.size() > 4096) t_bindings.erase(it);
      return;
    }
    s.top = s.below.back();
    s.below.pop_back();
    return;
  }
  // Out of order (should not happen with scoped bindings): drop that entry.
  for (auto b = s.below.rbegin(); b != s.below.rend(); ++b)
    if (*b == ctx) {
      s.below.erase(std::next(b).base());
      return;
    }
}

ContextBinding::ContextBinding(RequestContext* ctx) : key_(context_key()), ctx_(ctx) {
  bind_context(key_, ctx_);
}
ContextBinding::~ContextBinding() { unbind_context(key_, ctx_); }

RequestContext* current_request_context() noexcept {
  if (t_bindings.empty()) return nullptr;
  auto it = t_bindings.find(context_key());
  return it == t_bindings.end() ? nullptr : it->second.top;
}

}  // namespace detail

Request& request() {
  detail::RequestContext* ctx = detail::current_request_context();
  if (!ctx)
    throw std::logic_error(
        "grove::web::request(): working outside of a request. This code is not handling a "
        "request in this execution context: take web::Request& as the view's first parameter, "
        "or, in a user-written async_to_sync that runs the coroutine elsewhere, carry the "
        "context with web::capture_request_context() and web::RequestContextScope / "
        "web::context_loop()");
  return *ctx->request;
}

bool has_request_context() noexcept { return detail::current_request_context() != nullptr; }

App& current_app() {
  detail::RequestContext* ctx = detail::current_request_context();
  if (!ctx) throw std::logic_error("grove::web::current_app(): working outside of a request");
  return *ctx->app;
}

RequestContextRef capture_request_context() {
  detail::RequestContext* ctx = detail::current_request_context();
  if (!ctx) return {};
  return RequestContextRef(ctx->shared_from_this());
}

RequestContextScope::RequestContextScope(const RequestContextRef& ctx)
    : key_(detail::context_key()), bound_(bool(ctx)) {
  if (bound_) detail::bind_context(key_, ctx.get());
  ctx_ = ctx.get();
}

RequestContextScope::~RequestContextScope() {
  if (bound_) detail::unbind_context(key_, ctx_);
}

}  // namespace grove::web
