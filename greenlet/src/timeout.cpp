// Timeout: a loop timer that, when it fires, throws into the green thread that armed it.
#include "hub.hpp"

#include <grove/green/timeout.hpp>

namespace grove::green {

namespace {

std::uint64_t next_timeout_id() {
  static thread_local std::uint64_t ids = 0;
  // Thread id bits keep identities distinct across OS threads.
  return (std::uint64_t(reinterpret_cast<std::uintptr_t>(&ids)) << 20) ^ ++ids;
}

std::string describe_after(std::optional<Duration> after) {
  if (!after) return "grove::green::Timeout (never expires)";
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(*after).count();
  if (us % 1000 == 0) return "grove::green::Timeout: " + std::to_string(us / 1000) + " ms";
  return "grove::green::Timeout: " + std::to_string(us) + " us";
}

}  // namespace

Timeout::Timeout(std::optional<Duration> after) : Timeout(after, nullptr) {}

Timeout::Timeout(std::optional<Duration> after, std::exception_ptr exception)
    : id_(next_timeout_id()), after_(after), what_(describe_after(after)),
      exception_(std::move(exception)) {
  if (!after) return;
  detail::Hub& hub = detail::Hub::get();
  if (hub.in_hub())
    throw std::logic_error(
        "grove: a green::Timeout was armed inside the hub (a loop callback "
        "or a coroutine); it can only interrupt a green thread");
  owner_ = hub.running();
  timer_ = hub.loop().call_at(*detail::deadline_for(after), [this] { fire(); });
  armed_ = true;
}

Timeout::Timeout(Unarmed, Duration after)
    : id_(next_timeout_id()), after_(after), what_(describe_after(after)) {
  expired_ = true;
}

Timeout::Timeout(const Timeout& other)
    : id_(other.id_), after_(other.after_), what_(other.what_), expired_(other.expired_) {}

Timeout::~Timeout() { cancel(); }

Timeout Timeout::expired_after(Duration after) { return Timeout(Unarmed{}, after); }

void Timeout::cancel() {
  if (!armed_) return;
  armed_ = false;
  timer_.cancel();
  // Expired, but its exception has not been thrown yet (the wait it interrupted succeeded
  // anyway): it must not surface later, outside this scope.
  if (expired_ && owner_ && owner_->pending == thrown_) owner_->pending = nullptr;
  thrown_ = nullptr;
}

bool Timeout::pending() const { return armed_ && !expired_; }

void Timeout::fire() {
  expired_ = true;
  thrown_ = exception_ ? exception_ : std::make_exception_ptr(Timeout(*this));
  detail::throw_into(owner_, thrown_);
}

namespace detail {
void throw_timed_out(Duration after) { throw Timeout::expired_after(after); }
}  // namespace detail

}  // namespace grove::green
