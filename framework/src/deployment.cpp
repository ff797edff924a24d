// Unsupported (or merely slow) combinations, named once, through compat's warning registry.
#include "internal.hpp"

#include <grove/compat.hpp>
#include <grove/web/app.hpp>

namespace grove::web {

namespace {
const char* kThreadBridgeId = "web.thread-bridge-under-green-server";
}

std::vector<std::string> App::check_deployment(bool compat_patched, bool green_server) {
  impl_->deployment_checked.store(true, std::memory_order_relaxed);
  std::vector<std::string> ids;
  std::string bridge = bridge_name(async_to_sync);
  if (compat_patched && green_server && has_coroutines() && bridge == "thread") {
    ids.push_back(kThreadBridgeId);
    grove::compat::warn(
        kThreadBridgeId,
        "app '" + name() +
            "' has coroutine views or hooks and runs them with the thread bridge "
            "(web::thread_bridge, the default async_to_sync) under the green-thread server with "
            "compat on. Each async request then blocks the OS thread that runs the hub until a "
            "worker thread has run its coroutine: the whole hub, every other connection and "
            "green thread included, waits for it. Requests are still answered, one async "
            "request at a time. Use the green bridge instead: --bridge green (grove-demo), or "
            "app.async_to_sync = grove::web::green_bridge");
  }
  return ids;
}

bool App::impl_deployment_checked() const noexcept {
  return impl_->deployment_checked.load(std::memory_order_relaxed);
}

}  // namespace grove::web
