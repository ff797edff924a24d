// Pub/sub on a dedicated connection: SUBSCRIBE / PSUBSCRIBE, then messages one by one as an
// async stream. Publish from any other connection or pool (PUBLISH).
//
//   redis::Subscriber sub = co_await redis::Subscriber::connect("redis://127.0.0.1:6379");
//   co_await sub.subscribe("news");
//   co_await sub.psubscribe("user:*");
//   for (;;) {
//     redis::Message m = co_await sub.next_message();        // waits without blocking the loop
//     handle(m.channel, m.payload);                          // m.pattern: set for psubscribe
//   }
//
// The receive loop runs inside next_message() (and subscribe calls): messages that arrive
// while a subscribe call waits for its confirmation are queued, not lost. One call at a time
// (aio::InvalidStateError otherwise). After ConnectionError (a server restart) connect a new
// Subscriber and subscribe again: messages published meanwhile are gone (pub/sub keeps none).
#pragma once

#include <grove/redis/connection.hpp>

#include <deque>
#include <set>
#include <string_view>
#include <type_traits>

namespace grove::redis {

struct Message {
  std::string channel;
  std::string payload;
  std::string pattern;  // the PSUBSCRIBE pattern that matched; empty for SUBSCRIBE
};

class Subscriber {
 public:
  static aio::Task<Subscriber> connect(std::string url, ConnectionOptions options = {});

  Subscriber() = default;
  Subscriber(Subscriber&&) noexcept = default;
  Subscriber& operator=(Subscriber&&) noexcept = default;

  // Each returns once the server confirmed every name. subscribe("a", "b") is
  // subscribe(std::vector<std::string>{"a", "b"}) (braces inside co_await trip g++ 12).
  aio::Task<void> subscribe(std::vector<std::string> channels);
  aio::Task<void> psubscribe(std::vector<std::string> patterns);
  template <class... Names>
  requires(sizeof...(Names) > 0 && (std::is_convertible_v<const Names&, std::string_view> &&
                                    ...)) aio::Task<void> subscribe(const Names&... channels) {
    return subscribe(std::vector<std::string>{std::string(std::string_view(channels))...});
  }
  template <class... Names>
  requires(sizeof...(Names) > 0 && (std::is_convertible_v<const Names&, std::string_view> &&
                                    ...)) aio::Task<void> psubscribe(const Names&... patterns) {
    return psubscribe(std::vector<std::string>{std::string(std::string_view(patterns))...});
  }
  // Without names: every channel (pattern).
  aio::Task<void> unsubscribe(std::vector<std::string> channels = {});
  aio::Task<void> punsubscribe(std::vector<std::string> patterns = {});
  template <class... Names>
  requires(sizeof...(Names) > 0 && (std::is_convertible_v<const Names&, std::string_view> &&
                                    ...)) aio::Task<void> unsubscribe(const Names&... channels) {
    return unsubscribe(std::vector<std::string>{std::string(std::string_view(channels))...});
  }

  // The next message (queued ones first). Timeout after `timeout`, and the subscriber stays
  // usable; ConnectionError when the connection is lost.
  aio::Task<Message> next_message(Duration timeout = aio::forever);

  // Channels and patterns subscribed now.
  std::size_t subscriptions() const noexcept { return channels_.size() + patterns_.size(); }
  bool broken() const noexcept { return conn_.broken(); }

 private:
  explicit Subscriber(Connection conn) noexcept : conn_(std::move(conn)) {}
  aio::Task<void> change(const char* verb, std::vector<std::string> names);
  // Reads one reply: queues a message, or records a confirmation; returns its kind.
  aio::Task<std::string> receive(TimePoint deadline);

  Connection conn_;
  std::deque<Message> queued_;
  std::set<std::string> channels_, patterns_;
};

}  // namespace grove::redis
