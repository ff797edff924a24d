// Turns the two coroutine-bridge calls into errors that name the header they need, when
// <grove/green/aio.hpp> is not included: green::wait(task) would otherwise resolve to
// wait(fd, events) ("cannot convert aio::Task<int> to int"), and co_await on a green thread
// would find no awaiter. The real overloads, in <grove/green/aio.hpp>, are more specialised
// than these and win wherever that header is included.
#pragma once

#include <grove/green/greenlet.hpp>
#include <grove/green/hub.hpp>

#include <optional>
#include <type_traits>

namespace grove::aio {
template <class T>
class Task;
template <class T>
class TaskHandle;
}  // namespace grove::aio

namespace grove::green {

namespace detail {
template <class T>
struct is_aio_task : std::false_type {};
template <class T>
struct is_aio_task<aio::Task<T>> : std::true_type {};
template <class T>
struct is_aio_task<aio::TaskHandle<T>> : std::true_type {};
template <class T>
struct is_green_handle : std::false_type {};
template <class R>
struct is_green_handle<Handle<R>> : std::true_type {};
}  // namespace detail

template <class Coro>
requires detail::is_aio_task<std::remove_cvref_t<Coro>>::value auto wait(
    Coro&&, std::optional<Duration> = std::nullopt) {
  static_assert(!detail::is_aio_task<std::remove_cvref_t<Coro>>::value,
                "green::wait(task) on an aio::Task or aio::TaskHandle needs "
                "#include <grove/green/aio.hpp> (and grove::aio linked)");
}

template <class H>
requires detail::is_green_handle<std::remove_cvref_t<H>>::value auto operator co_await(const H&) {
  static_assert(!detail::is_green_handle<std::remove_cvref_t<H>>::value,
                "co_await on a green thread's Handle needs #include <grove/green/aio.hpp> (and "
                "grove::aio linked)");
}

}  // namespace grove::green
