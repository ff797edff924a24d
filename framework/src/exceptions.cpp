#include <grove/web/exceptions.hpp>

#include <algorithm>

namespace grove::web {

namespace {
std::string default_description(int code) {
  switch (code) {
    case 400: return "The browser (or proxy) sent a request that this server could not understand.";
    case 401:
      return "The server could not verify that you are authorized to access the URL requested.";
    case 403: return "You don't have the permission to access the requested resource.";
    case 404:
      return "The requested URL was not found on the server. If you entered the URL manually "
             "please "
             "check your spelling and try again.";
    case 405: return "The method is not allowed for the requested URL.";
    case 413: return "The data value transmitted exceeds the capacity limit.";
    case 415: return "The server does not support the media type transmitted in the request.";
    case 500:
      return "The server encountered an internal error and was unable to complete your request. "
             "Either the server is overloaded or there is an error in the application.";
    default: return {};
  }
}

std::string html_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}
}  // namespace

HTTPException::HTTPException(int code, std::string description)
    : std::runtime_error(std::to_string(code) + " " + std::string(reason_phrase(code)) +
                         (description.empty() ? "" : ": " + description)),
      code_(code),
      description_(description.empty() ? default_description(code) : std::move(description)) {}

HTTPException::HTTPException(Response response)
    : std::runtime_error(std::to_string(response.status) + " " +
                         std::string(reason_phrase(response.status))),
      code_(response.status), response_(std::make_shared<Response>(std::move(response))) {}

Response HTTPException::get_response() const {
  if (response_) {
    // A streamed response cannot be copied usefully twice; hand out what we have.
    return *response_;
  }
  std::string title = std::to_string(code_) + " " + name();
  std::string body = "<!doctype html>\n<html lang=en>\n<title>" + html_escape(title) +
                     "</title>\n<h1>" + html_escape(name()) + "</h1>\n";
  if (!description_.empty()) body += "<p>" + html_escape(description_) + "</p>\n";
  Response r(std::move(body), code_);
  for (const auto& [k, v] : headers_) r.headers.set(k, v);
  return r;
}

MethodNotAllowed::MethodNotAllowed(std::vector<std::string> valid_methods, std::string description)
    : HTTPException(405, std::move(description)), valid_methods_(std::move(valid_methods)) {
  std::sort(valid_methods_.begin(), valid_methods_.end());
  valid_methods_.erase(std::unique(valid_methods_.begin(), valid_methods_.end()),
                       valid_methods_.end());
  std::string allow;
  for (const auto& m : valid_methods_) {
    if (!allow.empty()) allow += ", ";
    allow += m;
  }
  headers().set("Allow", allow);
}

void abort(int code, std::string description) {
  switch (code) {
    case 400: throw BadRequest(std::move(description));
    case 401: throw Unauthorized(std::move(description));
    case 403: throw Forbidden(std::move(description));
    case 404: throw NotFound(std::move(description));
    case 405: throw MethodNotAllowed({}, std::move(description));
    case 413: throw RequestEntityTooLarge(std::move(description));
    case 415: throw UnsupportedMediaType(std::move(description));
    case 500: throw InternalServerError(std::move(description));
    default: throw HTTPException(code, std::move(description));
  }
}

void abort(Response response) { throw HTTPException(std::move(response)); }

}  // namespace grove::web
