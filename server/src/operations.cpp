// What the server answers itself, before the application: the health path, and the
// metrics listener's GET /metrics and GET /debug/green.
#include "server_impl.hpp"

#include <grove/green/introspect.hpp>

#include <charconv>

namespace grove::http {

namespace {

bool loopback_host(const std::string& host) {
  return host == "localhost" || host == "::1" || host.starts_with("127.");
}

// Worker k of --workers listens on the metrics port + k (port 0 stays 0: any free port).
void offset_port(detail::BindSpec& spec, int worker_index, std::string_view bind) {
  if (worker_index <= 0) return;
  if (spec.is_unix) {
    spec.path += "." + std::to_string(worker_index);
    return;
  }
  int port = 0;
  auto [end, ec] = std::from_chars(spec.port.data(), spec.port.data() + spec.port.size(), port);
  if (ec != std::errc() || end != spec.port.data() + spec.port.size())
    throw std::invalid_argument(
        "metrics bind '" + std::string(bind) +
        "': under --workers the port must be a number (worker k adds k to it)");
  if (port != 0) spec.port = std::to_string(port + worker_index);
}

}  // namespace

void Server::Impl::open_metrics_listener() {
  if (cfg.metrics_bind.empty()) return;
  for (const auto& l : listeners)
    if (l.metrics) return;
  detail::BindSpec spec = detail::parse_bind(cfg.metrics_bind);
  if (!spec.is_unix && !cfg.metrics_public && !loopback_host(spec.host))
    throw std::invalid_argument(
        "metrics bind '" + cfg.metrics_bind +
        "' is not a loopback address: the metrics listener shows the process's "
        "internals; bind 127.0.0.1 (scrape through a tunnel or a proxy), or make it "
        "public on purpose (--metrics-public, ServerConfig::metrics_public)");
  offset_port(spec, cfg.worker_index, cfg.metrics_bind);
  for (auto& l : detail::open_listeners(spec, 64, /*reuse_port=*/true)) {
    l.metrics = true;
    listeners.push_back(std::move(l));
  }
}

bool Server::Impl::answers_itself(const Connection* c, const Request& req) const {
  return c->metrics || (!cfg.health_path.empty() && req.path() == cfg.health_path);
}

Response Server::Impl::answer_itself(const Connection* c, const Request& req) {
  if (c->metrics) {
    if (req.path() == "/metrics")
      return Response(200, metrics_text(), "text/plain; version=0.0.4; charset=utf-8");
    if (req.path() == "/debug/green") {
      Response r(200, green::dump_green_threads(), "text/plain; charset=utf-8");
      r.headers.set("Cache-Control", "no-store");
      return r;
    }
    return Response(404, "this is the metrics listener: GET /metrics or GET /debug/green\n");
  }
  Response r = [&] {
    if (stopping_ || draining_) return Response(503, "draining\n");
    if (cfg.readiness) {
      try {
        if (!cfg.readiness()) return Response(503, "not ready\n");
      } catch (const green::GreenletExit&) {
        throw;
      } catch (...) {
        Log::write(LogLevel::warning,
                   "the readiness check failed: " + detail::describe_current_exception());
        return Response(503, "not ready\n");
      }
    }
    return Response(200, "ok\n");
  }();
  r.route = cfg.health_path;
  r.headers.set("Cache-Control", "no-store");
  return r;
}

std::string Server::Impl::metrics_text() const {
  MetricLabels common;
  if (cfg.worker_index >= 0) common.emplace_back("worker", std::to_string(cfg.worker_index));
  MetricsWriter w(std::move(common));
  if (request_metrics) request_metrics->write(w);
  w.gauge("grove_http_connections_open",
          "Connections open now (plain, TLS and WebSocket), the scrape's own included.",
          double(stats.open));
  w.gauge("grove_http_connections_active", "Open connections with a request in progress.",
          double(stats.active));
  std::size_t tls = 0, websocket = 0;
  for (const Connection* c = all_head; c; c = c->all_next) {
    tls += std::holds_alternative<detail::TlsTransport>(c->transport);
    websocket += c->upgraded != nullptr;
  }
  w.gauge("grove_http_tls_connections_open",
          "Open connections over TLS (of grove_http_connections_open).", double(tls));
  w.gauge("grove_http_websocket_connections_open",
          "Open WebSocket connections (upgraded, handler running; of grove_http_connections_open).",
          double(websocket));
  w.counter("grove_http_connections_accepted_total", "Connections accepted.",
            double(stats.accepted));
  w.gauge("grove_green_threads_alive", "Green threads of the server's hub that have not finished.",
          double(green::alive_count()));
  const green::RunQueueDelay delay = green::run_queue_delay();
  std::vector<std::pair<double, std::uint64_t>> cumulative;
  std::uint64_t running = 0;
  for (std::size_t i = 0; i < delay.kBounds.size(); ++i)
    cumulative.emplace_back(delay.kBounds[i], running += delay.buckets[i]);
  w.histogram("grove_green_run_queue_delay_seconds",
              "Time from a green thread of the server's hub becoming runnable to it running.",
              cumulative, delay.sum, delay.count);
  w.counter(
      "grove_green_blocking_reports_total",
      "Reports of the blocking detector (a green thread held its hub too long), process-wide.",
      double(green::blocking_reports()));
  collect_metrics(w);
  return w.text();
}

}  // namespace grove::http
