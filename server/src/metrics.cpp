// Prometheus text exposition (format 0.0.4), the process's collectors, and the server's
// request figures.
#include "request_metrics.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <mutex>
#include <stdexcept>

namespace grove::http {

namespace {

bool valid_name(std::string_view name, bool label) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
              (!label && c == ':') || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

void check_name(std::string_view name, bool label) {
  if (!valid_name(name, label))
    throw std::invalid_argument("grove::http metrics: \"" + std::string(name) +
                                "\" is not a valid " + (label ? "label" : "metric") +
                                " name ([a-zA-Z_" + (label ? "" : ":") + "][a-zA-Z0-9_" +
                                (label ? "" : ":") + "]*)");
}

// Label values escape backslash, double quote and newline; HELP text backslash and newline.
void append_escaped(std::string& out, std::string_view text, bool quote) {
  for (char c : text) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else if (quote && c == '"') out += "\\\"";
    else out += c;
  }
}

void append_number(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
    return;
  }
  if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
    return;
  }
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

struct Collectors {
  std::mutex mu;
  std::uint64_t next = 1;
  std::vector<std::pair<std::uint64_t, MetricsCollector>> list;
};
Collectors& collectors() {
  static Collectors c;
  return c;
}

struct PoolEntry {
  std::uint64_t id;
  std::string client, pool;
  std::function<PoolFigures()> figures;
};
struct Pools {
  std::mutex mu;
  std::uint64_t next = 1;
  std::vector<PoolEntry> list;
};
Pools& pools() {
  static Pools p;
  return p;
}

// Family by family across every pool: the text format wants each family's samples together.
void write_pools(MetricsWriter& w) {
  Pools& p = pools();
  std::lock_guard lock(p.mu);
  if (p.list.empty()) return;
  std::vector<PoolFigures> figures;
  for (auto& e : p.list) figures.push_back(e.figures());
  auto labels = [&](std::size_t i) {
    return MetricLabels{{"client", p.list[i].client}, {"pool", p.list[i].pool}};
  };
  for (std::size_t i = 0; i < figures.size(); ++i) {
    MetricLabels l = labels(i);
    l.emplace_back("state", "lent");
    w.gauge("grove_pool_connections", "Open connections of a pool, lent or idle.",
            double(figures[i].lent), l);
    l.back().second = "idle";
    w.gauge("grove_pool_connections", "", double(figures[i].idle), l);
  }
  auto each = [&](auto write) {
    for (std::size_t i = 0; i < figures.size(); ++i) write(figures[i], labels(i));
  };
  each([&](const PoolFigures& f, const MetricLabels& l) {
    w.gauge("grove_pool_max_size", "Connections a pool may open.", double(f.max_size), l);
  });
  each([&](const PoolFigures& f, const MetricLabels& l) {
    w.counter("grove_pool_waits_total",
              "Acquires that found every connection of the pool taken and waited.", double(f.waits),
              l);
  });
  each([&](const PoolFigures& f, const MetricLabels& l) {
    w.counter("grove_pool_wait_seconds_total", "Time acquires spent waiting for a free connection.",
              f.wait_seconds, l);
  });
  each([&](const PoolFigures& f, const MetricLabels& l) {
    w.counter("grove_pool_timeouts_total", "Acquires that gave up (PoolTimeout).",
              double(f.timeouts), l);
  });
  each([&](const PoolFigures& f, const MetricLabels& l) {
    w.counter("grove_pool_discarded_total",
              "Connections dropped as broken or failing the checkout check.", double(f.discarded),
              l);
  });
}

}  // namespace

// --- MetricsWriter ---------------------------------------------------------------------------

void MetricsWriter::family(std::string_view name, std::string_view help, std::string_view type) {
  check_name(name, false);
  if (name == last_family_) return;
  last_family_ = std::string(name);
  out_ += "# HELP ";
  out_ += name;
  out_ += ' ';
  append_escaped(out_, help, false);
  out_ += "\n# TYPE ";
  out_ += name;
  out_ += ' ';
  out_ += type;
  out_ += '\n';
}

void MetricsWriter::sample(std::string_view name, std::string_view suffix,
                           const MetricLabels& labels,
                           const std::pair<std::string, std::string>* extra, double value) {
  out_ += name;
  out_ += suffix;
  bool first = true;
  auto label = [&](const std::pair<std::string, std::string>& l) {
    check_name(l.first, true);
    out_ += first ? '{' : ',';
    first = false;
    out_ += l.first;
    out_ += "=\"";
    append_escaped(out_, l.second, true);
    out_ += '"';
  };
  for (const auto& l : common_) label(l);
  for (const auto& l : labels) label(l);
  if (extra) label(*extra);
  if (!first) out_ += '}';
  out_ += ' ';
  append_number(out_, value);
  out_ += '\n';
}

void MetricsWriter::counter(std::string_view name, std::string_view help, double value,
                            const MetricLabels& labels) {
  family(name, help, "counter");
  sample(name, "", labels, nullptr, value);
}

void MetricsWriter::gauge(std::string_view name, std::string_view help, double value,
                          const MetricLabels& labels) {
  family(name, help, "gauge");
  sample(name, "", labels, nullptr, value);
}

void MetricsWriter::histogram(std::string_view name, std::string_view help,
                              const std::vector<std::pair<double, std::uint64_t>>& buckets,
                              double sum, std::uint64_t count, const MetricLabels& labels) {
  family(name, help, "histogram");
  std::string le;
  for (const auto& [bound, n] : buckets) {
    le.clear();
    append_number(le, bound);
    std::pair<std::string, std::string> extra{"le", le};
    sample(name, "_bucket", labels, &extra, double(n));
  }
  std::pair<std::string, std::string> inf{"le", "+Inf"};
  sample(name, "_bucket", labels, &inf, double(count));
  sample(name, "_sum", labels, nullptr, sum);
  sample(name, "_count", labels, nullptr, double(count));
}

// --- collectors ------------------------------------------------------------------------------

std::uint64_t add_metrics_collector(MetricsCollector collector) {
  Collectors& c = collectors();
  std::lock_guard lock(c.mu);
  c.list.emplace_back(c.next, std::move(collector));
  return c.next++;
}

void remove_metrics_collector(std::uint64_t id) {
  Collectors& c = collectors();
  std::lock_guard lock(c.mu);
  std::erase_if(c.list, [id](const auto& e) { return e.first == id; });
}

std::uint64_t add_pool_metrics(std::string client, std::string pool,
                               std::function<PoolFigures()> figures) {
  if (!figures)
    throw std::invalid_argument(
        "grove::http::add_pool_metrics: pass a function giving the figures");
  Pools& p = pools();
  std::lock_guard lock(p.mu);
  p.list.push_back({p.next, std::move(client), std::move(pool), std::move(figures)});
  return p.next++;
}

void remove_pool_metrics(std::uint64_t id) {
  Pools& p = pools();
  std::lock_guard lock(p.mu);
  std::erase_if(p.list, [id](const PoolEntry& e) { return e.id == id; });
}

void collect_metrics(MetricsWriter& w) {
  write_pools(w);
  Collectors& c = collectors();
  std::lock_guard lock(c.mu);
  for (auto& [id, fn] : c.list) fn(w);
}

// --- the server's request figures ----------------------------------------------------------

namespace detail {

RequestMetrics::Route& RequestMetrics::route_of(std::string_view route) {
  auto it = routes_.find(route);
  if (it == routes_.end()) it = routes_.emplace(std::string(route), Route{}).first;
  return it->second;
}

void RequestMetrics::record(std::string_view route, int status, double seconds) {
  Route& r = route_of(route);
  ++r.by_status[status];
  auto bucket = std::lower_bound(kBuckets.begin(), kBuckets.end(), seconds);
  if (bucket != kBuckets.end()) ++r.buckets[std::size_t(bucket - kBuckets.begin())];
  r.sum += seconds;
  ++r.count;
}

void RequestMetrics::write(MetricsWriter& w) const {
  for (const auto& [route, r] : routes_)
    for (const auto& [status, n] : r.by_status)
      w.counter("grove_http_requests_total", "HTTP requests answered, by route and status.",
                double(n), {{"route", route}, {"status", std::to_string(status)}});
  std::vector<std::pair<double, std::uint64_t>> cumulative(kBuckets.size());
  for (const auto& [route, r] : routes_) {
    if (r.count == 0) continue;  // refused requests only: no latency
    std::uint64_t running = 0;
    for (std::size_t i = 0; i < kBuckets.size(); ++i)
      cumulative[i] = {kBuckets[i], running += r.buckets[i]};
    w.histogram("grove_http_request_duration_seconds",
                "Time from a request's head to its response written, by route.", cumulative, r.sum,
                r.count, {{"route", route}});
  }
}

}  // namespace detail

}  // namespace grove::http
