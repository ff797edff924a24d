// Signals: one process-wide handler per signal writes the signal number into the self-pipe
// of every loop that watches it; each loop reads its pipe as an ordinary fd and runs the
// watchers on its own thread.
#include "core_loop.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <mutex>
#include <system_error>

namespace grove::detail {

namespace {

constexpr int kMaxLoops = 64;   // loops with signal watchers at once
constexpr int kMaxSignal = 65;  // _NSIG on Linux

struct Slot {
  std::atomic<int> fd{-1};
  std::array<std::atomic<bool>, kMaxSignal> wants{};
};

Slot g_slots[kMaxLoops];
std::mutex g_mutex;  // guards the counts and dispositions below, never taken in the handler
int g_watchers[kMaxSignal];
struct sigaction g_previous[kMaxSignal];

extern "C" void grove_signal_handler(int signum) {
  const int saved = errno;
  const unsigned char byte = static_cast<unsigned char>(signum);
  for (Slot& s : g_slots) {
    int fd = s.fd.load(std::memory_order_acquire);
    if (fd >= 0 && s.wants[std::size_t(signum)].load(std::memory_order_relaxed)) {
      ssize_t n = ::write(fd, &byte, 1);  // a full pipe already holds a wake-up
      (void)n;
    }
  }
  errno = saved;
}

void check_signum(int signum) {
  if (signum <= 0 || signum >= kMaxSignal || signum == SIGKILL || signum == SIGSTOP)
    throw std::invalid_argument("grove: watch_signal(" + std::to_string(signum) +
                                "): that signal cannot be caught; watch a catchable signal number "
                                "(1-64, not SIGKILL or SIGSTOP)");
}

}  // namespace

SignalPipe::SignalPipe(CoreLoop& loop) : loop_(loop) {
  std::lock_guard lock(g_mutex);
  for (int i = 0; i < kMaxLoops; ++i)
    if (g_slots[i].fd.load() < 0) {
      slot_ = i;
      break;
    }
  if (slot_ < 0)
    throw std::runtime_error(
        "grove: more than 64 loops watch signals at once; watch "
        "signals in one loop and forward with call_soon_threadsafe");
  open_pipe();
}

void SignalPipe::open_pipe() {
  int fds[2];
  if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0)
    throw std::system_error(errno, std::generic_category(), "grove: signal pipe");
  read_fd_ = fds[0];
  write_fd_ = fds[1];
  g_slots[slot_].fd.store(write_fd_, std::memory_order_release);
  watcher_ = loop_.watch(read_fd_, Events::read, [this](Events) { on_readable(); });
  watcher_.unref();  // the signal watchers themselves keep the loop alive
}

SignalPipe::~SignalPipe() {
  std::lock_guard lock(g_mutex);
  g_slots[slot_].fd.store(-1, std::memory_order_release);
  for (auto& w : g_slots[slot_].wants) w.store(false);
  watcher_.close();
  ::close(read_fd_);
  ::close(write_fd_);
}

void SignalPipe::after_fork() {
  // The pipe is shared with the parent: a new one keeps the two apart.
  watcher_.close();
  loop_.forget_fd(read_fd_);
  ::close(read_fd_);
  ::close(write_fd_);
  open_pipe();
}

void SignalPipe::add(int signum) {
  std::lock_guard lock(g_mutex);
  g_slots[slot_].wants[std::size_t(signum)].store(true);
  if (g_watchers[signum]++ == 0) {
    struct sigaction sa {};
    sa.sa_handler = grove_signal_handler;
    sigfillset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    ::sigaction(signum, &sa, &g_previous[signum]);
  }
}

void SignalPipe::remove(int signum) {
  std::lock_guard lock(g_mutex);
  if (--g_watchers[signum] == 0) ::sigaction(signum, &g_previous[signum], nullptr);
}

void SignalPipe::on_readable() {
  unsigned char buf[64];
  for (;;) {
    ssize_t n = ::read(read_fd_, buf, sizeof buf);
    if (n <= 0) break;
    for (ssize_t i = 0; i < n; ++i) loop_.dispatch_signal(buf[i]);
  }
}

SignalWatcher CoreLoop::watch_signal(int signum, SignalCallback cb) {
  check_signum(signum);
  if (!signal_pipe_) signal_pipe_ = std::make_unique<SignalPipe>(*this);
  if (signals_.size() <= std::size_t(signum)) signals_.resize(std::size_t(signum) + 1);
  auto* s = new SignalNode;
  s->loop = this;
  s->signum = signum;
  s->cb = std::move(cb);
  s->retain();  // the loop's reference
  signals_[std::size_t(signum)].push_back(s);
  SignalWatcher handle{Ref<SignalNode>(s)};
  start(s);
  return handle;
}

void CoreLoop::start(SignalNode* s) {
  if (!s->attached)
    throw std::logic_error(
        "grove: SignalWatcher::start() on a closed watcher; create a new "
        "one with EventLoop::watch_signal()");
  if (s->active) return;
  s->active = true;
  count(true, s->referenced, +1);
  signal_pipe_->add(s->signum);
}

void CoreLoop::stop(SignalNode* s) {
  if (!s->active) return;
  s->active = false;
  count(true, s->referenced, -1);
  signal_pipe_->remove(s->signum);
}

void CoreLoop::set_ref(SignalNode* s, bool referenced) {
  if (s->referenced == referenced) return;
  count(s->active, s->referenced, -1);
  s->referenced = referenced;
  count(s->active, s->referenced, +1);
}

void CoreLoop::close(SignalNode* s) {
  if (!s->attached) return;
  stop(s);
  s->attached = false;
  std::erase(signals_[std::size_t(s->signum)], s);
  if (!s->in_callback) s->cb.reset();
  s->release();
}

void CoreLoop::dispatch_signal(int signum) {
  if (std::size_t(signum) >= signals_.size()) return;
  // A copy: a callback may close watchers of this signal.
  std::vector<Ref<SignalNode>> list;
  for (SignalNode* s : signals_[std::size_t(signum)]) list.emplace_back(s);
  for (auto& s : list) {
    if (!s->active || !s->cb) continue;
    s->in_callback = true;
    try {
      s->cb(signum);
    } catch (...) {
      s->in_callback = false;
      if (!s->attached) s->cb.reset();
      report_exception(std::current_exception(), "signal watcher callback");
      continue;
    }
    s->in_callback = false;
    if (!s->attached) s->cb.reset();
  }
}

}  // namespace grove::detail
