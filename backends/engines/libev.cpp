// The libev engine: one ev_io per watched fd, ev_async to break a poll, and a timerfd (an
// ev_io of its own) to bound it. libev's own timers and signals are not used: the core owns
// both, and an ev_timer would bound the poll only to the millisecond (libev hands epoll a
// timeout in milliseconds, rounded up).
#include "../src/deadline_fd.hpp"
#include "../src/poller.hpp"

#include <ev.h>

#include <cerrno>
#include <chrono>

namespace grove::detail {
namespace {

class LibevPoller final : public Poller {
 public:
  LibevPoller() {
    // EVFLAG_NOSIGMASK: libev must not touch the signal mask; signals are the core's.
    loop_ = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOSIGMASK);
    if (!loop_) throw std::runtime_error("grove: libev: ev_loop_new failed");
    ev_set_userdata(loop_, this);
    ev_async_init(&wake_, [](struct ev_loop*, ev_async*, int) {});
    ev_async_start(loop_, &wake_);
    ev_init(&deadline_io_, [](struct ev_loop* loop, ev_io*, int) {
      static_cast<LibevPoller*>(ev_userdata(loop))->deadline_.expired();
    });
    ev_io_set(&deadline_io_, deadline_.fd(), EV_READ);
    ev_io_start(loop_, &deadline_io_);
    caps_.engine = "libev";
    caps_.poller = backend_name(ev_backend(loop_));
    caps_.timer_resolution = DeadlineFd::kGrain;
    caps_.emulated = {"timers (grove core heap)", "signals (grove core self-pipe)",
                      "several watchers per fd (grove core)", "poll timeout (grove timerfd)"};
  }

  ~LibevPoller() override {
    for (ev_io* io : ios_) delete io;
    ev_loop_destroy(loop_);
  }

  int open(int fd, Events had, Events want) override {
    if (std::size_t(fd) >= ios_.size()) ios_.resize(std::size_t(fd) + 1, nullptr);
    ev_io*& io = ios_[std::size_t(fd)];
    if (!io) io = new ev_io;
    if (had != Events::none) ev_io_stop(loop_, io);
    ev_io_init(io, &LibevPoller::on_io, fd, to_ev(want));
    ev_io_start(loop_, io);
    return 0;  // libev reports a bad fd later, as EV_ERROR on the watcher
  }

  void close(int fd) override {
    if (std::size_t(fd) < ios_.size() && ios_[std::size_t(fd)])
      ev_io_stop(loop_, ios_[std::size_t(fd)]);
  }

  void poll(Duration timeout, std::vector<ReadyEvent>& ready) override {
    out_ = &ready;
    if (timeout == Duration::zero()) {
      ev_run(loop_, EVRUN_NOWAIT);
    } else {
      if (timeout > Duration::zero()) deadline_.arm(timeout);
      ev_run(loop_, EVRUN_ONCE);
    }
    out_ = nullptr;
  }

  void wake() override { ev_async_send(loop_, &wake_); }

  void after_fork() override {
    ev_io_stop(loop_, &deadline_io_);
    deadline_.after_fork();
    ev_io_set(&deadline_io_, deadline_.fd(), EV_READ);
    ev_io_start(loop_, &deadline_io_);
    ev_loop_fork(loop_);
  }

  const Capabilities& capabilities() const override { return caps_; }

 private:
  static void on_io(struct ev_loop* loop, ev_io* io, int revents) {
    auto* self = static_cast<LibevPoller*>(ev_userdata(loop));
    Events e = Events::none;
    if (revents & EV_ERROR) {
      e = Events::closed;  // libev has stopped the watcher already
    } else {
      if (revents & EV_READ) e |= Events::read;
      if (revents & EV_WRITE) e |= Events::write;
    }
    self->out_->push_back({io->fd, e});
  }

  static int to_ev(Events e) {
    return (any(e & Events::read) ? EV_READ : 0) | (any(e & Events::write) ? EV_WRITE : 0);
  }

  static std::string backend_name(unsigned b) {
    switch (b) {
      case EVBACKEND_EPOLL: return "epoll";
      case EVBACKEND_POLL: return "poll";
      case EVBACKEND_SELECT: return "select";
      case EVBACKEND_LINUXAIO: return "linuxaio";
#ifdef EVBACKEND_IOURING
      case EVBACKEND_IOURING: return "io_uring";
#endif
      default: return "other";
    }
  }

  struct ev_loop* loop_;
  ev_async wake_;
  DeadlineFd deadline_;
  ev_io deadline_io_;
  std::vector<ev_io*> ios_;
  std::vector<ReadyEvent>* out_ = nullptr;
  Capabilities caps_;
};

}  // namespace

std::unique_ptr<Poller> make_libev_poller() { return std::make_unique<LibevPoller>(); }

}  // namespace grove::detail
