// Exceptions of grove::pg.
#pragma once

#include <stdexcept>
#include <string>

namespace grove::pg {

// Every grove::pg failure. A server's error carries its SQLSTATE ("23505", "42P01", ...);
// errors that did not come from the server have an empty one.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what, std::string sqlstate = {})
      : std::runtime_error(what), sqlstate_(std::move(sqlstate)) {}
  const std::string& sqlstate() const noexcept { return sqlstate_; }

 private:
  std::string sqlstate_;
};

// The statement failed on the server (a syntax error, a constraint, a cancel). The connection
// stays usable. what() is "<SQLSTATE>: <message>"; message() is the server's primary message.
class ServerError : public Error {
 public:
  ServerError(std::string sqlstate, std::string message, std::string detail = {})
      : Error(sqlstate + ": " + message + (detail.empty() ? "" : " (" + detail + ")"), sqlstate),
        message_(std::move(message)), detail_(std::move(detail)) {}
  const std::string& message() const noexcept { return message_; }
  const std::string& detail() const noexcept { return detail_; }

 private:
  std::string message_, detail_;
};

// Could not connect (refused, timed out, authentication failed, no such database), or the
// connection was lost mid-query (the server restarted). The connection is unusable: a pool
// discards it.
class ConnectionError : public Error {
 public:
  using Error::Error;
};

// A result exceeded ConnectionOptions::max_rows or max_bytes. It was refused while it
// streamed in (never held whole in memory); the server was sent a cancel and the connection
// was discarded.
class ResultTooLarge : public Error {
 public:
  using Error::Error;
};

// Pool::acquire() found no connection within PoolOptions::acquire_timeout: every one was in
// use, or none could be opened (the message then names the last connection error).
class PoolTimeout : public Error {
 public:
  using Error::Error;
};

// A value could not be read as the asked type (row.get<int64_t>("name") of "abc"), or a
// NULL was read into a type that cannot hold it (use std::optional<T>).
class TypeError : public Error {
 public:
  using Error::Error;
};

}  // namespace grove::pg
