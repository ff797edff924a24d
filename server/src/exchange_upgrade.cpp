// Upgrades served in memory (grove/http/exchange.hpp): the application's call as in
// exchange(), the 101 head as the server writes it, then the upgrade on a green thread of
// its own over a pair of in-memory pipes, the way the server lends a connection
// (upgrade.cpp). The test client's WebSocket is the other end.
#include <grove/green.hpp>
#include <grove/http/exchange.hpp>

#include "server_impl.hpp"

#include <algorithm>
#include <cstring>

namespace grove::http {

namespace {

using SteadyTime = std::chrono::steady_clock::time_point;

// One direction's bytes, and a flag for the reader that waits on them.
struct Pipe {
  std::string bytes;
  bool ended = false;
  green::Event ready;

  void put(std::string_view b) {
    if (ended) return;
    bytes.append(b);
    ready.set();
  }
  void end() {
    ended = true;
    ready.set();
  }
  // Waits until there are bytes, the end, or the deadline; false at the deadline.
  bool wait(SteadyTime deadline) {
    while (bytes.empty() && !ended) {
      auto now = std::chrono::steady_clock::now();
      if (now >= deadline) return false;
      ready.clear();
      ready.wait(std::chrono::duration_cast<Duration>(deadline - now));
    }
    return true;
  }
};

// The handler's side: what the server's UpgradedConnection is over a socket.
class MemoryStream final : public UpgradedStream {
 public:
  MemoryStream(Pipe& in, Pipe& out, const ExchangeOptions& options)
      : in_(in), out_(out), settings_(options.websocket), peer_(options.remote_addr) {}

  ReadResult read(char* buf, std::size_t n, SteadyTime deadline) override {
    if (!in_.wait(deadline)) return {ReadStatus::timeout};
    if (in_.bytes.empty()) return {ReadStatus::end};
    std::size_t k = std::min(n, in_.bytes.size());
    std::memcpy(buf, in_.bytes.data(), k);
    in_.bytes.erase(0, k);
    return {ReadStatus::data, k};
  }
  // After the client closed its side, as on a socket it has closed: the write fails.
  void write(std::string_view bytes) override {
    if (in_.ended) throw std::runtime_error("the client closed the connection");
    out_.put(bytes);
  }
  const WebSocketSettings& websocket_settings() const noexcept override { return settings_; }
  const std::string& peer() const noexcept override { return peer_; }

 private:
  Pipe& in_;
  Pipe& out_;
  WebSocketSettings settings_;
  std::string peer_;
};

class MemoryUpgrade final : public UpgradeExchange {
 public:
  MemoryUpgrade(Request req, const ExchangeOptions& options)
      : req_(std::move(req)), options_(options), stream_(to_server_, to_client_, options_) {}

  ~MemoryUpgrade() override {
    if (!handler_ || handler_.dead()) return;
    close_write();
    // A handler reading sees the end at once; one busy elsewhere gets the close timeout.
    if (!handler_.wait(std::chrono::duration_cast<Duration>(options_.websocket.close_timeout)))
      handler_.kill();
  }

  void serve(const Application& app) {
    using namespace detail;
    bool failed = false;
    Response resp = run_application(app, req_, options_.remote_addr, failed);
    const HeadDefaults d{options_.server_header, http_date()};
    if (resp.status != 101 || !resp.upgrade) {
      write_last_in_memory(response_, resp, req_, d);
      to_client_.end();
      return;
    }
    write_upgrade_head(response_, resp, d);
    upgraded_ = true;
    handler_ = green::spawn([this, run = std::move(resp.upgrade)]() mutable {
      struct Closes {
        Pipe& out;
        ~Closes() { out.end(); }  // the server closes the connection when the handler returns
      } closes{to_client_};
      try {
        run(stream_);
      } catch (const green::GreenletExit&) {
        throw;
      } catch (...) {
        Log::write(LogLevel::error, "upgrade handler for " + std::string(req_.target()) +
                                        " (in memory) failed: " + describe_current_exception());
      }
    });
    handler_.set_name("upgrade " + std::string(req_.target()));
  }

  const std::string& response() const noexcept override { return response_; }
  bool upgraded() const noexcept override { return upgraded_; }
  void write(std::string_view bytes) override { to_server_.put(bytes); }
  void close_write() override { to_server_.end(); }

  std::string read(SteadyTime deadline) override {
    to_client_.wait(deadline);
    return std::exchange(to_client_.bytes, {});
  }
  bool finished() const noexcept override { return to_client_.ended; }
  bool wait_finished(SteadyTime deadline) override {
    if (!handler_) return true;
    auto now = std::chrono::steady_clock::now();
    return handler_.wait(std::chrono::duration_cast<Duration>(
        std::max(deadline - now, SteadyTime::duration::zero())));
  }

 private:
  Request req_;
  ExchangeOptions options_;
  Pipe to_server_, to_client_;
  MemoryStream stream_;
  std::string response_;
  bool upgraded_ = false;
  green::Greenlet handler_;
};

}  // namespace

std::unique_ptr<UpgradeExchange> exchange_upgrade(const Application& app, Request req,
                                                  const ExchangeOptions& options) {
  auto up = std::make_unique<MemoryUpgrade>(std::move(req), options);
  up->serve(app);
  return up;
}

}  // namespace grove::http
