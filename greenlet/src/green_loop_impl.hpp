// The `green` engine's EventLoop facade (green_loop.cpp).
#pragma once

#include "hub.hpp"
#include "thread_pool_impl.hpp"

#include <grove/detail/forwarding_loop.hpp>

#include <vector>

namespace grove::green::detail {

class GreenLoop final : public grove::detail::ForwardingLoop<GreenLoop> {
 public:
  explicit GreenLoop(Hub& hub, bool own = false);
  ~GreenLoop() override;

  // Forwarded to the hub's loop (ForwardingLoop), but for these:
  void call_soon_threadsafe(Callback cb) override;
  void forget_fd(int fd) override;
  void run() override;
  bool run_once(bool block) override;
  void stop() override;
  bool is_running() const override { return running_ > 0; }
  bool alive() const override;
  const Capabilities& capabilities() const override { return caps_; }

  // --- the hub's side ---
  // After each of the hub's loop turns: refresh now(), release run_once() callers.
  void after_turn() noexcept;
  // The hub has nothing left to do: run() and run_once() callers return. Returns whether
  // anyone was waiting.
  bool finish_waiters() noexcept;
  // The hub is going away; the facade becomes inert.
  void detach_hub() noexcept;

 private:
  friend class grove::detail::ForwardingLoop<GreenLoop>;
  EventLoop& inner() const { return hub().loop(); }
  template <grove::detail::Forwarded K, class F>
  auto wrap(F&& f);
  void callback_failed(std::exception_ptr error, const char* context) noexcept;
  void throw_if_rethrown();
  Timer keep(Timer t);  // cancelled with this loop
  Hub& hub() const;
  Hub& hub_for_running() const;

  Hub* hub_;
  std::shared_ptr<Hub::Remote> remote_;
  Capabilities caps_;
  WaitList runners_;
  WaitList turn_waiters_;
  std::exception_ptr rethrown_;     // an exception the handler rethrew, for run() to throw
  std::vector<Callback> deferred_;  // held back behind a rethrown exception
  std::vector<Timer> timers_;       // cancelled with the loop
  std::size_t prune_at_ = 64;
  bool stopping_ = false;
  int running_ = 0;
  bool own_;
};

}  // namespace grove::green::detail
