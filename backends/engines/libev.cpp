// The libev engine: one ev_io per watched fd and ev_async to break a poll. libev's own
// timers and signals are not used: the core owns both, and bounds a blocking poll with its
// timerfd (an ev_timer would bound it only to the millisecond: libev hands epoll a timeout
// in milliseconds, rounded up).
#include "../src/poller.hpp"

#include <ev.h>

#include <cerrno>

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
    ev_io_init(io, &LibevPoller::on_io, fd, (to_native<EV_READ, EV_WRITE>(want)));
    ev_io_start(loop_, io);
    return 0;  // libev reports a bad fd later, as EV_ERROR on the watcher
  }

  void close(int fd) override {
    if (std::size_t(fd) < ios_.size() && ios_[std::size_t(fd)])
      ev_io_stop(loop_, ios_[std::size_t(fd)]);
  }

  void poll(bool block, std::vector<ReadyEvent>& ready) override {
    out_ = &ready;
    ev_run(loop_, block ? EVRUN_ONCE : EVRUN_NOWAIT);
    out_ = nullptr;
  }

  void wake() override { ev_async_send(loop_, &wake_); }

  void after_fork() override { ev_loop_fork(loop_); }

  // No registration left behind here: libev already keeps a stopped fd in its epoll set
  // (it never issues EPOLL_CTL_DEL), and when it rebuilds its kernel state (after an event
  // with a stale generation, common when fd numbers are reused) it re-adds every started
  // ev_io, asserting on one whose fd was closed meanwhile ("I/O watcher with invalid fd
  // found in epoll_ctl"). A socket's registration outliving its last watcher is exactly that.
  bool lazy_removal() const override { return false; }

  Capabilities describe() const override {
    Capabilities caps;
    caps.engine = "libev";
    caps.poller = backend_name(ev_backend(loop_));
    return caps;
  }

 private:
  static void on_io(struct ev_loop* loop, ev_io* io, int revents) {
    auto* self = static_cast<LibevPoller*>(ev_userdata(loop));
    // On EV_ERROR libev has stopped the watcher already.
    self->out_->push_back(
        {io->fd, (revents & EV_ERROR) ? Events::closed : from_native<EV_READ, EV_WRITE>(revents)});
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
  std::vector<ev_io*> ios_;
  std::vector<ReadyEvent>* out_ = nullptr;
};

}  // namespace

std::unique_ptr<Poller> make_libev_poller() { return std::make_unique<LibevPoller>(); }

}  // namespace grove::detail
