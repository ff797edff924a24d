// The libevent engine: one persistent event per watched fd, plus two internal fds as
// persistent read events: an eventfd that wake() writes to, and a timerfd that bounds a
// blocking poll. libevent's timers and signals are not used for user work: the core owns
// both.
//
// Why not libevent's own machinery for those two jobs:
//  - Waking: event_active() from another thread needs libevent threading (a lock taken
//    around every base operation, evthread_use_pthreads for the whole process). An eventfd
//    write is thread-safe by itself, so the base is created with EVENT_BASE_FLAG_NOLOCK.
//  - Bounding a wait: libevent's timers run on CLOCK_MONOTONIC_COARSE (a 4 ms tick here)
//    unless the base has EVENT_BASE_FLAG_PRECISE_TIMER, and with that flag the epoll
//    backend calls timerfd_settime on every dispatch, timeout or not: one more system call
//    per iteration. The timerfd here is set only when the earliest deadline changes.
#include "../src/deadline_fd.hpp"
#include "../src/poller.hpp"

#include <event2/event.h>

#include <dlfcn.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <chrono>
#include <stdexcept>
#include <system_error>

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
    event_config* cfg = event_config_new();
    event_config_set_flag(cfg, EVENT_BASE_FLAG_NOLOCK);
    base_ = event_base_new_with_config(cfg);
    event_config_free(cfg);
    if (!base_) throw std::runtime_error("grove: libevent: event_base_new failed");
    wake_ev_ = event_new(base_, -1, 0, nullptr, nullptr);
    timer_ev_ = event_new(base_, -1, 0, nullptr, nullptr);
    open_internal_fds();
    caps_.engine = "libevent";
    caps_.poller = event_base_get_method(base_);
    caps_.timer_resolution = DeadlineFd::kGrain;
    caps_.emulated = {"timers (grove core heap)", "signals (grove core self-pipe)",
                      "several watchers per fd (grove core)",
                      "wake-up and poll timeout (grove eventfd and timerfd)"};
  }

  ~LibeventPoller() override {
    for (event* ev : events_)
      if (ev) event_free(ev);
    event_free(wake_ev_);
    event_free(timer_ev_);
    event_base_free(base_);
    ::close(wake_fd_);
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
      if (timeout > Duration::zero()) deadline_.arm(timeout);
      // The wake-up event is always added, so libevent blocks (with no timeout of its own)
      // until an fd, the timerfd or a wake() is ready.
      event_base_loop(base_, EVLOOP_ONCE);
    }
    out_ = nullptr;
  }

  void wake() override {
    const std::uint64_t one = 1;
    (void)!::write(wake_fd_, &one, sizeof one);
  }

  void after_fork() override {
    event_reinit(base_);
    // The eventfd and the timerfd are shared with the parent: replace them.
    event_del(wake_ev_);
    event_del(timer_ev_);
    ::close(wake_fd_);
    deadline_.after_fork();
    open_internal_fds();
  }

  const Capabilities& capabilities() const override { return caps_; }

 private:
  void open_internal_fds() {
    wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake_fd_ < 0)
      throw std::system_error(errno, std::generic_category(), "grove: libevent engine: eventfd");
    event_assign(wake_ev_, base_, wake_fd_, EV_READ | EV_PERSIST, &LibeventPoller::drain, nullptr);
    event_assign(timer_ev_, base_, deadline_.fd(), EV_READ | EV_PERSIST, &LibeventPoller::on_timer,
                 this);
    event_add(wake_ev_, nullptr);
    event_add(timer_ev_, nullptr);
  }

  static void drain(evutil_socket_t fd, short, void*) {
    std::uint64_t n;
    (void)!::read(fd, &n, sizeof n);
  }

  static void on_timer(evutil_socket_t fd, short, void* arg) {
    (void)fd;
    static_cast<LibeventPoller*>(arg)->deadline_.expired();
  }

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
  event* wake_ev_;
  event* timer_ev_;
  int wake_fd_ = -1;
  DeadlineFd deadline_;
  std::vector<event*> events_;
  std::vector<ReadyEvent>* out_ = nullptr;
  Capabilities caps_;
};

}  // namespace

std::unique_ptr<Poller> make_libevent_poller() { return std::make_unique<LibeventPoller>(); }

}  // namespace grove::detail
