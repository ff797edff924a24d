// The io_uring engine: readiness through the ring, one io_uring_enter per loop iteration.
//
// Every interest change (a poll added, removed or re-armed) is a submission queue entry
// written in user space; poll() submits them all and waits for completions in the same
// io_uring_submit_and_wait() call, so an iteration costs one system call however many fds
// changed or became ready (epoll engines pay epoll_ctl per change besides epoll_wait).
//
// Why one-shot polls and not multishot (IORING_POLL_ADD_MULTI): a multishot poll posts a
// completion on each wake-up of the fd's wait queue, that is when new data arrives, not
// while unread data remains; it is edge-triggered, and the kernel refuses
// IORING_POLL_ADD_LEVEL with it (EINVAL). The contract is level-triggered (tested: "unread
// data is reported again"). A one-shot poll re-armed after each report re-checks readiness
// when it is armed, which is the level-triggered contract, and the re-arm rides in the next
// iteration's batch, so it costs no system call of its own.
//
// Wake-up: an eventfd that wake() writes to, read through the ring (IORING_OP_READ, re-armed
// on completion), so the loop side drains it without a read() of its own.
//
// Availability is a run-time question: a kernel without io_uring (ENOSYS), or one where
// /proc/sys/kernel/io_uring_disabled or a seccomp filter forbids it (EPERM), makes the
// constructor throw EngineUnavailable naming the reason; make_loop() then falls back to the
// build's next engine when io_uring was only the default (registry.cpp).
// GROVE_IO_URING_UNAVAILABLE=ENOSYS|EPERM makes the engine act as if io_uring_queue_init
// had failed that way, so both paths are testable on a kernel that has io_uring.
#include "../src/poller.hpp"

#include <liburing.h>

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <system_error>

namespace grove::detail {
namespace {

// user_data: the fd, a generation that tells a current poll from a removed one, and a kind.
enum class Kind : std::uint64_t { poll = 0, wake = 1, ignore = 2 };

constexpr std::uint64_t tag(Kind kind, int fd = 0, std::uint32_t gen = 0) {
  return (std::uint64_t(kind) << 62) | (std::uint64_t(gen & 0x3fffffffu) << 32) |
         std::uint64_t(std::uint32_t(fd));
}
constexpr Kind kind_of(std::uint64_t data) { return Kind(data >> 62); }
constexpr int fd_of(std::uint64_t data) { return int(std::uint32_t(data)); }
constexpr std::uint32_t gen_of(std::uint64_t data) {
  return std::uint32_t(data >> 32) & 0x3fffffffu;
}

// Where the ring reads the eventfd's count to. Static rather than a member: a read still in
// the kernel while a ring is torn down must not land in freed memory. Nobody reads it.
std::uint64_t wake_sink;

// liburing maps and unmaps a ring with raw system calls, which ThreadSanitizer does not see:
// a ring mapped where another thread's torn-down ring was looked like a race with that
// thread's old accesses ("run can be called again, and from several threads at once").
// Under TSan the ring is unmapped through libc, whose munmap TSan intercepts and so forgets
// those addresses; these are io_uring_queue_exit's own steps (no SQE128, no registered ring fd).
void close_ring(io_uring& ring) {
#if defined(__SANITIZE_THREAD__)
  ::munmap(ring.sq.sqes, ring.sq.ring_entries * sizeof(io_uring_sqe));
  ::munmap(ring.sq.ring_ptr, ring.sq.ring_sz);
  if (ring.cq.ring_ptr && ring.cq.ring_ptr != ring.sq.ring_ptr)
    ::munmap(ring.cq.ring_ptr, ring.cq.ring_sz);
  ::close(ring.ring_fd);
#else
  io_uring_queue_exit(&ring);
#endif
}

constexpr unsigned kSqEntries = 512;
constexpr unsigned kCqEntries = 8192;  // a completion per ready fd: room for many per batch

std::string disabled_sysctl() {
  std::ifstream in("/proc/sys/kernel/io_uring_disabled");
  std::string value;
  if (in >> value) return value;
  return {};
}

[[noreturn]] void unavailable(int err) {
  std::string why;
  if (err == ENOSYS) why = "this kernel has no io_uring (ENOSYS)";
  else if (err == EPERM) {
    const std::string sysctl = disabled_sysctl();
    why = "io_uring is not permitted here (EPERM)";
    if (!sysctl.empty() && sysctl != "0")
      why += ": /proc/sys/kernel/io_uring_disabled is " + sysctl;
    else why += ": a seccomp filter or container policy forbids it";
  } else {
    why = std::string("io_uring_queue_init failed: ") + std::strerror(err);
  }
  throw EngineUnavailable("grove: the io_uring engine is unavailable: " + why +
                          "; choose another engine with GROVE_LOOP (or make_loop(name))");
}

// GROVE_IO_URING_UNAVAILABLE: the errno io_uring_queue_init is made to fail with (tests).
int simulated_failure() {
  const char* env = std::getenv("GROVE_IO_URING_UNAVAILABLE");
  if (!env || !*env) return 0;
  if (std::strcmp(env, "ENOSYS") == 0) return ENOSYS;
  if (std::strcmp(env, "EPERM") == 0) return EPERM;
  return EINVAL;
}

short to_poll(Events e) {
  return short((any(e & Events::read) ? POLLIN : 0) | (any(e & Events::write) ? POLLOUT : 0));
}

Events from_poll(int revents) {
  // Errors and hang-ups wake both directions, as epoll reports them: the read or write that
  // follows returns the error or EOF.
  Events e = Events::none;
  if (revents & (POLLIN | POLLERR | POLLHUP | POLLRDHUP)) e |= Events::read;
  if (revents & (POLLOUT | POLLERR | POLLHUP)) e |= Events::write;
  return e;
}

class IoUringPoller final : public Poller {
 public:
  IoUringPoller() {
    setup_ring();
    open_wake_fd();
  }

  ~IoUringPoller() override {
    close_ring(ring_);
    ::close(wake_fd_);
  }

  int open(int fd, Events had, Events want) override {
    FdState& st = state(fd);
    if (st.armed && had != Events::none) remove(fd, st);
    st.want = want;
    st.gen = (st.gen + 1) & 0x3fffffffu;
    arm(fd, st);
    return 0;  // a bad fd completes with -EBADF, reported as Events::closed
  }

  // The removal is submitted at once: a poll in the ring holds a reference to the file, so
  // a listening socket closed with its poll still queued would go on completing handshakes
  // into its backlog until the next iteration, and those connections were then reset (seen
  // in the graceful-stop-under-load test). One io_uring_enter per close of a watched fd.
  void close(int fd) override {
    if (std::size_t(fd) >= fds_.size()) return;
    FdState& st = fds_[std::size_t(fd)];
    if (st.armed) {
      remove(fd, st);
      io_uring_submit(&ring_);
    }
    st.want = Events::none;
    st.gen = (st.gen + 1) & 0x3fffffffu;
  }

  void poll(bool block, std::vector<ReadyEvent>& ready) override {
    rearm_reported();
    int rc = block ? io_uring_submit_and_wait(&ring_, 1)
                   : (io_uring_sq_ready(&ring_) ? io_uring_submit(&ring_) : 0);
    if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY && rc != -ETIME)
      throw std::system_error(-rc, std::generic_category(), "grove: io_uring_submit_and_wait");
    reap(ready);
  }

  void wake() override {
    const std::uint64_t one = 1;
    (void)!::write(wake_fd_, &one, sizeof one);
  }

  void after_fork() override {
    // The ring and the eventfd are the parent's: build new ones and re-add every interest.
    close_ring(ring_);
    ::close(wake_fd_);
    setup_ring();
    open_wake_fd();
    reported_.clear();
    for (std::size_t fd = 0; fd < fds_.size(); ++fd) {
      FdState& st = fds_[fd];
      st.armed = false;
      if (st.want != Events::none) arm(int(fd), st);
    }
  }

  // A poll in the ring holds a reference to its file: a registration left behind would keep
  // a socket the user closed open. Interest changes are free here anyway (a queue entry in
  // the next iteration's batch).
  bool lazy_removal() const override { return false; }

  Capabilities describe() const override {
    Capabilities caps;
    caps.engine = "io_uring";
    caps.poller = "io_uring";
    caps.emulated = {"level-triggered readiness (one-shot IORING_OP_POLL_ADD re-armed per report)",
                     "wake-up (grove eventfd, read through the ring)"};
    return caps;
  }

 private:
  struct FdState {
    Events want = Events::none;
    std::uint32_t gen = 0;
    bool armed = false;  // a poll with the current generation is in the kernel
  };

  void setup_ring() {
    if (int simulated = simulated_failure()) unavailable(simulated);
    int err = 0;
    // SUBMIT_ALL (Linux 5.18): an entry that fails (a poll of a closed fd) must not hold
    // back the rest of the batch until the next iteration. Older kernels refuse the flag.
    for (unsigned flags : {IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL, IORING_SETUP_CQSIZE}) {
      io_uring_params params{};
      params.flags = flags;
      params.cq_entries = kCqEntries;
      err = -io_uring_queue_init_params(kSqEntries, &ring_, &params);
      if (err != EINVAL) break;
    }
    if (err) unavailable(err);
  }

  FdState& state(int fd) {
    if (std::size_t(fd) >= fds_.size()) fds_.resize(std::size_t(fd) + 1);
    return fds_[std::size_t(fd)];
  }

  io_uring_sqe* sqe() {
    io_uring_sqe* s = io_uring_get_sqe(&ring_);
    while (!s) {  // the queue is full: hand what is there to the kernel first
      io_uring_submit(&ring_);
      s = io_uring_get_sqe(&ring_);
    }
    return s;
  }

  void arm(int fd, FdState& st) {
    io_uring_sqe* s = sqe();
    io_uring_prep_poll_add(s, fd, unsigned(to_poll(st.want)));
    io_uring_sqe_set_data64(s, tag(Kind::poll, fd, st.gen));
    st.armed = true;
  }

  void remove(int fd, FdState& st) {
    io_uring_sqe* s = sqe();
    io_uring_prep_poll_remove(s, tag(Kind::poll, fd, st.gen));
    io_uring_sqe_set_data64(s, tag(Kind::ignore));
    st.armed = false;
  }

  // A reported fd whose interest is unchanged gets its one-shot poll back; the core has had
  // its chance to close() or re-open() it in between.
  void rearm_reported() {
    for (const auto& [fd, gen] : reported_) {
      FdState& st = fds_[std::size_t(fd)];
      if (st.gen == gen && !st.armed && st.want != Events::none) arm(fd, st);
    }
    reported_.clear();
  }

  void reap(std::vector<ReadyEvent>& ready) {
    io_uring_cqe* cqe;
    unsigned head, seen = 0;
    io_uring_for_each_cqe(&ring_, head, cqe) {
      ++seen;
      const std::uint64_t data = io_uring_cqe_get_data64(cqe);
      switch (kind_of(data)) {
        case Kind::poll: on_poll(data, cqe->res, ready); break;
        case Kind::wake: arm_wake_read(); break;
        case Kind::ignore: break;
      }
    }
    io_uring_cq_advance(&ring_, seen);
  }

  void on_poll(std::uint64_t data, int res, std::vector<ReadyEvent>& ready) {
    const int fd = fd_of(data);
    if (std::size_t(fd) >= fds_.size()) return;
    FdState& st = fds_[std::size_t(fd)];
    if (st.gen != gen_of(data)) return;  // removed or replaced since: stale
    st.armed = false;
    if (res == -ECANCELED || res == -EINTR) {  // not an answer about the fd: ask again
      reported_.push_back({fd, st.gen});
      return;
    }
    if (res < 0 || (res & POLLNVAL)) {  // EBADF and the like: the core closes its watchers
      st.want = Events::none;
      ready.push_back({fd, Events::closed});
      return;
    }
    reported_.push_back({fd, st.gen});
    const Events got = from_poll(res) & st.want;
    if (got != Events::none) ready.push_back({fd, got});
  }

  void open_wake_fd() {
    // Blocking on purpose: a read of a non-blocking fd through the ring fails with EAGAIN
    // instead of waiting for the count.
    wake_fd_ = ::eventfd(0, EFD_CLOEXEC);
    if (wake_fd_ < 0)
      throw std::system_error(errno, std::generic_category(), "grove: io_uring engine: eventfd");
    arm_wake_read();
  }

  void arm_wake_read() {
    io_uring_sqe* s = sqe();
    io_uring_prep_read(s, wake_fd_, &wake_sink, sizeof wake_sink, 0);
    io_uring_sqe_set_data64(s, tag(Kind::wake));
  }

  struct Reported {
    int fd;
    std::uint32_t gen;
  };

  io_uring ring_{};
  int wake_fd_ = -1;
  std::vector<FdState> fds_;
  std::vector<Reported> reported_;  // one-shot polls to re-arm at the next poll()
};

}  // namespace

std::unique_ptr<Poller> make_io_uring_poller() { return std::make_unique<IoUringPoller>(); }

}  // namespace grove::detail
