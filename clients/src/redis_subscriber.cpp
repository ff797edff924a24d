// grove::redis::Subscriber: a connection that only sends (P)(UN)SUBSCRIBE and reads pushes
// (RESP3) or arrays (RESP2) of the forms [kind, channel, payload-or-count].
#include <grove/redis/subscriber.hpp>

#include "redis_state.hpp"

namespace grove::redis {

aio::Task<Subscriber> Subscriber::connect(std::string url, ConnectionOptions options) {
  co_return Subscriber(co_await Connection::connect(std::move(url), options));
}

aio::Task<std::string> Subscriber::receive(TimePoint deadline) {
  Connection::State& s = *conn_.state_;
  Reply r = co_await detail::read_reply(s, deadline);
  if (r.is_error()) throw ServerError(r.error());
  if (!r.is_aggregate() || r.elements().size() < 3) {
    s.broken = true;
    throw ProtocolError("grove::redis: a subscribed connection got " +
                        r.to_string().substr(0, 100) +
                        ", which is not a pub/sub message; the connection is discarded");
  }
  std::vector<Reply>& e = r.elements();
  std::string kind = e[0].as_string();
  if (kind == "message") {
    queued_.push_back(Message{e[1].as_string(), e[2].as_string(), {}});
  } else if (kind == "pmessage" && e.size() >= 4) {
    queued_.push_back(Message{e[2].as_string(), e[3].as_string(), e[1].as_string()});
  } else if (kind == "subscribe") {
    channels_.insert(e[1].as_string());
  } else if (kind == "psubscribe") {
    patterns_.insert(e[1].as_string());
  } else if (kind == "unsubscribe") {
    if (!e[1].is_nil()) channels_.erase(e[1].as_string());
  } else if (kind == "punsubscribe") {
    if (!e[1].is_nil()) patterns_.erase(e[1].as_string());
  }
  co_return kind;
}

aio::Task<void> Subscriber::change(const char* verb, std::vector<std::string> names) {
  detail::BusyGuard guard(conn_.state_.get());
  Connection::State& s = *conn_.state_;
  const std::string kind = [&] {
    std::string k(verb);
    for (char& c : k) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return k;
  }();
  const bool removing = kind.find("unsubscribe") != std::string::npos;
  const std::set<std::string>& current = kind.front() == 'p' ? patterns_ : channels_;
  // Unsubscribing from everything is confirmed once per name (once, with nil, if none).
  std::size_t confirmations =
      names.empty() ? std::max<std::size_t>(1, current.size()) : names.size();
  if (!removing && names.empty())
    throw std::invalid_argument(std::string("grove::redis: ") + verb + " needs at least one name");
  Command cmd{verb};
  cmd.insert(cmd.end(), names.begin(), names.end());
  std::string wire;
  encode_command(wire, cmd);
  TimePoint deadline = detail::deadline_after(s.options.command_timeout);
  s.broken = true;  // until the confirmations are in
  co_await detail::send_all(s, std::move(wire), deadline);
  while (confirmations > 0) {
    std::string got;
    try {
      got = co_await receive(deadline);
    } catch (Timeout&) {
      s.broken = true;
      throw Timeout("grove::redis: " + std::string(verb) +
                    " was not confirmed in time; the "
                    "subscriber is discarded");
    }
    if (got == kind) --confirmations;
  }
  s.broken = false;
}

aio::Task<void> Subscriber::subscribe(std::vector<std::string> channels) {
  return change("SUBSCRIBE", std::move(channels));
}
aio::Task<void> Subscriber::psubscribe(std::vector<std::string> patterns) {
  return change("PSUBSCRIBE", std::move(patterns));
}
aio::Task<void> Subscriber::unsubscribe(std::vector<std::string> channels) {
  return change("UNSUBSCRIBE", std::move(channels));
}
aio::Task<void> Subscriber::punsubscribe(std::vector<std::string> patterns) {
  return change("PUNSUBSCRIBE", std::move(patterns));
}

aio::Task<Message> Subscriber::next_message(Duration timeout) {
  detail::BusyGuard guard(conn_.state_.get());
  TimePoint deadline = detail::deadline_after(timeout);
  while (queued_.empty()) co_await receive(deadline);  // Timeout: nothing half-read, still usable
  Message m = std::move(queued_.front());
  queued_.pop_front();
  co_return m;
}

}  // namespace grove::redis
