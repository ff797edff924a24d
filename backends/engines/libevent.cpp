// The libevent engine: one persistent event per watched fd, plus an eventfd that wake()
// writes to, as a persistent read event. libevent's timers and signals are not used: the
// core owns both, and bounds a blocking poll with its timerfd.
//
// Why not libevent's own machinery:
//  - Waking: event_active() from another thread needs libevent threading (a lock taken
//    around every base operation, evthread_use_pthreads for the whole process). An eventfd
//    write is thread-safe by itself, so the base is created with EVENT_BASE_FLAG_NOLOCK.
//  - Bounding a wait: libevent's timers run on CLOCK_MONOTONIC_COARSE (a 4 ms tick here)
//    unless the base has EVENT_BASE_FLAG_PRECISE_TIMER, and with that flag the epoll
//    backend calls timerfd_settime on every dispatch, timeout or not: one more system call
//    per iteration. The core's timerfd is set only when the earliest deadline changes.
#include "../src/poller.hpp"

#include <event2/event.h>

#include <dlfcn.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
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
        std::string("grove: the libevent engine's event_add() resolves to ") + info.dli_fname +
        ", libev's libevent emulation; link libevent before libev (grove's CMake targets "
        "do), or build without one of them (-DGROVE_ENGINES=...)");
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
    open_wake_fd();
  }

  ~LibeventPoller() override {
    for (event* ev : events_)
      if (ev) event_free(ev);
    event_free(wake_ev_);
    event_base_free(base_);
    ::close(wake_fd_);
  }

  int open(int fd, Events had, Events want) override {
    if (std::size_t(fd) >= events_.size()) events_.resize(std::size_t(fd) + 1, nullptr);
    event*& ev = events_[std::size_t(fd)];
    if (!ev) ev = event_new(base_, fd, 0, &LibeventPoller::on_io, this);
    if (had != Events::none) event_del(ev);
    event_assign(ev, base_, fd, short(to_native<EV_READ, EV_WRITE>(want) | EV_PERSIST),
                 &LibeventPoller::on_io, this);
    errno = 0;
    if (event_add(ev, nullptr) != 0) return errno ? errno : EBADF;
    return 0;
  }

  void close(int fd) override {
    if (std::size_t(fd) < events_.size() && events_[std::size_t(fd)])
      event_del(events_[std::size_t(fd)]);
  }

  void poll(bool block, std::vector<ReadyEvent>& ready) override {
    out_ = &ready;
    // NONBLOCK alone keeps looping while persistent events stay ready (an always-writable
    // socket would spin forever); with ONCE it stops after one pass. Blocking, libevent
    // waits with no timeout of its own: the wake-up event is always added.
    event_base_loop(base_, block ? EVLOOP_ONCE : EVLOOP_ONCE | EVLOOP_NONBLOCK);
    out_ = nullptr;
  }

  void wake() override {
    const std::uint64_t one = 1;
    (void)!::write(wake_fd_, &one, sizeof one);
  }

  void after_fork() override {
    event_reinit(base_);
    // The eventfd is shared with the parent: replace it.
    event_del(wake_ev_);
    ::close(wake_fd_);
    open_wake_fd();
  }

  Capabilities describe() const override {
    Capabilities caps;
    caps.engine = "libevent";
    caps.poller = event_base_get_method(base_);
    caps.emulated = {"wake-up (grove eventfd)"};
    return caps;
  }

 private:
  void open_wake_fd() {
    wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake_fd_ < 0)
      throw std::system_error(errno, std::generic_category(), "grove: libevent engine: eventfd");
    event_assign(wake_ev_, base_, wake_fd_, EV_READ | EV_PERSIST, &LibeventPoller::drain, nullptr);
    event_add(wake_ev_, nullptr);
  }

  static void drain(evutil_socket_t fd, short, void*) {
    std::uint64_t n;
    (void)!::read(fd, &n, sizeof n);
  }

  static void on_io(evutil_socket_t fd, short what, void* arg) {
    static_cast<LibeventPoller*>(arg)->out_->push_back(
        {int(fd), from_native<EV_READ, EV_WRITE>(what)});
  }

  event_base* base_;
  event* wake_ev_;
  int wake_fd_ = -1;
  std::vector<event*> events_;
  std::vector<ReadyEvent>* out_ = nullptr;
};

}  // namespace

std::unique_ptr<Poller> make_libevent_poller() { return std::make_unique<LibeventPoller>(); }

}  // namespace grove::detail
