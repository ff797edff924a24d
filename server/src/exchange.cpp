// The steps a request goes through between the framer and the response serializer, shared
// by the server's connections and the in-memory exchange (grove/http/exchange.hpp).
#include <grove/http/exchange.hpp>

#include "server_impl.hpp"

#include <cstring>

namespace grove::http {
namespace detail {

Response run_application(const Application& app, Request& req, std::string_view peer,
                         bool& failed) {
  failed = false;
  Response resp;
  try {
    resp = app(req);
  } catch (const green::GreenletExit&) {
    throw;
  } catch (const HttpError& e) {
    return Response::text(error_body(e.status(), e.what()), e.status());
  } catch (...) {
    failed = true;
    Log::write(LogLevel::error, "exception in the application while serving " +
                                    std::string(req.method()) + " " + std::string(req.target()) +
                                    " for " + std::string(peer) + ":\n  " +
                                    describe_current_exception());
    return Response::text(error_body(500, ""), 500);
  }
  if (std::string problem = check_response(resp); !problem.empty()) {
    failed = true;
    Log::write(LogLevel::error, "invalid response from the application for " +
                                    std::string(req.method()) + " " + std::string(req.target()) +
                                    ": " + problem);
    return Response::text(error_body(500, ""), 500);
  }
  return resp;
}

void fill_request(Request& req, const RequestHead& head, const char* base) {
  Request::Parts parts;
  parts.method = head.method;
  parts.target = head.target;
  parts.version = Version{1, head.minor};
  parts.keep_alive = head.keep_alive;
  parts.chunked = head.body == BodyKind::chunked;
  parts.content_length = head.content_length;
  req.reset(parts);
  // The header fields keep pointing into one copy of the head.
  req.headers().assign_raw(std::string_view(base, head.size));
  for (const auto& f : head.fields)
    req.headers().add_raw(std::uint32_t(f.name.data() - base), std::uint32_t(f.name.size()),
                          std::uint32_t(f.value.data() - base), std::uint32_t(f.value.size()));
  req.set_host(head.host);
}

namespace {

// Writes into a string: everything "sent" at once.
struct StringSink {
  std::string* bytes;
  std::string& out() { return *bytes; }
  void flush(std::string_view extra) { bytes->append(extra); }
  void send_file(const FileBody& f) { append_file(*bytes, f); }
};

// The body of a request from the rest of the input; the end of the input before the end
// of the body is the client closing early.
class MemoryBody final : public BodyReader {
 public:
  MemoryBody(RequestFramer& framer, std::string_view& in) : framer_(framer), in_(in) {}
  std::size_t read(char* buf, std::size_t n) override {
    if (framer_.body_failed()) throw HttpError(400, "the request body could not be read");
    if (framer_.body_done() || n == 0) return 0;
    framer_.continue_due(true);  // the client has sent everything already
    auto piece = framer_.decode_body(in_, n);
    in_.remove_prefix(piece.consumed);
    switch (piece.status) {
      case RequestFramer::BodyStatus::data:
        std::memcpy(buf, piece.data.data(), piece.data.size());
        return piece.data.size();
      case RequestFramer::BodyStatus::done: return 0;
      case RequestFramer::BodyStatus::error:
        throw HttpError(framer_.error().status, framer_.error().reason);
      case RequestFramer::BodyStatus::need_more: break;
    }
    auto e = framer_.interrupt_body(
        400, "the client closed the connection before sending the whole body");
    throw HttpError(e.status, e.reason);
  }

 private:
  RequestFramer& framer_;
  std::string_view& in_;
};

// Writes the response to `req`; false if a streamed body failed (the connection closes).
bool write_in_memory(std::string& out, Response& resp, const ResponsePlan& plan,
                     const HeadDefaults& d, const Request& req) {
  StringSink sink{&out};
  try {
    write_response(sink, resp, plan, d);
    return true;
  } catch (const green::GreenletExit&) {
    throw;
  } catch (...) {
    Log::write(LogLevel::error, "streamed response failed for " + std::string(req.method()) + " " +
                                    std::string(req.target()) + ": " +
                                    describe_current_exception());
    return false;
  }
}

}  // namespace

bool write_last_in_memory(std::string& out, Response& resp, const Request& req,
                          const HeadDefaults& d) {
  ResponsePlan plan = plan_response(resp, req.version().minor, req.method() == "HEAD", false);
  return write_in_memory(out, resp, plan, d, req);
}

}  // namespace detail

std::string exchange(const Application& app, Request& req, const ExchangeOptions& options) {
  using namespace detail;
  bool failed = false;
  Response resp = run_application(app, req, req.remote_addr(), failed);
  std::string out;
  write_last_in_memory(out, resp, req, {options.server_header, http_date()});
  return out;
}

std::string exchange(const Application& app, std::string_view bytes,
                     const ExchangeOptions& options) {
  using namespace detail;
  std::string out;
  const HeadDefaults d{options.server_header, http_date()};
  RequestFramer framer(options.limits);
  Request req;
  MemoryBody body(framer, bytes);
  while (!bytes.empty()) {
    framer.reset();
    auto step = framer.next_head(bytes);
    if (step == RequestFramer::Step::need_more) break;
    if (step == RequestFramer::Step::error) {
      write_error(out, framer.error().status, framer.error().reason, d);
      break;
    }
    const RequestHead& head = framer.head();
    if (head.form == TargetForm::authority) {
      write_error(out, 501, "CONNECT is not supported", d);
      break;
    }
    try {
      fill_request(req, head, bytes.data());
    } catch (const HttpError& e) {
      write_error(out, e.status(), e.what(), d);
      break;
    }
    req.set_remote(options.remote_addr, 0);
    req.set_body_reader(&body);
    framer.begin_body();
    const bool is_head = head.method == "HEAD";
    bytes.remove_prefix(head.size);
    bool failed = false;
    Response resp = run_application(app, req, options.remote_addr, failed);
    auto after = framer.after_response(req.keep_alive(), true, false);
    ResponsePlan plan =
        plan_response(resp, req.version().minor, is_head, after != RequestFramer::After::close);
    if (!write_in_memory(out, resp, plan, d, req) || !plan.keep) break;
    if (after == RequestFramer::After::drain) {
      char sink[4096];
      try {
        while (req.read(sink, sizeof sink) > 0) {
        }
      } catch (const HttpError&) {
        break;
      }
    }
  }
  return out;
}

}  // namespace grove::http
