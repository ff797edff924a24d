// What a Scaffold (App or Blueprint) holds: its hooks, error handlers, pending routes and
// nested blueprints. Not a contract: shared by the app and its blueprints, subject to change.
#pragma once

#include <grove/web/detail/handler.hpp>
#include <grove/web/json.hpp>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace grove::web {

// A view registered under a rule: its endpoint name, methods and the erased callable.
struct ViewFunc {
  std::string endpoint;
  std::vector<std::string> methods;  // empty: {"GET"}
  detail::ViewFn fn;
  // Validates the handler's path parameters against the rule (throws std::invalid_argument).
  std::function<void(const Rule&)> check;
  bool coroutine = false;     // some callable of it is known to be a coroutine
  bool streams_body = false;  // web::streamed_body: its body is not read before a coroutine
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
  bool coroutines = false;      // a coroutine callable was registered here
  std::string template_folder;  // absolute; empty: none
  std::vector<std::function<Json()>> context_processors;
};

void insert_typed_handler(std::vector<TypedErrorHandler>& list, TypedErrorHandler handler);
void check_error_code(int code);
}  // namespace detail

}  // namespace grove::web
