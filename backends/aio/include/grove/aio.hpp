// grove::aio — asyncio for C++20 coroutines, on any grove engine.
//
//   #include <grove/aio.hpp>
//   namespace aio = grove::aio;
//
//   aio::Task<int> main_coro() {
//     auto [a, b] = co_await aio::gather(work(1), work(2));
//     co_return a + b;
//   }
//   int main() { return aio::run(main_coro()); }
//
// Names follow asyncio: Task (here split into the lazy Task<T> coroutine and the scheduled
// TaskHandle<T>), create_task, gather, sleep, wait_for, shield, run, Event, Lock,
// Semaphore, Queue, CancelledError, TimeoutError. See docs/aio.md.
#pragma once

#include <grove/aio/combinators.hpp>
#include <grove/aio/errors.hpp>
#include <grove/aio/http.hpp>
#include <grove/aio/io.hpp>
#include <grove/aio/run.hpp>
#include <grove/aio/sync.hpp>
#include <grove/aio/task.hpp>
