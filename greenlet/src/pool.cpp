// Group and Pool. Members are tracked through death links, so a Group learns of a member's
// death synchronously, before the dying green thread leaves the CPU.
#include "hub.hpp"

#include <grove/green/pool.hpp>

namespace grove::green {

Group::Group() { empty_.set(); }

Group::~Group() {
  for (auto& [core, entry] : members_) entry.first.unlink(entry.second);
}

void Group::add(const Greenlet& g) {
  if (!g || g.dead() || contains(g)) return;
  detail::GreenletBase* core = g.core();
  const std::uint64_t link = g.link([this, core] { on_death(core); });
  members_.emplace(core, std::make_pair(g, link));
  empty_.clear();
}

void Group::on_death(detail::GreenletBase* core) {
  auto it = members_.find(core);
  if (it == members_.end()) return;
  if (core->error && !first_error_) first_error_ = core->error;
  members_.erase(it);
  if (members_.empty()) empty_.set();
  member_died();
}

void Group::discard(const Greenlet& g) {
  auto it = members_.find(g.core());
  if (it == members_.end()) return;
  it->second.first.unlink(it->second.second);
  members_.erase(it);
  if (members_.empty()) empty_.set();
  member_died();
}

bool Group::contains(const Greenlet& g) const { return members_.count(g.core()) != 0; }

std::vector<Greenlet> Group::greenlets() const {
  std::vector<Greenlet> out;
  out.reserve(members_.size());
  for (const auto& [core, entry] : members_) out.push_back(entry.first);
  return out;
}

bool Group::join(std::optional<Duration> timeout, bool raise_error) {
  const auto deadline = detail::deadline_for(timeout);
  while (!members_.empty()) {
    std::optional<Duration> left;
    if (deadline) left = *deadline - std::chrono::time_point_cast<Duration>(Clock::now());
    if (!empty_.wait(left)) return false;
  }
  if (raise_error && first_error_) std::rethrow_exception(std::exchange(first_error_, nullptr));
  return true;
}

void Group::kill(std::exception_ptr error, bool block, std::optional<Duration> timeout) {
  killall(greenlets(), std::move(error), block, timeout);
}

Pool::Pool(std::size_t size) : capacity_(size) {
  if (size == 0) throw std::invalid_argument("grove: a green::Pool needs a size of at least 1");
}

Pool::~Pool() { detail::wake_all_closed(slot_waiters_); }

bool Pool::wait_available(std::optional<Duration> timeout) {
  const auto deadline = detail::deadline_for(timeout);
  while (full()) {
    std::optional<Duration> left;
    if (deadline) left = *deadline - std::chrono::time_point_cast<Duration>(Clock::now());
    detail::Waiter w;
    if (!detail::wait_in(slot_waiters_, w, left)) return false;
  }
  return true;
}

void Pool::before_spawn() { wait_available(); }

void Pool::add(const Greenlet& g) {
  if (g && !g.dead() && !contains(g)) wait_available();
  Group::add(g);
}

void Pool::member_died() { slot_waiters_.notify_one(); }

}  // namespace grove::green
