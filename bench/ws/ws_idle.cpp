// grove-wsload --mode idle: resident memory per idle WebSocket. Opens N connections one
// after another, each upgraded and used once (one echo), so every connection has done
// what a real one does and sits idle; then the growth of the server's VmRSS over N. A
// warm-up connection comes first, so lazily created state is in the "before" figure (as
// bench/http/idle_conns.py does for HTTP). Afterwards a sample of the connections echoes
// again, which proves they were still open.
#include "ws_load.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

namespace wsload {

namespace {

bool echo_once(int fd, std::string& in, const std::string& frame) {
  write_all(fd, frame);
  return read_frame(fd, in);
}

}  // namespace

int run_idle(const Options& o) {
  const std::string frame = client_frame(std::string(o.size, 'x'));
  const std::vector<int> pids = parse_pids(o.pids);
  Upgraded warm = open_upgraded(o.target);
  if (!echo_once(warm.fd, warm.rest, frame)) die("the warm-up connection got no echo");
  std::this_thread::sleep_for(std::chrono::duration<double>(o.settle));
  const long before = rss_kib(pids);
  std::vector<Upgraded> conns;
  conns.reserve(std::size_t(o.connections));
  int failed = 0, deflated = 0;
  for (int i = 0; i < o.connections; ++i) {
    Upgraded u = open_upgraded(o.target);
    if (!echo_once(u.fd, u.rest, frame)) ++failed;
    deflated += u.deflate;
    conns.push_back(std::move(u));
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(o.settle));
  const long after = rss_kib(pids);
  int alive = 0, sampled = 0;
  const std::size_t step = std::max<std::size_t>(1, conns.size() / 100);
  for (std::size_t i = 0; i < conns.size(); i += step, ++sampled)
    alive += echo_once(conns[i].fd, conns[i].rest, frame);
  for (auto& c : conns) ::close(c.fd);
  ::close(warm.fd);
  std::printf(
      "{\"connections\": %d, \"failed\": %d, \"deflate\": %d, \"rss_before_kib\": %ld, "
      "\"rss_after_kib\": %ld, \"per_connection_bytes\": %.0f, \"alive_sampled\": \"%d/%d\"}\n",
      o.connections, failed, deflated, before, after,
      double(after - before) * 1024.0 / double(std::max(1, o.connections)), alive, sampled);
  return 0;
}

}  // namespace wsload
