// grove::web::BodyStream — request.stream for coroutine views (Quart's `request.body`,
// Flask's `request.stream` awaited).
//
// A coroutine view normally gets its body read into memory before it runs (it may run on
// another thread, or in the hub where nothing may block). A view registered with
// web::streamed_body() gets it unread instead and takes it piece by piece as it arrives,
// without blocking the hub and without keeping it:
//
//   app.route("/upload", {"POST"}, web::streamed_body([](web::Request& req)
//                                                         -> aio::Task<web::Response> {
//     std::uint64_t total = 0;
//     while (true) {
//       std::string piece = co_await req.stream().read(64 * 1024);
//       if (piece.empty()) break;  // the end of the body
//       total += piece.size();
//     }
//     co_return std::to_string(total);
//   }));
//
// Each read is done on the connection's side (the bridge's body pump: a green thread beside
// the hub under web::green_bridge, the waiting caller under web::thread_bridge) while the
// coroutine is suspended. Errors arrive at the co_await: RequestEntityTooLarge (413) past
// MAX_CONTENT_LENGTH or the server's --max-body, BadRequest (400) for a body the client
// cut short or a bad chunked encoding. `co_await req.stream().load()` reads the rest into
// memory instead, after which data(), form(), files() and json() work; calling those before
// is a std::logic_error (they would block). One read at a time per request: awaiting one
// while another is in flight (a sibling task's) is a std::logic_error. A request whose
// body is already in memory (the test client, or any other view) is served from memory.
#pragma once

#include <grove/aio/task.hpp>
#include <grove/web/request.hpp>

#include <coroutine>
#include <cstddef>
#include <memory>
#include <string>

namespace grove::web {

namespace detail {
struct BodyJob;  // body_stream.cpp: what a read shares with the job that does it

// The awaitable of BodyStream::read/load, in aio's Wait protocol (cancellable: a cancelled
// coroutine stops waiting; the read it started finishes on the connection's side).
class BodyWait final : public aio::detail::Wait {
 public:
  BodyWait(Request& req, std::size_t n, bool whole) : req_(&req), n_(n), whole_(whole) {}
  BodyWait(BodyWait&& o) noexcept;
  ~BodyWait();

  bool await_ready();
  template <class P>
  void await_suspend(std::coroutine_handle<P> h) {
    begin(h);
    start();
    end_setup();
  }
  std::string await_resume();

 private:
  void start();
  void withdraw() noexcept override;
  Request* req_;
  std::size_t n_;
  bool whole_;
  std::string ready_;  // what await_ready read from memory
  std::shared_ptr<BodyJob> job_;
};
}  // namespace detail

class BodyStream {
 public:
  explicit BodyStream(Request& req) noexcept : req_(&req) {}
  // co_await: up to `n` more bytes of the body (fewer when fewer have arrived; "" at its
  // end). `n` must be at least 1.
  detail::BodyWait read(std::size_t n = 64 * 1024);
  // co_await: reads the rest of the body into memory (bounded as data() is); the result
  // is "" and the body is request.data().
  detail::BodyWait load();

 private:
  Request* req_;
};

// Registers a coroutine view whose body is not read before it runs (see above):
//   app.route("/upload", {"POST"}, web::streamed_body(view));
template <class F>
struct StreamedBody {
  F view;
};
template <class F>
StreamedBody<F> streamed_body(F view) {
  return StreamedBody<F>{std::move(view)};
}

}  // namespace grove::web
