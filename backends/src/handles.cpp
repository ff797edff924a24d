// The user-facing handles. A handle whose loop is gone is inert: queries say "inactive"
// and operations do nothing.
#include "core_loop.hpp"

namespace grove {

using detail::Ref;

Timer::Timer() noexcept = default;
Timer::Timer(Ref<detail::TimerNode> node) noexcept : node_(std::move(node)) {}
Timer::Timer(const Timer&) noexcept = default;
Timer::Timer(Timer&&) noexcept = default;
Timer& Timer::operator=(const Timer&) noexcept = default;
Timer& Timer::operator=(Timer&&) noexcept = default;
Timer::~Timer() = default;

IoWatcher::IoWatcher() noexcept = default;
IoWatcher::IoWatcher(Ref<detail::IoNode> node) noexcept : node_(std::move(node)) {}
IoWatcher::IoWatcher(IoWatcher&&) noexcept = default;
IoWatcher::~IoWatcher() { close(); }

SignalWatcher::SignalWatcher() noexcept = default;
SignalWatcher::SignalWatcher(Ref<detail::SignalNode> node) noexcept : node_(std::move(node)) {}
SignalWatcher::SignalWatcher(SignalWatcher&&) noexcept = default;
SignalWatcher::~SignalWatcher() { close(); }

void Timer::cancel() {
  if (node_ && node_->loop) node_->loop->cancel_timer(node_.get());
}
bool Timer::active() const { return node_ && node_->in_heap && !node_->cancelled; }
bool Timer::cancelled() const { return node_ && node_->cancelled; }
TimePoint Timer::when() const { return TimePoint(Duration(node_ ? node_->at : 0)); }
void Timer::ref() {
  if (node_ && node_->loop) node_->loop->set_timer_ref(node_.get(), true);
}
void Timer::unref() {
  if (node_ && node_->loop) node_->loop->set_timer_ref(node_.get(), false);
}

IoWatcher& IoWatcher::operator=(IoWatcher&& o) noexcept {
  if (this != &o) {
    close();
    node_ = std::move(o.node_);
  }
  return *this;
}
void IoWatcher::start() {
  if (!node_ || !node_->loop)
    throw std::logic_error("grove: IoWatcher::start() on an empty or closed watcher; create "
                           "one with EventLoop::watch()");
  node_->loop->start_io(node_.get());
}
void IoWatcher::stop() {
  if (node_ && node_->loop) node_->loop->stop_io(node_.get());
}
bool IoWatcher::active() const { return node_ && node_->loop && node_->active; }
void IoWatcher::set_events(Events events) {
  if (node_ && node_->loop) node_->loop->set_io_events(node_.get(), events);
}
Events IoWatcher::events() const { return node_ ? node_->events : Events::none; }
int IoWatcher::fd() const { return node_ ? node_->fd : -1; }
void IoWatcher::ref() {
  if (node_ && node_->loop) node_->loop->set_io_ref(node_.get(), true);
}
void IoWatcher::unref() {
  if (node_ && node_->loop) node_->loop->set_io_ref(node_.get(), false);
}
void IoWatcher::close() {
  if (!node_) return;
  if (node_->loop) node_->loop->close_io(node_.get());
  node_ = Ref<detail::IoNode>();
}

SignalWatcher& SignalWatcher::operator=(SignalWatcher&& o) noexcept {
  if (this != &o) {
    close();
    node_ = std::move(o.node_);
  }
  return *this;
}
void SignalWatcher::start() {
  if (!node_ || !node_->loop)
    throw std::logic_error("grove: SignalWatcher::start() on an empty or closed watcher; "
                           "create one with EventLoop::watch_signal()");
  node_->loop->start_signal(node_.get());
}
void SignalWatcher::stop() {
  if (node_ && node_->loop) node_->loop->stop_signal(node_.get());
}
bool SignalWatcher::active() const { return node_ && node_->loop && node_->active; }
int SignalWatcher::signum() const { return node_ ? node_->signum : 0; }
void SignalWatcher::ref() {
  if (node_ && node_->loop) node_->loop->set_signal_ref(node_.get(), true);
}
void SignalWatcher::unref() {
  if (node_ && node_->loop) node_->loop->set_signal_ref(node_.get(), false);
}
void SignalWatcher::close() {
  if (!node_) return;
  if (node_->loop) node_->loop->close_signal(node_.get());
  node_ = Ref<detail::SignalNode>();
}

}  // namespace grove
