// grove::green — stackful green threads (gevent's core, in C++).
//
// Everything in one include: green threads (spawn, join, kill, sleep, current), the hub's
// fd wait, Timeout, Event/AsyncResult, Semaphore/Lock/RLock, Queue/Channel, Group/Pool,
// run_in_thread, the `green` engine, the blocking detector, and introspection (run-queue
// delay, the green-thread dump). See docs/green.md.
// The bridge to coroutines (green::wait(task), co_await on a green thread) is
// <grove/green/aio.hpp>, because it needs grove::aio linked too; without it, those calls
// fail to compile with a message naming that header.
#pragma once

#include <grove/green/blocking_detector.hpp>
#include <grove/green/event.hpp>
#include <grove/green/green_loop.hpp>
#include <grove/green/greenlet.hpp>
#include <grove/green/hub.hpp>
#include <grove/green/introspect.hpp>
#include <grove/green/pool.hpp>
#include <grove/green/queue.hpp>
#include <grove/green/semaphore.hpp>
#include <grove/green/thread_pool.hpp>
#include <grove/green/timeout.hpp>

#include <grove/green/detail/aio_bridge_guard.hpp>
