// Prometheus metrics: the text exposition format (version 0.0.4), written by hand.
//
// The server records its own figures (requests by route and status, latency histograms,
// connections) when metrics are on (ServerConfig::metrics_bind, or ServerConfig::metrics)
// and serves them on the metrics listener's GET /metrics (Server::metrics_text() gives the
// same text). Other layers add theirs with a collector, called at every scrape:
//
//   auto id = grove::http::add_metrics_collector([&pool](grove::http::MetricsWriter& w) {
//     w.gauge("grove_redis_pool_connections", "Open connections of the Redis pool.",
//             double(pool.size()), {{"pool", "sessions"}});
//   });
//   ...
//   grove::http::remove_metrics_collector(id);   // before `pool` goes
//
// Collectors are process-wide (every Server of the process shows them) and called on the
// scraping server's thread; registering and removing are thread-safe. Names and label names
// must match [a-zA-Z_:][a-zA-Z0-9_:]* (std::invalid_argument otherwise); label values are
// escaped. A family's # HELP and # TYPE lines are written once, before its first sample, so
// a collector writes all samples of one family together.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace grove::http {

using MetricLabels = std::vector<std::pair<std::string, std::string>>;

class MetricsWriter {
 public:
  // Labels every sample gets first (worker="2" under --workers).
  explicit MetricsWriter(MetricLabels common = {}) : common_(std::move(common)) {}

  void counter(std::string_view name, std::string_view help, double value,
               const MetricLabels& labels = {});
  void gauge(std::string_view name, std::string_view help, double value,
             const MetricLabels& labels = {});
  // A histogram's samples: `buckets` are (upper bound, cumulative count) in ascending order;
  // the +Inf bucket is written from `count`.
  void histogram(std::string_view name, std::string_view help,
                 const std::vector<std::pair<double, std::uint64_t>>& buckets, double sum,
                 std::uint64_t count, const MetricLabels& labels = {});

  const std::string& text() const noexcept { return out_; }

 private:
  void family(std::string_view name, std::string_view help, std::string_view type);
  void sample(std::string_view name, std::string_view suffix, const MetricLabels& labels,
              const std::pair<std::string, std::string>* extra, double value);
  MetricLabels common_;
  std::string out_;
  std::string last_family_;
};

using MetricsCollector = std::function<void(MetricsWriter&)>;
std::uint64_t add_metrics_collector(MetricsCollector collector);
void remove_metrics_collector(std::uint64_t id);
// Writes every registered pool's figures, then calls every collector (in the order added).
void collect_metrics(MetricsWriter& w);

// Connection pools (grove::pg::Pool, grove::redis::Pool, or any with the same figures),
// exported as grove_pool_* families labelled {client="pg", pool="orders"}:
//
//   auto pool = std::make_shared<grove::pg::Pool>(options);
//   auto id = grove::http::add_pool_metrics("pg", "orders", pool);   // keeps `pool` alive
//   ...
//   grove::http::remove_pool_metrics(id);
//
// The figures are read at each scrape on the scraping server's thread: register pools used
// on that thread (the server's hub; under --workers, each worker's own).
struct PoolFigures {
  std::size_t max_size = 0, lent = 0, idle = 0, discarded = 0;
  std::uint64_t waits = 0;  // acquires that waited for a free slot
  double wait_seconds = 0;  // their total wait
  std::uint64_t timeouts = 0;
};
std::uint64_t add_pool_metrics(std::string client, std::string pool,
                               std::function<PoolFigures()> figures);
template <class Pool>
std::uint64_t add_pool_metrics(std::string client, std::string name, std::shared_ptr<Pool> pool) {
  return add_pool_metrics(std::move(client), std::move(name), [pool = std::move(pool)] {
    auto s = pool->stats();
    return PoolFigures{s.max_size, s.lent,         s.idle,    s.discarded,
                       s.waits,    s.wait_seconds, s.timeouts};
  });
}
void remove_pool_metrics(std::uint64_t id);

}  // namespace grove::http
