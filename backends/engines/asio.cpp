// The asio engine — asyncio's loop model (the core's ready queue and timer heap) with
// standalone Asio's io_context as the selector. Each watched fd is a stream_descriptor
// with async_wait per direction, re-armed while the interest lasts: Asio re-checks
// readiness when a wait is armed, which gives the level-triggered contract.
#include "../src/poller.hpp"

#include <asio/bind_allocator.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/post.hpp>

#include <fcntl.h>

#include <cerrno>
#include <cstddef>
#include <new>

namespace grove::detail {
namespace {

// Memory for the operation of one async_wait. Asio allocates each wait's operation through
// the handler's associated allocator, and its default one recycles memory only on a thread
// that is inside the io_context at that moment; the engine arms its waits from poll(),
// outside it, so every wait cost a malloc and a free. One slot per direction of an fd is
// enough: Asio frees the operation before calling the handler, and at most one wait per
// direction is in flight (a second one, while a cancelled wait is still queued, falls back
// to the heap).
struct OpSlot {
  static constexpr std::size_t kBytes = 256;
  alignas(std::max_align_t) unsigned char bytes[kBytes];
  bool busy = false;
};

template <class T>
struct SlotAllocator {
  using value_type = T;
  OpSlot* slot;
  explicit SlotAllocator(OpSlot* s) noexcept : slot(s) {}
  template <class U>
  SlotAllocator(const SlotAllocator<U>& o) noexcept : slot(o.slot) {}
  T* allocate(std::size_t n) {
    if (!slot->busy && n * sizeof(T) <= OpSlot::kBytes && alignof(T) <= alignof(std::max_align_t)) {
      slot->busy = true;
      return reinterpret_cast<T*>(slot->bytes);
    }
    return static_cast<T*>(::operator new(n * sizeof(T)));
  }
  void deallocate(T* p, std::size_t) noexcept {
    if (reinterpret_cast<unsigned char*>(p) == slot->bytes) slot->busy = false;
    else ::operator delete(p);
  }
  template <class U>
  bool operator==(const SlotAllocator<U>& o) const noexcept {
    return slot == o.slot;
  }
  template <class U>
  bool operator!=(const SlotAllocator<U>& o) const noexcept {
    return slot != o.slot;
  }
};

class AsioPoller final : public Poller {
 public:
  // io_context::run_one_for() would wait in epoll_wait with a timeout in milliseconds,
  // rounded up; the core's timerfd bounds a blocking poll instead.
  AsioPoller() : io_(1), work_(io_.get_executor()) {}

  ~AsioPoller() override {
    for (auto& f : fds_)
      if (f) {
        asio::error_code ec;
        f->sd.cancel(ec);
        f->sd.release();
      }
    // Run the aborted waits now: their operations live in the Fds' slots, which must not be
    // freed before the io_context has finished with them.
    work_.reset();
    out_ = nullptr;
    io_.restart();
    io_.poll();
    io_.stop();
    fds_.clear();
    retired_.clear();
  }

  int open(int fd, Events had, Events want) override {
    (void)had;
    if (std::size_t(fd) >= fds_.size()) fds_.resize(std::size_t(fd) + 1);
    auto& f = fds_[std::size_t(fd)];
    if (!f) {
      f = std::make_unique<Fd>(io_, fd);
      asio::error_code ec;
      f->sd.assign(fd, ec);
      if (ec) {
        f.reset();
        return ec.value();
      }
      f->saved_flags = ::fcntl(fd, F_GETFL);
    }
    Events removed = f->want & ~want;
    f->want = want;
    if (any(removed & f->pending)) {
      // Asio cannot cancel one direction: cancel both and re-arm what is still wanted.
      ++f->generation;
      asio::error_code ec;
      f->sd.cancel(ec);
      f->pending = Events::none;
    }
    arm(*f);
    restore_blocking_mode(*f);
    return 0;
  }

  void close(int fd) override {
    if (std::size_t(fd) >= fds_.size() || !fds_[std::size_t(fd)]) return;
    auto& f = fds_[std::size_t(fd)];
    if (f->queued_rearm) std::erase(rearm_, f.get());
    asio::error_code ec;
    f->sd.cancel(ec);
    f->sd.release();
    // Cancelled handlers still refer to the Fd: keep it until they have run.
    retired_.push_back(std::move(f));
  }

  void poll(bool block, std::vector<ReadyEvent>& ready) override {
    // Re-arm after the core has dispatched the last batch (the watchers have read by now),
    // so a drained fd is not reported again.
    for (Fd* f : rearm_) arm(*f);
    rearm_.clear();
    out_ = &ready;
    // The work guard keeps io_ from stopping; checking stopped() takes the scheduler's
    // mutex, so it is checked only when nothing ran (and then io_ is restarted for next time).
    if (!block) {
      if (io_.poll() == 0 && io_.stopped()) io_.restart();
    } else {
      // A blocking poll runs one handler. Asio's reactor queues each ready descriptor as
      // one operation, whose run completes the first of its waits inline and posts the
      // others behind the reactor; such a posted completion carries a readiness snapshot
      // that goes stale once the watchers have read, and a wait re-armed before it runs
      // would be completed by it. So drain the queue with poll() when a descriptor that
      // reported here still has a wait in flight. Otherwise nothing of ours is queued
      // behind the reactor (other descriptors' operations sit ahead of it and were armed
      // before their snapshot), and skipping poll() saves the epoll_wait(0) it always makes.
      if (io_.run_one() == 0 && io_.stopped()) io_.restart();
      for (Fd* f : rearm_)
        if (f->pending != Events::none) {
          io_.poll();
          break;
        }
    }
    // Retired fds' cancelled (and already-queued) handlers still point at them, and the
    // blocking branch above may have run only one handler: run the rest before freeing.
    if (!retired_.empty()) {
      io_.poll();
      retired_.clear();
    }
    out_ = nullptr;
  }

  void wake() override {
    asio::post(io_, [] {});
  }

  void after_fork() override { io_.notify_fork(asio::io_context::fork_child); }

  // No registration left behind here: notify_fork() re-adds every descriptor Asio has
  // registered and throws on one that was closed meanwhile ("epoll re-registration: Bad
  // file descriptor"), as a socket whose last watcher left its registration behind and
  // that was then closed would be; dropping those in the fork child instead would remove
  // them from the epoll set it still shares with the parent.
  bool lazy_removal() const override { return false; }

  Capabilities describe() const override {
    Capabilities caps;
    caps.engine = "asio";
    caps.poller = "epoll";
    caps.emulated = {"level-triggered readiness (async_wait re-armed per event)"};
    return caps;
  }

 private:
  struct Fd {
    Fd(asio::io_context& io, int fd_) : sd(io), fd(fd_) {}
    asio::posix::stream_descriptor sd;
    int fd;
    Events want = Events::none;
    Events pending = Events::none;  // async_wait in flight per direction
    unsigned generation = 0;
    int saved_flags = -1;  // the fd's flags before Asio first touched them
    bool queued_rearm = false;
    OpSlot slots[2];  // read, write
  };

  // Asio makes a descriptor non-blocking the first time it waits on it, and remembers that
  // it did. The fd belongs to the user (or to a parent shell, for inherited fds): give it its
  // mode back; Asio will not set it again, and readiness waits do not need it.
  static void restore_blocking_mode(Fd& f) {
    if (f.saved_flags < 0 || (f.saved_flags & O_NONBLOCK)) return;
    int now = ::fcntl(f.fd, F_GETFL);
    if (now >= 0 && (now & O_NONBLOCK)) ::fcntl(f.fd, F_SETFL, f.saved_flags);
    f.saved_flags = -1;
  }

  void arm(Fd& f) {
    f.queued_rearm = false;
    if (any(f.want & Events::read) && !any(f.pending & Events::read))
      wait(f, asio::posix::descriptor_base::wait_read, Events::read);
    if (any(f.want & Events::write) && !any(f.pending & Events::write))
      wait(f, asio::posix::descriptor_base::wait_write, Events::write);
  }

  void wait(Fd& f, asio::posix::descriptor_base::wait_type type, Events dir) {
    f.pending |= dir;
    OpSlot* slot = &f.slots[dir == Events::read ? 0 : 1];
    f.sd.async_wait(
        type, asio::bind_allocator(SlotAllocator<void>(slot), [this, fp = &f, gen = f.generation,
                                                               dir](asio::error_code ec) {
          if (gen != fp->generation || ec == asio::error::operation_aborted) return;
          fp->pending = Events(unsigned(fp->pending) & ~unsigned(dir));
          if (!out_) return;
          if (ec) {
            out_->push_back({fp->fd, Events::closed});
            return;
          }
          out_->push_back({fp->fd, dir});
          if (!fp->queued_rearm) {
            fp->queued_rearm = true;
            rearm_.push_back(fp);
          }
        }));
  }

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::vector<std::unique_ptr<Fd>> fds_;
  std::vector<std::unique_ptr<Fd>> retired_;
  std::vector<Fd*> rearm_;
  std::vector<ReadyEvent>* out_ = nullptr;
};

}  // namespace

std::unique_ptr<Poller> make_asio_poller() { return std::make_unique<AsioPoller>(); }

}  // namespace grove::detail
