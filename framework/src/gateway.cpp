// App as a grove::http application: the adapter between the gateway interface and the
// framework's Request/Response.
#include "internal.hpp"

#include <grove/compat.hpp>
#include <grove/green.hpp>
#include <grove/http/gateway.hpp>
#include <grove/web/app.hpp>

namespace grove::web {

namespace {
// The server's body errors as the framework's exceptions (error handlers see those).
[[noreturn]] void rethrow_as_http_exception(const grove::http::HttpError& e) {
  if (e.status() == 413) throw RequestEntityTooLarge(e.what());
  if (e.status() == 400) throw BadRequest(e.what());
  throw HTTPException(e.status(), e.what());
}
}  // namespace

grove::http::Response App::operator()(grove::http::Request& hreq) {
  if (!impl_deployment_checked()) {
    check_deployment(grove::compat::patched() != grove::compat::Patch::none,
                     green::in_green_thread());
  }

  // One allocation for the request and its context; the header fields are read where the
  // server parsed them (hreq outlives the response, streamed bodies included).
  auto ctx = std::make_shared<detail::RequestContext>();
  ctx->app = this;
  Request* req = &ctx->own.emplace(Request::Parts{hreq.method(), hreq.path(), hreq.query()});
  ctx->request = req;
  req->view_headers(hreq.headers());
  req->set_remote_addr(hreq.remote_addr());
  req->set_http_version(std::string(hreq.version_string()));
  if (hreq.is_secure()) {
    req->set_scheme("https");
    req->set_tls(hreq.tls());
  }
  std::optional<std::uint64_t> length = hreq.content_length();
  if (!length || *length > 0) {
    req->set_body_reader(
        [&hreq](std::size_t limit) -> std::string {
          try {
            return hreq.read_body(limit);
          } catch (const grove::http::HttpError& e) {
            rethrow_as_http_exception(e);
          }
        },
        length);
    req->set_stream_reader([&hreq](char* buf, std::size_t n) -> std::size_t {
      try {
        return hreq.read(buf, n);
      } catch (const grove::http::HttpError& e) {
        rethrow_as_http_exception(e);
      }
    });
  }

  const std::shared_ptr<detail::RequestContext> keep = ctx;  // its route, after the cycle
  Response r = handle_context(std::move(ctx));

  // The status, the header fields and the body move to the server's response: no copy.
  grove::http::Response out;
  out.status = r.status;
  out.headers = std::move(r.headers);
  if (r.upgrade()) out.upgrade = std::move(r.upgrade());
  // The metrics' route label: the rule, which lives as long as the app's route table.
  if (keep->route) out.route = keep->route->rule.text();
  if (r.source()) {
    out.stream = [src = std::move(r.source())](grove::http::BodyWriter& w) mutable {
      while (auto chunk = src()) {
        if (chunk->empty()) continue;
        w.write(*chunk);
        w.flush();
      }
    };
  } else if (r.has_file()) {
    out.file = r.take_file();
  } else {
    out.body = r.take_data();
  }
  return out;
}

std::function<grove::http::Response(grove::http::Request&)> App::application() {
  return [this](grove::http::Request& r) { return (*this)(r); };
}

}  // namespace grove::web
