// The `green` engine: an EventLoop facade over the calling thread's hub, so that code written
// against EventLoop (grove::aio coroutines included) runs inside the hub beside green threads.
//
//   grove::green::register_green_engine();   // once; the hub also does it when it starts
//   auto loop = grove::make_loop("green");    // forwards to this thread's hub loop
//
// Callbacks, timers, watchers and signals go to the hub's loop (of the engine GROVE_LOOP
// names) and run inside the hub. run() and run_once() called from a green thread (or the main
// context) do not block the OS thread: the caller waits like any green thread while the hub
// runs everything else. run() returns after stop(), or when the hub has nothing left that
// could wake it (every green thread waits and the hub's loop has no referenced work).
// Calling run() from inside the hub (a loop callback) is a std::logic_error.
//
// "A loop is running here" (grove::current_context().running_loop) is per green thread: run()
// sets it for its own green thread only. Inside the hub, while a callback scheduled through
// a green loop runs, it names that loop (so a coroutine resumed there finds its own loop);
// in other hub callbacks it names the hub's own green loop (green_loop()).
//
// Coroutines: with grove::aio linked, aio::run(coro, "green") runs a coroutine inside the
// hub from any green thread (or the main context), blocking only that caller; see
// <grove/green/aio.hpp> for green::wait(task) and co_await on a green thread.
#pragma once

#include <grove/loop.hpp>

#include <memory>

namespace grove::green {

// Makes grove::make_loop("green") available. grove's libraries are static, so nothing
// registers the engine before the first hub starts unless the program calls this.
// Idempotent and thread-safe.
void register_green_engine();

// A new green loop over the calling thread's hub (what make_loop("green") returns).
std::unique_ptr<EventLoop> make_green_loop();
// The calling thread's hub's own green loop (lives as long as the hub).
EventLoop& green_loop();
// Whether `loop` is a green loop of the calling thread's hub.
bool is_green_loop(const EventLoop& loop) noexcept;

}  // namespace grove::green
