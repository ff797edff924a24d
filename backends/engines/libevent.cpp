// The libevent engine: one persistent event per watched fd, a timer event to bound a poll,
// and an event made active from other threads to break one. libevent's timers and signals
// are not used for user work: the core owns both.
#include "../src/poller.hpp"

#include <event2/event.h>
#include <event2/thread.h>

#include <dlfcn.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <chrono>
#include <mutex>
#include <stdexcept>

namespace grove::detail {
namespace {

// libev's shared library exports libevent's classic API too. If it was linked ahead of
// libevent, event_add() and friends are libev's and the engine would misbehave; say so.
void check_symbols_are_libevent() {
  Dl_info info{};
  if (::dladdr(reinterpret_cast<void*>(&event_add), &info) && info.dli_fname &&
      std::strstr(info.dli_fname, "libev.") && !std::strstr(info.dli_fname, "libevent"))
    throw std::runtime_error(
        std::string("grove: the libevent engine's event_add() resolves to ") +
        info.dli_fname +
        ", libev's libevent emulation; link libevent before libev (grove's CMake targets "
        "do), or build without one of them (-DGROVE_BACKENDS=...)");
}

class LibeventPoller final : public Poller {
 public:
  LibeventPoller() {
    check_symbols_are_libevent();
    // Makes event_active() on wake_ safe from any thread.
    static std::once_flag threads_on;
    std::call_once(threads_on, [] { evthread_use_pthreads(); });
    event_config* cfg = event_config_new();
    // A timerfd behind the poll: microsecond timeouts instead of epoll's milliseconds.
    event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER);
    base_ = event_base_new_with_config(cfg);
    event_config_free(cfg);
    if (!base_) throw std::runtime_error("grove: libevent: event_base_new failed");
    wake_ = event_new(base_, -1, 0, [](evutil_socket_t, short, void*) {}, nullptr);
    timeout_ = event_new(base_, -1, 0, [](evutil_socket_t, short, void*) {}, nullptr);
    caps_.engine = "libevent";
    caps_.poller = event_base_get_method(base_);
    caps_.timer_resolution = std::chrono::microseconds(1);
    caps_.emulated = {"timers (grove core heap)", "signals (grove core self-pipe)",
                      "several watchers per fd (grove core)"};
  }

  ~LibeventPoller() override {
    for (event* ev : events_)
      if (ev) event_free(ev);
    event_free(wake_);
    event_free(timeout_);
    event_base_free(base_);
  }

  int open(int fd, Events had, Events want) override {
    if (std::size_t(fd) >= events_.size()) events_.resize(std::size_t(fd) + 1, nullptr);
    event*& ev = events_[std::size_t(fd)];
    if (!ev) ev = event_new(base_, fd, 0, &LibeventPoller::on_io, this);
    if (had != Events::none) event_del(ev);
    event_assign(ev, base_, fd, short(to_ev(want) | EV_PERSIST), &LibeventPoller::on_io,
                 this);
    errno = 0;
    if (event_add(ev, nullptr) != 0) return errno ? errno : EBADF;
    return 0;
  }

  void close(int fd) override {
    if (std::size_t(fd) < events_.size() && events_[std::size_t(fd)])
      event_del(events_[std::size_t(fd)]);
  }

  void poll(Duration timeout, std::vector<ReadyEvent>& ready) override {
    out_ = &ready;
    if (timeout == Duration::zero()) {
      // NONBLOCK alone keeps looping while persistent events stay ready (an always-
      // writable socket would spin forever); with ONCE it stops after one pass.
      event_base_loop(base_, EVLOOP_ONCE | EVLOOP_NONBLOCK);
    } else {
      // With nothing added, libevent returns at once instead of waiting for wake(): an
      // hour-long timer keeps it waiting (the core's loop simply polls again after it).
      auto wait = timeout < Duration::zero() ? std::chrono::hours(1) : timeout;
      auto us = std::chrono::ceil<std::chrono::microseconds>(wait).count();
      timeval tv{time_t(us / 1000000), suseconds_t(us % 1000000)};
      event_add(timeout_, &tv);
      event_base_loop(base_, EVLOOP_ONCE);
      event_del(timeout_);
    }
    out_ = nullptr;
  }

  void wake() override { event_active(wake_, EV_READ, 0); }

  void after_fork() override { event_reinit(base_); }

  const Capabilities& capabilities() const override { return caps_; }

 private:
  static void on_io(evutil_socket_t fd, short what, void* arg) {
    auto* self = static_cast<LibeventPoller*>(arg);
    Events e = Events::none;
    if (what & EV_READ) e |= Events::read;
    if (what & EV_WRITE) e |= Events::write;
    self->out_->push_back({int(fd), e});
  }

  static int to_ev(Events e) {
    return (any(e & Events::read) ? EV_READ : 0) | (any(e & Events::write) ? EV_WRITE : 0);
  }

  event_base* base_;
  event* wake_;
  event* timeout_;
  std::vector<event*> events_;
  std::vector<ReadyEvent>* out_ = nullptr;
  Capabilities caps_;
};

}  // namespace

std::unique_ptr<Poller> make_libevent_poller() { return std::make_unique<LibeventPoller>(); }

}  // namespace grove::detail
