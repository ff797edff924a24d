// How user callables (views, hooks, error handlers) become the framework's uniform form.
// Not a contract: the machinery under grove/web/scaffold.hpp, subject to change.
//
//
// Every callable is stored as `aio::Task<void>(Out*, Args...)`: calling it runs a
// synchronous callable to the end and returns an empty Task (the result is already in
// *out), or creates the coroutine of a coroutine callable (lazy: nothing ran yet) wrapped so
// that it writes its result into *out. The app then hands a non-empty Task to its
// async_to_sync. So "is this a coroutine?" is decided per call, by what the callable returned.
#pragma once

#include <grove/aio/task.hpp>
#include <grove/web/exceptions.hpp>
#include <grove/web/request.hpp>
#include <grove/web/response.hpp>
#include <grove/web/routing.hpp>

#include <cstddef>
#include <exception>
#include <functional>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <utility>

namespace grove::web::detail {

// --- what a callable returns ------------------------------------------------------------
template <class T>
struct task_traits {
  static constexpr bool is_task = false;
  using value_type = T;
};
template <class T>
struct task_traits<aio::Task<T>> {
  static constexpr bool is_task = true;
  using value_type = T;
};
template <class T>
inline constexpr bool is_task_v = task_traits<std::decay_t<T>>::is_task;

template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};

// --- signatures of non-generic callables ---------------------------------------------------
template <class R, class... A>
struct fn_sig {
  static constexpr bool known = true;
  using result = R;
  using args = std::tuple<A...>;
  static constexpr std::size_t arity = sizeof...(A);
};
template <class F, class = void>
struct fn_traits {
  static constexpr bool known = false;
};
template <class R, class... A>
struct fn_traits<R (*)(A...), void> : fn_sig<R, A...> {};
template <class R, class... A>
struct fn_traits<R (*)(A...) noexcept, void> : fn_sig<R, A...> {};
template <class C, class R, class... A>
struct fn_traits<R (C::*)(A...), void> : fn_sig<R, A...> {};
template <class C, class R, class... A>
struct fn_traits<R (C::*)(A...) const, void> : fn_sig<R, A...> {};
template <class C, class R, class... A>
struct fn_traits<R (C::*)(A...) noexcept, void> : fn_sig<R, A...> {};
template <class C, class R, class... A>
struct fn_traits<R (C::*)(A...) const noexcept, void> : fn_sig<R, A...> {};
template <class C, class R, class... A>
struct fn_traits<R (C::*)(A...)&, void> : fn_sig<R, A...> {};
template <class C, class R, class... A>
struct fn_traits<R (C::*)(A...) const&, void> : fn_sig<R, A...> {};
template <class F>
struct fn_traits<F, std::void_t<decltype(&F::operator())>> : fn_traits<decltype(&F::operator())> {};

template <class T>
inline constexpr bool is_request_ref_v =
    std::is_lvalue_reference_v<T>&& std::is_same_v<std::remove_cvref_t<T>, Request>;

template <class Tuple>
constexpr bool first_is_request() {
  if constexpr (std::tuple_size_v<Tuple> == 0) return false;
  else return is_request_ref_v<std::tuple_element_t<0, Tuple>>;
}

// --- path parameters -----------------------------------------------------------------------
template <class T>
inline constexpr bool is_string_param_v = std::is_same_v<std::remove_cvref_t<T>, std::string> ||
                                          std::is_same_v<std::remove_cvref_t<T>, std::string_view>;

template <class T>
constexpr bool param_type_supported() {
  using D = std::remove_cvref_t<T>;
  return is_string_param_v<T> || (std::is_integral_v<D> && !std::is_same_v<D, bool>) ||
         std::is_floating_point_v<D> || std::is_same_v<D, ViewArg>;
}

template <class T>
bool param_accepts(Rule::Converter c) {
  using D = std::remove_cvref_t<T>;
  if constexpr (is_string_param_v<T> || std::is_same_v<D, ViewArg>) return true;
  else if constexpr (std::is_integral_v<D>) return c == Rule::Converter::integer;
  else return c == Rule::Converter::integer || c == Rule::Converter::number;
}

template <class T>
const char* param_type_name() {
  using D = std::remove_cvref_t<T>;
  if constexpr (is_string_param_v<T>) return "a string";
  else if constexpr (std::is_same_v<D, ViewArg>) return "web::ViewArg";
  else if constexpr (std::is_integral_v<D>) return "an integer";
  else return "a floating-point number";
}

// The i-th parameter converted to T. Integers that do not fit T give 404, as a rule that
// cannot match would. String parameters taken by reference bind to the request's own copy,
// which outlives every suspension of a coroutine view; other parameters must be taken by value.
template <class T>
decltype(auto) convert_param(const ViewArg& a) {
  using D = std::remove_cvref_t<T>;
  static_assert(!std::is_reference_v<T> || std::is_const_v<std::remove_reference_t<T>>,
                "grove::web: take path parameters by value or by const reference");
  static_assert(
      !std::is_reference_v<T> || std::is_same_v<D, std::string> || std::is_same_v<D, ViewArg>,
      "grove::web: only std::string and web::ViewArg path parameters may be taken by "
      "reference (a coroutine view would keep a reference to a temporary); take numbers "
      "and std::string_view by value");
  if constexpr (std::is_same_v<D, std::string>) {
    if constexpr (std::is_reference_v<T>) return static_cast<const std::string&>(a.text);
    else return std::string(a.text);
  } else if constexpr (std::is_same_v<D, std::string_view>) {
    return std::string_view(a.text);
  } else if constexpr (std::is_same_v<D, ViewArg>) {
    if constexpr (std::is_reference_v<T>) return static_cast<const ViewArg&>(a);
    else return ViewArg(a);
  } else if constexpr (std::is_integral_v<D>) {
    if (a.integer < static_cast<std::int64_t>(std::numeric_limits<D>::min()) ||
        (a.integer > 0 && static_cast<std::uint64_t>(a.integer) >
                              static_cast<std::uint64_t>(std::numeric_limits<D>::max())))
      throw NotFound();
    return static_cast<D>(a.integer);
  } else {
    return static_cast<D>(a.kind == ViewArg::Kind::integer ? static_cast<double>(a.integer)
                                                           : a.number);
  }
}

// Checks a handler's parameter list against a rule; throws std::invalid_argument naming both.
template <class Args, std::size_t Offset, std::size_t... I>
void check_params(const Rule& rule, std::string_view what, std::index_sequence<I...>) {
  constexpr std::size_t n = sizeof...(I);
  if (rule.arity() != n)
    throw std::invalid_argument(std::string(what) + " for rule '" + rule.text() + "' takes " +
                                std::to_string(n) + " path parameter" + (n == 1 ? "" : "s") +
                                " but the rule has " + std::to_string(rule.arity()));
  (
      [&] {
        using T = std::tuple_element_t<I + Offset, Args>;
        static_assert(param_type_supported<T>(),
                      "grove::web: a path parameter must be a string, std::string_view, an "
                      "integer, a floating-point number or web::ViewArg (or the first parameter "
                      "may be web::Request&)");
        if (!param_accepts<T>(rule.param_converter(I)))
          throw std::invalid_argument(
              std::string(what) + " for rule '" + rule.text() + "': parameter '" +
              rule.param_name(I) + "' is <" + converter_name(rule.param_converter(I)) +
              ":...> but the handler's argument " + std::to_string(I + Offset + 1) + " is " +
              param_type_name<T>() + "; use <int:" + rule.param_name(I) +
              "> or take a std::string");
      }(),
      ...);
}

// --- results -------------------------------------------------------------------------------
// A view's result as a Response.
template <class X>
Response to_response(X&& x) {
  static_assert(Responsive<std::decay_t<X>>,
                "grove::web: a view (or error handler) must return a response: web::Response, a "
                "string, web::Json, or a pair/tuple (body, status[, headers]) — or a coroutine "
                "(aio::Task<...>) of one of those");
  return make_response(std::forward<X>(x));
}

// A before_request hook's result: nullopt goes on, a value short-circuits.
template <class X>
std::optional<Response> to_before_result(X&& x) {
  using D = std::decay_t<X>;
  if constexpr (is_optional<D>::value) {
    if (!x) return std::nullopt;
    return to_response(std::move(*x));
  } else {
    return to_response(std::forward<X>(x));
  }
}

struct ViewOut {
  template <class X>
  static void store(Response* out, X&& x) {
    *out = to_response(std::forward<X>(x));
  }
};
struct BeforeOut {
  template <class X>
  static void store(std::optional<Response>* out, X&& x) {
    *out = to_before_result(std::forward<X>(x));
  }
};
struct AfterOut {  // in/out: a returned value replaces the response
  template <class X>
  static void store(Response* out, X&& x) {
    *out = to_response(std::forward<X>(x));
  }
};

// The coroutine that runs a user coroutine and stores its result. Parameters are copied into
// the frame, so `keep` (a view object, an exception) lives as long as the coroutine.
template <class Policy, class Out, class X, class Keep>
aio::Task<void> store_async(Out* out, aio::Task<X> task, Keep keep) {
  if constexpr (std::is_void_v<X>) {
    co_await std::move(task);
  } else {
    Policy::store(out, co_await std::move(task));
  }
  (void)keep;
}

// Finishes a call: a Task result becomes the wrapped coroutine, anything else is stored now.
template <class Policy, class Out, class R, class Keep = std::nullptr_t>
aio::Task<void> deliver(Out* out, R&& result, Keep keep = nullptr) {
  using D = std::decay_t<R>;
  if constexpr (is_task_v<D>) {
    return store_async<Policy>(out, std::move(result), std::move(keep));
  } else {
    Policy::store(out, std::forward<R>(result));
    return {};
  }
}

// A callable returning void: nothing to store.
template <class F, class... A>
aio::Task<void> call_void_or_task(F& f, A&&... a) {
  using R = std::invoke_result_t<F&, A...>;
  if constexpr (std::is_void_v<R>) {
    std::invoke(f, std::forward<A>(a)...);
    return {};
  } else {
    static_assert(is_task_v<R> && std::is_void_v<typename task_traits<std::decay_t<R>>::value_type>,
                  "grove::web: this hook must return void or aio::Task<void>");
    return std::invoke(f, std::forward<A>(a)...);
  }
}

// --- stored forms --------------------------------------------------------------------------
struct Nothing {};
using ViewFn = std::function<aio::Task<void>(Response* out, Request& req)>;
using BeforeFn = std::function<aio::Task<void>(std::optional<Response>* out, Request& req)>;
using AfterFn = std::function<aio::Task<void>(Response* inout, Request& req)>;
using TeardownFn = std::function<aio::Task<void>(Nothing* out, std::exception_ptr error)>;
using ErrorFn = std::function<aio::Task<void>(Response* out, std::exception_ptr error)>;

template <class F>
constexpr bool returns_task() {
  if constexpr (fn_traits<F>::known) return is_task_v<typename fn_traits<F>::result>;
  else return false;  // a generic lambda: decided per call
}

// Calls f with the request and the converted path parameters.
template <class F, class Args, bool TakesRequest, std::size_t... I>
decltype(auto) invoke_view(F& f, Request& req, std::index_sequence<I...>) {
  const ViewArgs& va = req.view_args();
  constexpr std::size_t off = TakesRequest ? 1 : 0;
  if constexpr (TakesRequest)
    return std::invoke(f, req, convert_param<std::tuple_element_t<I + off, Args>>(va.at(I))...);
  else return std::invoke(f, convert_param<std::tuple_element_t<I + off, Args>>(va.at(I))...);
}

// A view function: f(), f(Request&), f(params...), f(Request&, params...), returning a
// response or a coroutine of one. `keep_factory` (optional) is called per request and its
// result kept alive for the coroutine (class-based views).
template <class F>
struct ViewAdapter {
  F f;
  aio::Task<void> operator()(Response* out, Request& req) {
    if constexpr (fn_traits<F>::known) {
      using Args = typename fn_traits<F>::args;
      constexpr bool takes_req = first_is_request<Args>();
      constexpr std::size_t n = std::tuple_size_v<Args> - (takes_req ? 1 : 0);
      return deliver<ViewOut>(
          out, invoke_view<F, Args, takes_req>(f, req, std::make_index_sequence<n>{}));
    } else if constexpr (std::is_invocable_v<F&, Request&>) {
      return deliver<ViewOut>(out, std::invoke(f, req));
    } else {
      static_assert(std::is_invocable_v<F&>,
                    "grove::web: a view must be callable as f(), f(Request&), or with its path "
                    "parameters (optionally after a Request&)");
      return deliver<ViewOut>(out, std::invoke(f));
    }
  }
};

template <class F>
void check_view(const Rule& rule, std::string_view what) {
  if constexpr (fn_traits<F>::known) {
    using Args = typename fn_traits<F>::args;
    constexpr bool takes_req = first_is_request<Args>();
    constexpr std::size_t n = std::tuple_size_v<Args> - (takes_req ? 1 : 0);
    check_params<Args, takes_req ? 1 : 0>(rule, what, std::make_index_sequence<n>{});
  } else if (rule.arity() != 0) {
    throw std::invalid_argument(std::string(what) + " for rule '" + rule.text() +
                                "' is a generic callable, so its path parameters cannot be "
                                "matched; give it explicit parameter types or read "
                                "request.view_args()");
  }
}

template <class F>
BeforeFn make_before(F f) {
  return [f = std::move(f)](std::optional<Response>* out, Request& req) mutable -> aio::Task<void> {
    auto call = [&]() -> decltype(auto) {
      if constexpr (std::is_invocable_v<F&, Request&>) return std::invoke(f, req);
      else return std::invoke(f);
    };
    using R = decltype(call());
    if constexpr (std::is_void_v<R>) {
      call();
      *out = std::nullopt;
      return {};
    } else {
      return deliver<BeforeOut>(out, call());
    }
  };
}

template <class F>
AfterFn make_after(F f) {
  return [f = std::move(f)](Response* inout, Request& req) mutable -> aio::Task<void> {
    auto call = [&]() -> decltype(auto) {
      if constexpr (std::is_invocable_v<F&, Response&, Request&>)
        return std::invoke(f, *inout, req);
      else if constexpr (std::is_invocable_v<F&, Response&>) return std::invoke(f, *inout);
      else if constexpr (std::is_invocable_v<F&, Response, Request&>)
        return std::invoke(f, std::move(*inout), req);
      else {
        static_assert(std::is_invocable_v<F&, Response>,
                      "grove::web: an after_request hook takes the response (Response, or "
                      "Response& to change it in place), optionally followed by Request&");
        return std::invoke(f, std::move(*inout));
      }
    };
    using R = decltype(call());
    if constexpr (std::is_void_v<R>) {
      call();
      return {};
    } else {
      return deliver<AfterOut>(inout, call());
    }
  };
}

template <class F>
TeardownFn make_teardown(F f) {
  return [f = std::move(f)](Nothing*, std::exception_ptr error) mutable -> aio::Task<void> {
    if constexpr (std::is_invocable_v<F&, std::exception_ptr>)
      return call_void_or_task(f, std::move(error));
    else return call_void_or_task(f);
  };
}

// The exception object inside `e`, which stays alive as long as `e` does.
template <class E>
E* exception_object(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (E& x) {
    return &x;
  } catch (...) {
    return nullptr;
  }
}

template <class E, class F>
ErrorFn make_error_handler(F f) {
  return [f = std::move(f)](Response* out, std::exception_ptr error) mutable -> aio::Task<void> {
    if constexpr (std::is_invocable_v<F&, E&>) {
      E* obj = exception_object<E>(error);
      if (!obj)
        throw std::logic_error("grove::web: error handler called for an exception of another type");
      return deliver<ViewOut>(out, std::invoke(f, *obj), error);
    } else if constexpr (std::is_invocable_v<F&, std::exception_ptr>) {
      return deliver<ViewOut>(out, std::invoke(f, error), error);
    } else {
      static_assert(std::is_invocable_v<F&>,
                    "grove::web: an error handler takes the exception (const E&), an "
                    "std::exception_ptr, or nothing");
      return deliver<ViewOut>(out, std::invoke(f), error);
    }
  };
}

// Whether a callable F, called as a hook, returns a coroutine (for app.has_coroutines()).
template <class F, class... A>
constexpr bool hook_is_coroutine() {
  if constexpr (std::is_invocable_v<F&, A...>) return is_task_v<std::invoke_result_t<F&, A...>>;
  else return false;
}

// --- exception types for errorhandler<E>() -----------------------------------------------
// Registered handlers are kept most-derived first, so the first match is the most specific:
// `derives` is computed by throwing a null E* and catching it as B* (a pointer catch applies
// derived-to-base conversions, so it answers "is E derived from B" for types known at
// different registration times).
struct TypedErrorHandler {
  std::string type_name;
  bool (*matches)(const std::exception_ptr&);
  void (*throw_null)();
  bool (*catches_null_of)(void (*thrower)());
  ErrorFn fn;
};

template <class E>
TypedErrorHandler make_typed_error_handler(ErrorFn fn) {
  TypedErrorHandler h;
  h.type_name = typeid(E).name();
  h.matches = [](const std::exception_ptr& e) -> bool { return exception_object<E>(e) != nullptr; };
  h.throw_null = [] { throw static_cast<E*>(nullptr); };
  h.catches_null_of = [](void (*thrower)()) -> bool {
    try {
      thrower();
    } catch (E*) {
      return true;
    } catch (...) {
      return false;
    }
    return false;
  };
  h.fn = std::move(fn);
  return h;
}

}  // namespace grove::web::detail
