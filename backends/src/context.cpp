#include <grove/context.hpp>

#include <atomic>

namespace grove {

namespace {
thread_local ExecutionContext t_context;
std::atomic<ContextProvider> g_provider{nullptr};
}  // namespace

ExecutionContext& current_context() noexcept {
  if (ContextProvider p = g_provider.load(std::memory_order_acquire))
    if (ExecutionContext* c = p()) return *c;
  return t_context;
}

void set_context_provider(ContextProvider provider) noexcept {
  g_provider.store(provider, std::memory_order_release);
}

}  // namespace grove
