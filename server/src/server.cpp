// grove::http::Server, the public face: listening, starting, serving, stopping. The work is
// in Server::Impl (server_impl.hpp), one file per concept.
#include "server_impl.hpp"

#include <grove/green/introspect.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <mutex>

namespace grove::http {

// --- Server -------------------------------------------------------------------------------------

Server::Server(Application app, ServerConfig config)
    : impl_(std::make_unique<Impl>(std::move(app), std::move(config))) {
  if (impl_->cfg.max_connections == 0)
    throw std::invalid_argument("max_connections must be at least 1");
  if (impl_->cfg.metrics || !impl_->cfg.metrics_bind.empty()) {
    impl_->request_metrics = std::make_unique<detail::RequestMetrics>();
    green::enable_run_queue_timing(true);  // grove_green_run_queue_delay_seconds
  }
}

Server::~Server() {
  for (auto& l : impl_->listeners) {
    if (l.fd >= 0) {
      ::close(l.fd);
      if (!l.unix_path.empty()) ::unlink(l.unix_path.c_str());
    }
  }
  Connection* c = impl_->all_head;
  while (c) {
    Connection* next = c->all_next;
    c->watcher.close();
    delete c;  // its transport closes the socket
    c = next;
  }
}

void Server::listen() {
  Impl& s = *impl_;
  if (s.listening) return;
  std::vector<Listener> opened;
  try {
    for (std::string_view spec : s.cfg.binds) {
      const bool tls = spec.starts_with("https://");
      if (tls) spec.remove_prefix(8);
      if (tls && !s.cfg.tls)
        throw std::invalid_argument(
            "bind https://" + std::string(spec) +
            " needs a TLS configuration (ServerConfig::tls; --certfile and --keyfile)");
      auto ls = detail::open_listeners(detail::parse_bind(spec), s.cfg.backlog);
      for (auto& l : ls) {
        l.tls = tls;
        if (tls) l.name = "https://" + l.name;
        opened.push_back(std::move(l));
      }
    }
  } catch (...) {
    for (auto& l : opened) {
      ::close(l.fd);
      if (!l.unix_path.empty()) ::unlink(l.unix_path.c_str());
    }
    throw;
  }
  if (!s.cfg.tls_listen_fds.empty() && !s.cfg.tls)
    throw std::invalid_argument("tls_listen_fds need a TLS configuration (ServerConfig::tls)");
  for (const auto* fds : {&s.cfg.listen_fds, &s.cfg.tls_listen_fds}) {
    const bool tls = fds == &s.cfg.tls_listen_fds;
    for (int fd : *fds) {
      int flags = ::fcntl(fd, F_GETFL);
      if (flags < 0)
        throw std::system_error(errno, std::generic_category(), "listen fd " + std::to_string(fd));
      ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
      Listener l;
      l.fd = fd;
      l.tls = tls;
      l.name = (tls ? "https://" : "") + detail::socket_name(fd);
      opened.push_back(std::move(l));
    }
  }
  s.listeners = std::move(opened);
  s.listening = true;
}

std::vector<std::string> Server::addresses() const {
  std::vector<std::string> out;
  for (const auto& l : impl_->listeners)
    if (!l.metrics) out.push_back(l.name);
  return out;
}

// The metrics listener is left out: it is each process's own, never handed to workers.
std::vector<int> Server::listen_fds() const {
  std::vector<int> out;
  for (const auto& l : impl_->listeners)
    if (!l.metrics) out.push_back(l.fd);
  return out;
}

std::vector<int> Server::tls_listen_fds() const {
  std::vector<int> out;
  for (const auto& l : impl_->listeners)
    if (l.tls) out.push_back(l.fd);
  return out;
}

void Server::start() {
  Impl& s = *impl_;
  if (s.started) return;
  listen();
  s.open_metrics_listener();
  s.loop = &green::hub_loop();
  s.started = true;
  {
    std::lock_guard lock(s.remote_mu);
    s.remote_ok = true;
  }
  for (auto& l : s.listeners) {
    green::SpawnOptions options;
    options.name = "accept " + l.name;
    Listener* lp = &l;
    l.loop = green::spawn(std::move(options), [&s, lp] { s.accept_loop(lp); });
  }
  s.sweep_timer = s.loop->call_every(s.sweep_interval(), [&s] { s.sweep(); });
  s.sweep_timer.unref();
  s.flush_timer = s.loop->call_every(1s, [] { Log::flush(); });
  s.flush_timer.unref();
}

void Server::serve_forever() {
  Impl& s = *impl_;
  start();
  if (s.cfg.handle_signals) {
    auto on_signal = [&s](int signum) {
      if (!s.stopping_) {
        Log::write(LogLevel::info, std::string("received ") +
                                       (signum == SIGTERM ? "SIGTERM" : "SIGINT") +
                                       ": stopping gracefully");
        s.begin_stop(std::nullopt);
      } else {
        Log::write(LogLevel::info, "second signal: closing every connection now");
        s.begin_stop(Duration::zero());
      }
    };
    s.sigterm = s.loop->watch_signal(SIGTERM, on_signal);
    s.sigint = s.loop->watch_signal(SIGINT, on_signal);
    s.sigterm.unref();
    s.sigint.unref();
    // SIGUSR1: the green-thread dump on stderr (Go's SIGQUIT dump, without the exit).
    s.sigusr1 = s.loop->watch_signal(SIGUSR1, [](int) {
      Log::flush();
      std::string dump = green::dump_green_threads();
      std::fwrite(dump.data(), 1, dump.size(), stderr);
      std::fflush(stderr);
    });
    s.sigusr1.unref();
    {
      // A pre-forked worker starts with SIGUSR1 blocked (see SIGHUP below).
      sigset_t usr1;
      sigemptyset(&usr1);
      sigaddset(&usr1, SIGUSR1);
      ::pthread_sigmask(SIG_UNBLOCK, &usr1, nullptr);
    }
    if (s.cfg.tls) {
      s.sighup = s.loop->watch_signal(SIGHUP, [this](int) {
        Log::write(LogLevel::info, "received SIGHUP: reloading the TLS certificates");
        reload_tls();
      });
      s.sighup.unref();
      // A pre-forked worker starts with SIGHUP blocked so that one sent early waits for
      // this watcher: delivered now if pending.
      sigset_t hup;
      sigemptyset(&hup);
      sigaddset(&hup, SIGHUP);
      ::pthread_sigmask(SIG_UNBLOCK, &hup, nullptr);
    }
  }
  s.done.wait();
  s.sigterm.close();
  s.sigint.close();
  s.sighup.close();
  s.sigusr1.close();
  s.release_loop_handles();
}

bool Server::reload_tls() {
  Impl& s = *impl_;
  if (!s.cfg.tls)
    throw std::logic_error(
        "Server::reload_tls(): this server has no TLS context; set ServerConfig::tls");
  try {
    s.cfg.tls->reload();
  } catch (const TlsError& e) {
    Log::write(LogLevel::error,
               std::string("TLS reload failed; the old certificates keep serving: ") + e.what());
    return false;
  }
  Log::write(LogLevel::info, "TLS certificates reloaded: new handshakes use them");
  return true;
}

void Server::stop(std::optional<Duration> timeout) {
  Impl& s = *impl_;
  if (!s.started) {
    s.stopped_ = true;
    return;
  }
  s.begin_stop(timeout);
  if (!green::in_hub()) {
    s.done.wait();
    s.release_loop_handles();
  }
}

void Server::stop_threadsafe(std::optional<Duration> timeout) {
  Impl* s = impl_.get();
  std::lock_guard lock(s->remote_mu);
  if (!s->remote_ok) return;
  s->loop->call_soon_threadsafe([s, timeout] { s->begin_stop(timeout); });
}

void Server::keep_socket_files() noexcept {
  for (auto& l : impl_->listeners) l.unix_path.clear();
}

bool Server::stopping() const noexcept { return impl_->stopping_; }
bool Server::stopped() const noexcept { return impl_->stopped_; }
ServerStats Server::stats() const { return impl_->stats; }
std::string Server::metrics_text() const { return impl_->metrics_text(); }
std::string Server::metrics_address() const {
  for (const auto& l : impl_->listeners)
    if (l.metrics) return l.name;
  return {};
}
const ServerConfig& Server::config() const noexcept { return impl_->cfg; }

}  // namespace grove::http
