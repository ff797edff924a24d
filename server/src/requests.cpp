// Requests: the framer's head loop, the application's call, the response through the
// framer's serializer, and the request body read through the framer.
#include "server_impl.hpp"

#include <algorithm>
#include <cstring>

namespace grove::http {

// Serves requests until the connection should idle (true) or close (false).
bool Server::Impl::serve(Connection* c, Context& x) {
  using Step = detail::RequestFramer::Step;
  if (auto* tls = std::get_if<detail::TlsTransport>(&c->transport)) {
    if (!tls->handshake_done() && !handshake(c, *tls)) return false;
    x.tls = tls->facts();
    x.request.set_tls(&x.tls);
  } else {
    x.request.set_tls(nullptr);
  }
  bool drained = false;
  while (true) {
    // A complete head, waiting at most header_timeout from the first byte (from the
    // accept for a new connection).
    x.framer.reset();
    TimePoint deadline = (c->fresh ? c->since : TimePoint(Clock::now())) + cfg.header_timeout;
    while (true) {
      auto step = x.framer.next_head(x.in.view());
      if (step == Step::head) break;
      if (step == Step::error) {
        send_error(c, x, x.framer.error().status, x.framer.error().reason);
        return false;
      }
      // With nothing buffered the wait belongs to the idle state (no green thread);
      // with part of a head buffered, this green thread waits for the rest.
      const bool had_bytes = !x.in.empty();
      auto r = read_some(c, x.in, had_bytes ? std::optional(deadline) : std::nullopt, &drained);
      if (r == ReadResult::data) {
        if (!had_bytes && !c->fresh) deadline = TimePoint(Clock::now()) + cfg.header_timeout;
        continue;
      }
      if (r == ReadResult::again) {
        flush(c, x.out);
        return !stopping_;
      }
      if (r == ReadResult::timeout) {
        send_error(c, x, 408, "the request head was not received in time");
        return false;
      }
      // EOF or a reset: nothing more to answer.
      flush(c, x.out);
      return false;
    }
    c->fresh = false;
    bool keep = handle(c, x);
    if (!keep) {
      flush(c, x.out);
      return false;
    }
    // Pipelined requests already here are answered before anything is written, so their
    // responses leave in one write; a large output is sent early.
    if (x.in.empty() || x.out.size() >= kFlushAt) flush(c, x.out);
    if (x.in.empty()) {
      if (stopping_) return false;
      // The poller is level-triggered: if more arrived since, the idle watcher fires.
      if (drained) return true;
      auto r = read_some(c, x.in, std::nullopt, &drained);
      if (r == ReadResult::again) return true;
      if (r != ReadResult::data) return false;
    }
  }
}

// One request whose head is parsed. Returns whether the connection stays open.
bool Server::Impl::handle(Connection* c, Context& x) {
  using After = detail::RequestFramer::After;
  const RequestHead& head = x.framer.head();
  Request& req = x.request;
  if (head.form == TargetForm::authority) {
    x.in.consume(head.size);
    send_error(c, x, 501, "CONNECT is not supported");
    return false;
  }
  try {
    detail::fill_request(req, head, x.in.data());
  } catch (const HttpError& e) {
    send_error(c, x, e.status(), e.what());
    return false;
  }
  req.set_remote(c->peer, c->peer_port);
  x.framer.begin_body();
  x.body.start(this, c, &x);
  req.set_body_reader(&x.body);
  const bool is_head = head.method == "HEAD";
  x.in.consume(head.size);

  const bool measured = request_metrics && !c->metrics;
  const auto began =
      measured ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point();
  bool failed = false;
  Response resp = answers_itself(c, req) ? answer_itself(c, req)
                                         : detail::run_application(app, req, c->peer, failed);
  if (failed) ++stats.errors_5xx;
  if (resp.status == 101 && resp.upgrade) return upgrade(c, x, req, resp);
  // Keep the connection? Not if the client or the application says close, the body
  // broke, or what is left of it is too much (or unknown) to drain.
  After after = x.framer.after_response(req.keep_alive(), true, stopping_ && x.in.empty());
  detail::ResponsePlan plan =
      detail::plan_response(resp, req.version().minor, is_head, after != After::close);
  std::uint64_t sent = 0;
  try {
    ConnectionSink sink{this, c, &x.out};
    sent = detail::write_response(sink, resp, plan, head_defaults());
  } catch (const detail::ConnectionLost&) {
    throw;
  } catch (const green::GreenletExit&) {
    throw;
  } catch (...) {
    // A streamed body failed midway: the client sees it cut short.
    Log::write(LogLevel::error, "streamed response failed for " + std::string(req.method()) + " " +
                                    std::string(req.target()) + ": " +
                                    detail::describe_current_exception());
    ++stats.errors_5xx;
    return false;
  }
  ++stats.requests;
  if (measured)
    request_metrics->record(
        resp.route, resp.status,
        std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count());
  if (Log::access_log_enabled()) access_log(c, &req, resp.status, sent);
  if (!plan.keep) return false;
  return after != After::drain || drain_body(req);
}

// Reads and drops what is left of a request's body; whether it ended well. Not inlined:
// its 4 KiB buffer would sit in handle()'s frame, under which an upgraded connection's
// handler runs for the connection's life (every stack page touched stays resident).
bool Server::Impl::drain_body(Request& req) {
  try {
    char sink[4096];
    while (req.read(sink, sizeof sink) > 0) {
    }
    return true;
  } catch (...) {
    return false;
  }
}

// An error found by the server itself: answers; the connection then closes lingering.
void Server::Impl::send_error(Connection* c, Context& x, int status, std::string_view reason) {
  ++stats.errors_4xx;
  if (request_metrics && !c->metrics) request_metrics->count_refused(status);
  c->refused = true;
  if (Log::enabled(LogLevel::debug))
    Log::write(LogLevel::debug, "refused a request from " + c->peer + ": " +
                                    std::to_string(status) + " " + std::string(reason));
  std::size_t body = detail::write_error(x.out, status, reason, head_defaults());
  try {
    flush(c, x.out);
  } catch (const detail::ConnectionLost&) {
    c->peer_closed = true;
  }
  if (Log::access_log_enabled()) access_log(c, nullptr, status, body);
}

// --- ConnBodyReader ---------------------------------------------------------------------------

namespace detail {

// More body bytes from the connection, waiting at most the body timeout.
void ConnBodyReader::fill() {
  auto deadline = TimePoint(Clock::now()) + server_->cfg.body_timeout;
  ParseError e;
  switch (server_->read_some(conn_, ctx_->in, deadline)) {
    case ReadResult::data: return;
    case ReadResult::timeout:
      e = ctx_->framer.interrupt_body(408, "timed out waiting for the request body");
      break;
    default:
      e = ctx_->framer.interrupt_body(
          400, "the client closed the connection before sending the whole body");
  }
  throw HttpError(e.status, e.reason);
}

std::size_t ConnBodyReader::read(char* buf, std::size_t n) {
  RequestFramer& framer = ctx_->framer;
  if (framer.body_failed()) throw HttpError(400, "the request body could not be read");
  if (framer.body_done() || n == 0) return 0;
  Buffer& in = ctx_->in;
  if (framer.continue_due(!in.empty())) {
    write_continue(ctx_->out);
    server_->flush(conn_, ctx_->out);  // after the responses to earlier pipelined requests
  }
  while (true) {
    auto piece = framer.decode_body(in.view(), n);
    switch (piece.status) {
      case RequestFramer::BodyStatus::data:
        std::memcpy(buf, piece.data.data(), piece.data.size());
        in.consume(piece.consumed);
        return piece.data.size();
      case RequestFramer::BodyStatus::done: in.consume(piece.consumed); return 0;
      case RequestFramer::BodyStatus::error:
        in.consume(piece.consumed);
        throw HttpError(framer.error().status, framer.error().reason);
      case RequestFramer::BodyStatus::need_more:
        in.consume(piece.consumed);
        fill();
        break;
    }
  }
}

}  // namespace detail

}  // namespace grove::http
