// HTTP errors as exceptions (werkzeug's HTTPException family) and abort().
//
// Throw one (or call abort()) anywhere in a request: the error handler registered for its
// status, or for its type, answers; without one, the exception's own response is sent
// (a small HTML page with the status and description).
#pragma once

#include <grove/web/datastructures.hpp>
#include <grove/web/response.hpp>

#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace grove::web {

class HTTPException : public std::runtime_error {
 public:
  explicit HTTPException(int code, std::string description = {});
  // An exception that answers with exactly this response (abort(Response)).
  explicit HTTPException(Response response);

  int code() const noexcept { return code_; }
  // The reason phrase: "Not Found".
  std::string name() const { return std::string(reason_phrase(code_)); }
  const std::string& description() const noexcept { return description_; }
  // Extra headers for the default response (405 sets Allow).
  Headers& headers() noexcept { return headers_; }
  const Headers& headers() const noexcept { return headers_; }

  // The response sent when no handler takes this exception.
  virtual Response get_response() const;

 private:
  int code_;
  std::string description_;
  Headers headers_;
  std::shared_ptr<Response> response_;
};

class BadRequest : public HTTPException {
 public:
  explicit BadRequest(std::string description = {}) : HTTPException(400, std::move(description)) {}
};
class Unauthorized : public HTTPException {
 public:
  explicit Unauthorized(std::string description = {})
      : HTTPException(401, std::move(description)) {}
};
class Forbidden : public HTTPException {
 public:
  explicit Forbidden(std::string description = {}) : HTTPException(403, std::move(description)) {}
};
class NotFound : public HTTPException {
 public:
  explicit NotFound(std::string description = {}) : HTTPException(404, std::move(description)) {}
};
class MethodNotAllowed : public HTTPException {
 public:
  explicit MethodNotAllowed(std::vector<std::string> valid_methods, std::string description = {});
  const std::vector<std::string>& valid_methods() const noexcept { return valid_methods_; }

 private:
  std::vector<std::string> valid_methods_;
};
class RequestEntityTooLarge : public HTTPException {
 public:
  explicit RequestEntityTooLarge(std::string description = {})
      : HTTPException(413, std::move(description)) {}
};
class UnsupportedMediaType : public HTTPException {
 public:
  explicit UnsupportedMediaType(std::string description = {})
      : HTTPException(415, std::move(description)) {}
};
// What an unhandled exception becomes; original_exception() is what was thrown.
class InternalServerError : public HTTPException {
 public:
  explicit InternalServerError(std::string description = {}, std::exception_ptr original = nullptr)
      : HTTPException(500, std::move(description)), original_(std::move(original)) {}
  std::exception_ptr original_exception() const noexcept { return original_; }

 private:
  std::exception_ptr original_;
};

// Throws the HTTPException for `code` (NotFound for 404, ...; HTTPException otherwise).
[[noreturn]] void abort(int code, std::string description = {});
// Throws an HTTPException that answers with `response` as it is.
[[noreturn]] void abort(Response response);

}  // namespace grove::web
