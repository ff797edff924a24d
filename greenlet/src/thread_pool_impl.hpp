// The hub's side of the thread pool (thread_pool.cpp).
#pragma once

#include "hub.hpp"

#include <mutex>

namespace grove::green::detail {

// Lets a worker thread post a finished job back to its hub, unless the hub is gone.
struct Hub::Remote {
  std::mutex mutex;
  EventLoop* loop = nullptr;  // null once the hub has shut down
};

std::shared_ptr<Hub::Remote> make_remote(EventLoop* loop);
void detach_remote(Hub::Remote& remote) noexcept;

}  // namespace grove::green::detail
