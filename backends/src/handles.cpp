// The user-facing handles. A handle whose loop is gone is inert: queries say "inactive"
// and operations do nothing.
#include "core_loop.hpp"

#include <string>

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

// IoWatcher and SignalWatcher are the same handle over different nodes: their shared
// operations are written once here, over CoreLoop's overloads for either node.
namespace {

template <class Node>
void start_watcher(const Ref<Node>& node, const char* handle, const char* maker) {
  if (!node || !node->loop)
    throw std::logic_error(std::string("grove: ") + handle +
                           "::start() on an empty or closed watcher; create one with "
                           "EventLoop::" +
                           maker + "()");
  node->loop->start(node.get());
}
template <class Node>
void stop_watcher(const Ref<Node>& node) {
  if (node && node->loop) node->loop->stop(node.get());
}
template <class Node>
bool watcher_active(const Ref<Node>& node) {
  return node && node->loop && node->active;
}
template <class Node>
void set_watcher_ref(const Ref<Node>& node, bool referenced) {
  if (node && node->loop) node->loop->set_ref(node.get(), referenced);
}
template <class Node>
void close_watcher(Ref<Node>& node) {
  if (!node) return;
  if (node->loop) node->loop->close(node.get());
  node = Ref<Node>();
}

}  // namespace

IoWatcher& IoWatcher::operator=(IoWatcher&& o) noexcept {
  if (this != &o) {
    close();
    node_ = std::move(o.node_);
  }
  return *this;
}
void IoWatcher::start() { start_watcher(node_, "IoWatcher", "watch"); }
void IoWatcher::stop() { stop_watcher(node_); }
bool IoWatcher::active() const { return watcher_active(node_); }
void IoWatcher::set_events(Events events) {
  if (node_ && node_->loop) node_->loop->set_io_events(node_.get(), events);
}
Events IoWatcher::events() const { return node_ ? node_->events : Events::none; }
int IoWatcher::fd() const { return node_ ? node_->fd : -1; }
void IoWatcher::ref() { set_watcher_ref(node_, true); }
void IoWatcher::unref() { set_watcher_ref(node_, false); }
void IoWatcher::close() { close_watcher(node_); }

SignalWatcher& SignalWatcher::operator=(SignalWatcher&& o) noexcept {
  if (this != &o) {
    close();
    node_ = std::move(o.node_);
  }
  return *this;
}
void SignalWatcher::start() { start_watcher(node_, "SignalWatcher", "watch_signal"); }
void SignalWatcher::stop() { stop_watcher(node_); }
bool SignalWatcher::active() const { return watcher_active(node_); }
int SignalWatcher::signum() const { return node_ ? node_->signum : 0; }
void SignalWatcher::ref() { set_watcher_ref(node_, true); }
void SignalWatcher::unref() { set_watcher_ref(node_, false); }
void SignalWatcher::close() { close_watcher(node_); }

}  // namespace grove
