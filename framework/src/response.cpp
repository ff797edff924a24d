#include <grove/http/detail/http1.hpp>
#include <grove/web/app.hpp>
#include <grove/web/response.hpp>

#include "internal.hpp"

#include <stdexcept>

namespace grove::web {

Response::Response(std::string body, int status_code, Headers extra)
    : status(status_code), body_(std::move(body)) {
  if (extra.empty()) {
    headers.add("Content-Type", kDefaultMimetype);
    return;
  }
  bool typed = extra.contains("Content-Type");
  headers.reserve(extra.size() + (typed ? 0 : 1));
  if (!typed) headers.add("Content-Type", kDefaultMimetype);
  for (const auto& [k, v] : extra) {
    if (iequals(k, "Content-Type")) headers.set(k, v);
    else headers.add(k, v);
  }
}

Response::Response(const Json& body, int status_code, Headers extra)
    : status(status_code), body_(body.dump()) {
  headers.add("Content-Type", "application/json");
  for (const auto& [k, v] : extra) {
    if (iequals(k, "Content-Type")) headers.set(k, v);
    else headers.add(k, v);
  }
}

Response Response::text(std::string body, int status_code) {
  Response r{Blank{}};
  r.status = status_code;
  r.body_ = std::move(body);
  r.headers.add("Content-Type", "text/plain; charset=utf-8");
  return r;
}

Response Response::stream(Source source, int status_code, Headers extra) {  // NOLINT
  Response r(std::string(), status_code, std::move(extra));
  r.source_ = std::move(source);
  return r;
}

Response Response::stream(AsyncSource source, int status_code, Headers extra) {
  Response r(std::string(), status_code, std::move(extra));
  r.async_source_ = std::move(source);
  return r;
}

std::string Response::mimetype() const { return media_type(headers.get("Content-Type", "")); }

void Response::set_data(std::string body) {
  body_ = std::move(body);
  file_ = {};
  source_ = nullptr;
  async_source_ = nullptr;
}

namespace {
aio::Task<void> next_chunk(std::optional<std::string>* out, Response::AsyncSource* source) {
  *out = co_await (*source)();
}
}  // namespace

void Response::set_file(grove::http::FileBody body) {
  body_.clear();
  source_ = nullptr;
  async_source_ = nullptr;
  file_ = std::move(body);
}

const std::string& Response::get_data() {
  if (file_) {
    grove::http::detail::append_file(body_, file_);
    file_ = {};
  }
  if (async_source_) {
    if (!has_request_context())
      throw std::logic_error(
          "grove::web::Response::get_data(): a coroutine stream needs the app's async_to_sync; "
          "call it while handling a request, or let App::handle() run the request");
    App& app = current_app();
    AsyncSource src = std::move(async_source_);
    async_source_ = nullptr;
    for (;;) {
      std::optional<std::string> chunk;
      app.run_coroutine(next_chunk(&chunk, &src));
      if (!chunk) break;
      body_ += *chunk;
    }
  }
  if (source_) {
    Source src = std::move(source_);
    source_ = nullptr;
    while (auto chunk = src()) body_ += *chunk;
  }
  return body_;
}

Json Response::get_json() { return Json::parse(get_data()); }

void Response::set_cookie(std::string_view name, std::string_view value, const CookieOptions& o) {
  std::string c(name);
  c += '=';
  c += url_encode(value);
  if (o.max_age) c += "; Max-Age=" + std::to_string(*o.max_age);
  if (!o.domain.empty()) c += "; Domain=" + o.domain;
  if (!o.path.empty()) c += "; Path=" + o.path;
  if (o.secure) c += "; Secure";
  if (o.httponly) c += "; HttpOnly";
  if (!o.samesite.empty()) c += "; SameSite=" + o.samesite;
  headers.add("Set-Cookie", std::move(c));
}

void Response::delete_cookie(std::string_view name, std::string_view path,
                             std::string_view domain) {
  CookieOptions o;
  o.max_age = 0;
  o.path = std::string(path);
  o.domain = std::string(domain);
  std::string c(name);
  c += "=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0";
  if (!o.domain.empty()) c += "; Domain=" + o.domain;
  if (!o.path.empty()) c += "; Path=" + o.path;
  headers.add("Set-Cookie", std::move(c));
}

}  // namespace grove::web
