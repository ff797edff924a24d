// The server's request figures: counts by route and status, and a latency histogram per
// route. Touched only on the server's hub thread, so nothing here locks.
#pragma once

#include <grove/http/metrics.hpp>

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace grove::http::detail {

class RequestMetrics {
 public:
  // Upper bounds in seconds, Prometheus's defaults with finer steps below 5 ms (a grove
  // request on loopback takes tens of microseconds).
  static constexpr std::array<double, 14> kBuckets = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

  // A response the application gave, `seconds` after its head was read.
  void record(std::string_view route, int status, double seconds);
  // A request the server refused itself (4xx from the parser or the limits): no latency.
  void count_refused(int status) { ++route_of("").by_status[status]; }

  void write(MetricsWriter& w) const;

 private:
  struct Route {
    std::map<int, std::uint64_t> by_status;
    std::array<std::uint64_t, kBuckets.size()> buckets{};  // per bucket, not cumulative
    double sum = 0;
    std::uint64_t count = 0;
  };
  Route& route_of(std::string_view route);
  std::map<std::string, Route, std::less<>> routes_;
};

}  // namespace grove::http::detail
