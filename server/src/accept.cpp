// The accept loop: one green thread per listening socket.
#include "server_impl.hpp"

#include <cerrno>
#include <cstring>

namespace grove::http {

void Server::Impl::accept_loop(Listener* l) {
  Duration backoff = 10ms;
  // The metrics listener goes on through a stop (scrapes watch the drain) until
  // maybe_finish_stop() closes it.
  auto accepting = [this, l] { return !stopping_ || (l->metrics && !stopped_); };
  while (accepting()) {
    while (stats.open >= cfg.max_connections && !stopping_) {
      slot_free.clear();
      slot_free.wait();
    }
    if (!accepting()) break;
    sockaddr_storage ss;
    socklen_t len = sizeof ss;
    int fd = ::accept4(l->fd, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      if (emfile_active) {
        emfile_active = false;
        if (emfile_warned) {
          emfile_warned = false;
          Log::write(LogLevel::info, "accepting connections again on " + l->name + " (" +
                                         std::to_string(emfile_failures) +
                                         " accepts failed for lack of descriptors)");
          emfile_failures = 0;
        }
      }
      backoff = 10ms;
      add_connection(fd, ss, *l);
      continue;
    }
    int err = errno;
    switch (err) {
      case EAGAIN:
#if EWOULDBLOCK != EAGAIN
      case EWOULDBLOCK:
#endif
        green::wait_readable(l->fd);
        break;
      case EINTR:
      case ECONNABORTED:
      case EPROTO:
      case EPERM: break;
      case EMFILE:
      case ENFILE:
      case ENOBUFS:
      case ENOMEM:
        ++stats.accept_errors;
        ++emfile_failures;
        // One warning, not one per failed accept: the condition tends to come and go
        // as connections close, so later episodes within a minute stay quiet.
        if (!emfile_active) {
          emfile_active = true;
          auto now = TimePoint(Clock::now());
          if (!emfile_last_warning || now - *emfile_last_warning >= 60s) {
            emfile_last_warning = now;
            emfile_warned = true;
            Log::write(LogLevel::warning,
                       std::string("cannot accept on ") + l->name + ": " + std::strerror(err) +
                           "; pausing accepts until descriptors free up (raise `ulimit -n` "
                           "or lower --max-connections)");
          }
        }
        green::sleep(backoff);
        backoff = std::min<Duration>(backoff * 2, 500ms);
        break;
      default:
        ++stats.accept_errors;
        Log::write(LogLevel::error,
                   std::string("accept on ") + l->name + " failed: " + std::strerror(err));
        green::sleep(100ms);
        break;
    }
  }
}

}  // namespace grove::http
