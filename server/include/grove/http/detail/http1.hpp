// HTTP/1 framing in one place, with no I/O (machinery; the server, parse_stream(), the
// in-memory exchange and the fuzz targets share it). In the spirit of h2o's lib/http1.c
// over picohttpparser, minus the sockets: the caller owns the bytes and the transport,
// this code only says what the bytes mean and what bytes to write.
//
// Request side, RequestFramer, per connection:
//   1. next_head(buffered)    -> need_more | head | error   (the request-head loop)
//   2. begin_body(); then decode_body(buffered, max) until done (Content-Length, chunked,
//      and whether `100 Continue` is due first: continue_due())
//   3. after_response(...)    -> keep | drain | close       (the persistence decision)
// Response side: plan_response() decides the framing of an application's Response;
// write_head() and write_error() serialize heads (status line, Server and Date are
// written by one function, write_status()); write_response() sends a whole response
// through a sink (the server's connection or a string). parse_response() is the inverse,
// for test clients and the round-trip fuzz target.
//
//   detail::RequestFramer f(limits);
//   if (f.next_head(in) == detail::RequestFramer::Step::head) { consume(f.head().size); ... }
#pragma once

#include <grove/http/gateway.hpp>
#include <grove/http/headers.hpp>
#include <grove/http/parser.hpp>

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace grove::http::detail {

// Unread body bytes the server reads and drops to keep a connection alive after a
// response; more than this, and the connection closes (through a lingering close).
inline constexpr std::uint64_t kDrainLimit = 64 * 1024;
// Bodies up to this size are copied into the output buffer; larger ones are written from
// where they are, after the head.
inline constexpr std::size_t kInlineBody = 16 * 1024;

class RequestFramer {
 public:
  explicit RequestFramer(const Limits& limits = {}) : parser_(limits), chunked_(limits) {}
  void set_limits(const Limits& limits) noexcept {
    parser_.set_limits(limits);
    chunked_.set_limits(limits);
  }
  const Limits& limits() const noexcept { return parser_.limits(); }

  // --- the request-head loop ------------------------------------------------------------
  enum class Step : std::uint8_t { need_more, head, error };
  // Forgets the previous request (its head progress and body state); call before each.
  void reset() noexcept;
  // Parses the request head at the start of `in`; call again with the same bytes plus more
  // (they may have moved) while it returns need_more. On `head`, head() is valid while the
  // bytes are and head().size bytes belong to it. On `error`, error() says what to answer;
  // the connection must then close.
  Step next_head(std::string_view in);
  const RequestHead& head() const noexcept { return head_; }
  const ParseError& error() const noexcept { return error_; }

  // --- the body -------------------------------------------------------------------------
  // Starts the body of the head just parsed (call after consuming its bytes).
  void begin_body() noexcept;
  enum class BodyStatus : std::uint8_t { need_more, data, done, error };
  struct BodyPiece {
    BodyStatus status;
    std::size_t consumed;   // bytes of `in` used, whatever the status
    std::string_view data;  // with `data`: decoded body bytes, a view into `in` (non-empty)
  };
  // Decodes body bytes from the start of `in`, at most `max` of them.
  BodyPiece decode_body(std::string_view in, std::size_t max = std::size_t(-1));
  // Whether `100 Continue` must be written before the first body read: the client asked
  // for it and has not started sending. Answers true once per request.
  bool continue_due(bool input_buffered) noexcept;
  // The transport could not deliver the rest of the body (end of input, timeout).
  ParseError interrupt_body(int status, const char* reason) noexcept;
  bool body_done() const noexcept { return body_done_; }
  bool body_failed() const noexcept { return body_failed_; }
  BodyKind body_kind() const noexcept { return body_kind_; }
  std::uint64_t body_remaining() const noexcept { return remaining_; }
  bool continue_pending() const noexcept { return expect_pending_; }

  // --- keep, drain or close ---------------------------------------------------------------
  enum class After : std::uint8_t { keep, drain, close };
  // What to do with the connection once the response is written: keep it for the next
  // request, first read and drop the unread rest of this body (at most kDrainLimit), or
  // close it (lingering, when the client may still be sending).
  //   request_keep: the request allows persistence (HTTP/1.0 and 1.1 rules)
  //   response_keep: the response did not ask to close (nor needs to, to frame its body)
  //   stopping_idle: the server is stopping and has no further request buffered
  After after_response(bool request_keep, bool response_keep, bool stopping_idle) const noexcept;

 private:
  RequestParser parser_;
  ChunkedDecoder chunked_;
  RequestHead head_;
  ParseError error_;
  BodyKind body_kind_ = BodyKind::none;
  std::uint64_t remaining_ = 0;
  bool body_done_ = true;
  bool body_failed_ = false;
  bool expect_pending_ = false;
};

// --- responses ---------------------------------------------------------------------------

// How a response goes on the wire.
struct ResponsePlan {
  bool is_head = false;    // a HEAD request: the head says what a GET would send, no body
  bool has_body = true;    // the status allows a body (not 204/304)
  bool streaming = false;  // Response::stream writes the body
  bool file = false;       // Response::file is the body
  bool chunked = false;    // Transfer-Encoding: chunked
  std::optional<std::uint64_t> length;  // Content-Length to write
  bool keep = true;                     // the connection stays open after it
  int minor = 1;                        // the request's HTTP/1.<minor>
  bool sends_body() const noexcept { return has_body && !is_head; }
};
// `keep`: whether the request and server allow persistence. A streamed body of unknown
// length to an HTTP/1.0 client is delimited by closing; a `Connection: close` from the
// application closes. Assumes check_response(resp) passed.
ResponsePlan plan_response(const Response& resp, int minor, bool is_head, bool keep);

// What is wrong with an application's response ("" if nothing): a status outside 200-999,
// a header field or reason with CR, LF or controls, a bad Content-Length on a stream.
std::string check_response(const Response& resp);

// Appends the bytes of a file body to `out` (pread, so the file's offset is untouched), for
// sinks that write into memory. Throws std::runtime_error if the file is shorter than the
// body says (it shrank after the response was made) or cannot be read.
void append_file(std::string& out, const FileBody& f);

// The body of an error response: "404 Not Found: <reason>\n".
std::string error_body(int status, std::string_view reason);

// Values the server adds to every response head unless the application set them.
struct HeadDefaults {
  std::string_view server;  // "grove"; empty: no Server header
  std::string_view date;    // "Thu, 01 Jan 1970 00:00:00 GMT"
};

namespace http1_out {
template <class Out>
void put(Out& out, std::string_view s) {
  out.append(s);
}
template <class Out>
void put_uint(Out& out, std::uint64_t v, int base = 10) {
  char tmp[24];
  auto r = std::to_chars(tmp, tmp + sizeof tmp, v, base);
  out.append(std::string_view(tmp, std::size_t(r.ptr - tmp)));
}
template <class Out>
void put_field(Out& out, std::string_view name, std::string_view value) {
  put(out, name);
  put(out, ": ");
  put(out, value);
  put(out, "\r\n");
}
}  // namespace http1_out

// The status line and the server's own fields (the only place they are written).
template <class Out>
void write_status(Out& out, int status, std::string_view reason, const HeadDefaults& d,
                  bool app_has_server, bool app_has_date) {
  using namespace http1_out;
  put(out, "HTTP/1.1 ");
  put_uint(out, std::uint64_t(status));
  put(out, " ");
  put(out, reason.empty() ? reason_phrase(status) : reason);
  put(out, "\r\n");
  if (!d.server.empty() && !app_has_server) put_field(out, "Server", d.server);
  if (!app_has_date) put_field(out, "Date", d.date);
}

// The framing and persistence fields, then the empty line.
template <class Out>
void write_framing(Out& out, const ResponsePlan& plan) {
  using namespace http1_out;
  if (plan.has_body) {
    if (plan.length) {
      put(out, "Content-Length: ");
      put_uint(out, *plan.length);
      put(out, "\r\n");
    } else if (plan.chunked) {
      put(out, "Transfer-Encoding: chunked\r\n");
    }
  }
  if (!plan.keep) put(out, "Connection: close\r\n");
  else if (plan.minor == 0) put(out, "Connection: keep-alive\r\n");
  put(out, "\r\n");
}

// The head of an application's response. The server owns the framing and persistence:
// the application's Content-Length, Transfer-Encoding and Connection are replaced.
template <class Out>
void write_head(Out& out, const Response& resp, const ResponsePlan& plan, const HeadDefaults& d) {
  write_status(out, resp.status, resp.reason, d, resp.headers.contains("server"),
               resp.headers.contains("date"));
  for (auto f : resp.headers) {
    if (iequals(f.name, "content-length") || iequals(f.name, "transfer-encoding") ||
        iequals(f.name, "connection"))
      continue;
    http1_out::put_field(out, f.name, f.value);
  }
  write_framing(out, plan);
}

// The head of a `101 Switching Protocols` (an upgrade): the application's fields as they
// are (Upgrade, Connection and the protocol's own), no body and no framing.
template <class Out>
void write_upgrade_head(Out& out, const Response& resp, const HeadDefaults& d) {
  write_status(out, 101, resp.reason, d, resp.headers.contains("server"),
               resp.headers.contains("date"));
  for (auto f : resp.headers) http1_out::put_field(out, f.name, f.value);
  http1_out::put(out, "\r\n");
}

// The interim response a client that sent `Expect: 100-continue` waits for.
template <class Out>
void write_continue(Out& out) {
  http1_out::put(out, "HTTP/1.1 100 Continue\r\n\r\n");
}

// A whole error response found by the server itself (always `Connection: close`).
// Returns the size of its body.
template <class Out>
std::size_t write_error(Out& out, int status, std::string_view reason, const HeadDefaults& d) {
  std::string body = error_body(status, reason);
  write_status(out, status, {}, d, false, false);
  http1_out::put_field(out, "Content-Type", "text/plain; charset=utf-8");
  ResponsePlan plan;
  plan.length = body.size();
  plan.keep = false;
  write_framing(out, plan);
  http1_out::put(out, body);
  return body.size();
}

// Writes a response through a sink, which provides
//   Out& out()                           the output buffer (append(string_view))
//   void flush(std::string_view extra)   sends out() and then `extra`, completely
//   void send_file(const FileBody& f)    sends out() and then the file's bytes, completely
//                                        (or, for a small file, appends them to out())
// A small buffered body is appended to out() and left there (the caller flushes, so
// pipelined responses leave in one write); a large one and every streamed piece are
// flushed as they come. Returns the body bytes written. Throws what the stream throws,
// and std::length_error when a stream breaks its declared Content-Length.
template <class Sink>
std::uint64_t write_response(Sink& sink, Response& resp, const ResponsePlan& plan,
                             const HeadDefaults& d) {
  auto& out = sink.out();
  write_head(out, resp, plan, d);
  if (!plan.sends_body()) return 0;
  if (plan.file) {
    sink.send_file(resp.file);
    return resp.file.length;
  }
  if (!plan.streaming) {
    if (resp.body.size() <= kInlineBody) http1_out::put(out, resp.body);
    else sink.flush(resp.body);
    return resp.body.size();
  }
  struct Writer final : BodyWriter {
    Sink* sink;
    const ResponsePlan* plan;
    std::uint64_t sent = 0;
    void write(std::string_view data) override {
      if (data.empty()) return;
      if (plan->length && sent + data.size() > *plan->length)
        throw std::length_error("the streamed body is longer than its Content-Length");
      auto& o = sink->out();
      if (plan->chunked) {
        http1_out::put_uint(o, data.size(), 16);
        http1_out::put(o, "\r\n");
      }
      if (data.size() <= kInlineBody) {
        http1_out::put(o, data);
        if (plan->chunked) http1_out::put(o, "\r\n");
        sink->flush({});
      } else {
        sink->flush(data);
        if (plan->chunked) http1_out::put(o, "\r\n");
      }
      sent += data.size();
    }
    void flush() override { sink->flush({}); }
  } writer;
  writer.sink = &sink;
  writer.plan = &plan;
  resp.stream(writer);
  if (plan.length && writer.sent != *plan.length)
    throw std::length_error("the streamed body is shorter than its Content-Length");
  if (plan.chunked) http1_out::put(out, "0\r\n\r\n");
  return writer.sent;
}

// --- reading responses (the serializer's inverse) ---------------------------------------

struct ParsedResponse {
  int status = 0;
  std::string reason;
  std::vector<std::pair<std::string, std::string>> fields;
  std::string body;
  bool chunked = false;
  bool keep_alive = true;  // no `Connection: close`
  std::size_t size = 0;    // bytes of the whole response
  std::optional<std::string_view> field(std::string_view name) const;
};
// Parses one HTTP/1.1 response at the start of `bytes`, as grove writes them: a status
// line, fields, and a body framed by Content-Length, chunked coding, or (without either)
// the end of the bytes. `head_request`: the response answers HEAD (no body follows).
// Returns nullopt when the bytes do not hold a complete, well-formed response.
std::optional<ParsedResponse> parse_response(std::string_view bytes, bool head_request = false);

}  // namespace grove::http::detail
