// gather / wait_for / shield waits.
#include <grove/aio/combinators.hpp>

#include <cstdio>

namespace grove::aio::detail {

std::string format_duration(Duration d) {
  using namespace std::chrono;
  char buf[64];
  const auto ns = d.count();
  if (ns % 1'000'000'000 == 0)
    std::snprintf(buf, sizeof buf, "%lld s", static_cast<long long>(ns / 1'000'000'000));
  else if (ns >= 1'000'000) std::snprintf(buf, sizeof buf, "%g ms", double(ns) / 1e6);
  else std::snprintf(buf, sizeof buf, "%g us", double(ns) / 1e3);
  return buf;
}

// --- GatherWait --------------------------------------------------------------------------
GatherWait::GatherWait(std::vector<TaskCore*> children, bool return_exceptions)
    : children_(std::move(children)), return_exceptions_(return_exceptions) {}

void GatherWait::subscribe() {
  listeners_ = std::make_unique<Child[]>(children_.size());
  remaining_ = children_.size();
  // Count the children already done through the same path as the others, after every
  // listener is in place: a failure among them cancels the rest.
  std::vector<TaskCore*> already_done;
  for (std::size_t i = 0; i < children_.size(); ++i) {
    listeners_[i].owner = this;
    if (children_[i]->done()) already_done.push_back(children_[i]);
    else children_[i]->listen(listeners_[i]);
  }
  for (TaskCore* t : already_done) child_done(*t);
}

void GatherWait::child_done(TaskCore& task) {
  --remaining_;
  if (!return_exceptions_ && !first_error_) {
    if (std::exception_ptr e = task.exception()) {
      first_error_ = std::move(e);
      cancel_children();  // may re-enter child_done for children that never started
    }
  }
  if (remaining_ == 0) wake();
}

void GatherWait::cancel_children() {
  for (TaskCore* t : children_) t->cancel();
}

void GatherWait::on_cancel() {
  outer_cancelled_ = true;
  cancel_children();  // keep waiting: the children unwind first
}

void GatherWait::withdraw() noexcept {
  if (!listeners_) return;
  for (std::size_t i = 0; i < children_.size(); ++i) listeners_[i].unlink();
}

void GatherWait::await_resume() {
  for (TaskCore* t : children_) t->mark_retrieved();  // their errors are reported here
  if (outer_cancelled_) {
    task_->take_cancel_request();
    throw CancelledError();
  }
  if (first_error_) std::rethrow_exception(first_error_);
  finish();
}

// --- WaitForWait -------------------------------------------------------------------------
void WaitForWait::arm() {
  if (timeout_ == forever) return;
  timer_ = loop().call_later(timeout_, [this] {
    timed_out_ = true;
    inner_->cancel();  // its end wakes us
  });
}

void WaitForWait::on_task_done(TaskCore&) {
  if (timer_) timer_.cancel();
  wake();
}

void WaitForWait::on_cancel() {
  outer_cancelled_ = true;
  if (timer_) timer_.cancel();
  inner_->cancel();
}

void WaitForWait::withdraw() noexcept {
  Hook<DoneTag>::unlink();
  if (timer_) timer_.cancel();
}

void WaitForWait::await_resume() {
  if (outer_cancelled_) {
    task_->take_cancel_request();
    inner_->mark_retrieved();
    throw CancelledError();
  }
  if (timed_out_ && inner_->cancelled()) {
    inner_->mark_retrieved();
    throw TimeoutError("grove::aio::wait_for: timed out after " + format_duration(timeout_) +
                       "; task '" + inner_->name() + "' was cancelled");
  }
  finish();
}

}  // namespace grove::aio::detail
