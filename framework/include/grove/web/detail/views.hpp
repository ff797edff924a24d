// How a class-based view's member becomes a stored view: an instance per request, kept
// alive while a coroutine member runs. Not a contract: used by grove/web/views.hpp.
#pragma once

#include <grove/web/detail/handler.hpp>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

namespace grove::web {

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
    auto bound = [&](auto&&... a) -> decltype(auto) {
      return std::invoke(member, *self, std::forward<decltype(a)>(a)...);
    };
    return deliver<ViewOut>(
        out,
        invoke_view<decltype(bound), Args, takes_req>(bound, req, std::make_index_sequence<n>{}),
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

}  // namespace grove::web
