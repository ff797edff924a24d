// grove::web::Hub: fan-out of WebSocket messages to rooms of connections (issue 15's
// broadcast helper).
//
// Promises: publish() never blocks and never waits for a client. Each member has a queue
// and a green thread of its own that sends from it, so a slow client delays only its own
// messages: its queue holds at most `max_pending` of them, and what comes past that is
// dropped for that member alone (counted in dropped()). A member whose connection closed
// or broke gets nothing more. Leaving (the Membership going away, typically when the
// handler returns) stops its sender.
//
//   web::Hub chat;   // lives as long as the app; used from the server's green threads
//   app.websocket("/ws/chat/<room>", [&chat](grove::http::ws::WebSocket& ws) {
//     std::string room = web::request().view_args()["room"];
//     auto member = chat.join(room, ws);
//     while (auto msg = ws.receive()) chat.publish(room, msg->data);
//   });
//
// A Hub belongs to the OS thread that first uses it (a server worker's hub): joining or
// publishing from another thread is a std::logic_error. Several worker processes each have
// their own Hub; fan-out across them needs a broker (Redis pub/sub, grove::redis).
#pragma once

#include <grove/http/websocket.hpp>

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

namespace grove::web {

class Hub {
 public:
  struct Member;

  // Membership of one connection in one room; leaves the room when destroyed.
  class Membership {
   public:
    Membership() = default;
    Membership(Membership&&) noexcept = default;
    Membership& operator=(Membership&&) noexcept;
    ~Membership();
    void leave();
    // Messages dropped for this member because its queue was full.
    std::uint64_t dropped() const noexcept;

   private:
    friend class Hub;
    explicit Membership(std::shared_ptr<Member> m) : member_(std::move(m)) {}
    std::shared_ptr<Member> member_;
  };

  Hub() = default;
  ~Hub();
  Hub(const Hub&) = delete;
  Hub& operator=(const Hub&) = delete;

  // Adds `ws` to `room` until the returned Membership is destroyed (before `ws` is; the Hub
  // may go first).
  Membership join(std::string room, grove::http::ws::WebSocket& ws, std::size_t max_pending = 256);
  // Queues a text message (binary: send_binary semantics) for every member of `room`;
  // returns how many members it was queued for.
  std::size_t publish(std::string_view room, std::string text, bool binary = false);
  // Members of `room` now.
  std::size_t size(std::string_view room) const;
  // Messages dropped for full queues, over every member there has been.
  std::uint64_t dropped() const noexcept { return dropped_; }

 private:
  void check_thread();
  void remove(const std::shared_ptr<Member>& m);

  std::map<std::string, std::map<Member*, std::shared_ptr<Member>>, std::less<>> rooms_;
  std::thread::id owner_;
  std::uint64_t dropped_ = 0;
};

}  // namespace grove::web
