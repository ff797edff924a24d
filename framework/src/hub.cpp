// web::Hub (grove/web/hub.hpp): rooms of WebSocket connections, each member with a queue
// and a sender green thread of its own, so publishing never waits for a client.
#include <grove/green.hpp>
#include <grove/web/hub.hpp>

#include <deque>
#include <stdexcept>
#include <utility>

namespace grove::web {

namespace ws = grove::http::ws;

struct Hub::Member {
  Hub* hub;  // null once the Hub is gone
  std::string room;
  ws::WebSocket* socket;
  std::size_t max_pending;
  std::deque<ws::Message> queue;
  green::Event ready;  // set when the queue gains a message or the member stops
  green::Greenlet sender;
  bool stopped = false;  // left, or the connection closed: send nothing more
  bool sending = false;  // the sender is inside WebSocket::send
  std::uint64_t dropped = 0;
};

namespace {

void send_loop(Hub::Member* m) {
  for (;;) {
    while (m->queue.empty() && !m->stopped) {
      m->ready.clear();
      m->ready.wait();
    }
    if (m->stopped) return;
    ws::Message msg = std::move(m->queue.front());
    m->queue.pop_front();
    m->sending = true;
    try {
      m->socket->send(msg);
    } catch (const ws::ConnectionClosed&) {
      m->stopped = true;  // the handler sees the close in its own receive()
      m->queue.clear();
    }
    m->sending = false;
  }
}

// Stops the member's sender: an idle one returns at once; one stuck sending to a slow
// client is killed (its connection is being given up anyway).
void stop_sender(Hub::Member& m) {
  m.stopped = true;
  m.queue.clear();
  m.ready.set();
  if (!m.sender || m.sender.dead() || m.sender == green::current()) return;
  if (m.sending) m.sender.kill();
  else m.sender.join();
}

}  // namespace

Hub::~Hub() {
  for (auto& [name, members] : rooms_)
    for (auto& [raw, m] : members) m->hub = nullptr;
}

void Hub::check_thread() {
  if (owner_ == std::thread::id{}) owner_ = std::this_thread::get_id();
  if (owner_ != std::this_thread::get_id())
    throw std::logic_error(
        "web::Hub used from a second OS thread: a Hub belongs to the thread (the server "
        "worker's hub) that first used it; give each thread its own, or fan out across them "
        "through a broker such as Redis pub/sub");
}

Hub::Membership Hub::join(std::string room, ws::WebSocket& socket, std::size_t max_pending) {
  check_thread();
  if (max_pending == 0)
    throw std::invalid_argument("web::Hub::join: max_pending must be at least 1");
  auto m = std::make_shared<Member>();
  m->hub = this;
  m->room = std::move(room);
  m->socket = &socket;
  m->max_pending = max_pending;
  // The sender shares the Member (a green thread drops its function when it ends, which
  // breaks the cycle through m->sender).
  m->sender = green::spawn([m] { send_loop(m.get()); });
  rooms_[m->room].emplace(m.get(), m);
  return Membership(std::move(m));
}

std::size_t Hub::publish(std::string_view room, std::string text, bool binary) {
  check_thread();
  auto it = rooms_.find(room);
  if (it == rooms_.end()) return 0;
  std::size_t queued = 0;
  for (auto& [raw, m] : it->second) {
    if (m->stopped) continue;
    if (m->queue.size() >= m->max_pending) {
      ++m->dropped;
      ++dropped_;
      continue;
    }
    m->queue.push_back(ws::Message{text, binary});
    m->ready.set();
    ++queued;
  }
  return queued;
}

std::size_t Hub::size(std::string_view room) const {
  auto it = rooms_.find(room);
  return it == rooms_.end() ? 0 : it->second.size();
}

void Hub::remove(const std::shared_ptr<Member>& m) {
  auto it = rooms_.find(m->room);
  if (it == rooms_.end()) return;
  it->second.erase(m.get());
  if (it->second.empty()) rooms_.erase(it);
}

Hub::Membership& Hub::Membership::operator=(Membership&& o) noexcept {
  if (this != &o) {
    leave();
    member_ = std::move(o.member_);
  }
  return *this;
}

Hub::Membership::~Membership() {
  try {
    leave();
  } catch (...) {
    // Unwinding a killed handler: no waiting here; the sender dies at its next switch.
    if (member_) member_->sender.kill(nullptr, /*block=*/false);
  }
}

void Hub::Membership::leave() {
  if (!member_) return;
  if (member_->hub) member_->hub->remove(member_);
  stop_sender(*member_);
  member_.reset();
}

std::uint64_t Hub::Membership::dropped() const noexcept { return member_ ? member_->dropped : 0; }

}  // namespace grove::web
