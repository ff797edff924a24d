// Exceptions of grove::redis.
#pragma once

#include <stdexcept>
#include <string>

namespace grove::redis {

// Every grove::redis failure.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The server answered a command with an error reply ("WRONGTYPE Operation against a key
// holding the wrong kind of value"). The connection stays usable. code() is the first word
// ("WRONGTYPE", "ERR", "NOAUTH"); message() the whole reply text.
class ServerError : public Error {
 public:
  explicit ServerError(std::string message)
      : Error("grove::redis: the server replied: " + message), message_(std::move(message)) {
    code_ = message_.substr(0, message_.find(' '));
  }
  const std::string& code() const noexcept { return code_; }
  const std::string& message() const noexcept { return message_; }

 private:
  std::string message_, code_;
};

// Could not connect (refused, timed out, authentication or SELECT failed), or the
// connection was lost mid-command (the server restarted or was killed). The connection is
// unusable: a pool discards it.
class ConnectionError : public Error {
 public:
  using Error::Error;
};

// The bytes from the server are not RESP (a wrong port, a proxy, a bug): what() says what
// and where. The connection is discarded: nothing after the bad byte can be trusted.
class ProtocolError : public Error {
 public:
  using Error::Error;
};

// A reply passed a limit of Limits (a bulk string, an aggregate's element count, nesting
// depth, or the whole reply's size). It is refused as soon as its header says so, before it
// is buffered; the connection is discarded.
class ReplyTooLarge : public Error {
 public:
  using Error::Error;
};

// A command got no (complete) reply within ConnectionOptions::command_timeout. The reply
// may still come, so the connection is discarded.
class Timeout : public Error {
 public:
  using Error::Error;
};

// Pool::acquire() found no connection within PoolOptions::acquire_timeout: every one was in
// use, or none could be opened (the message then names the last connection error).
class PoolTimeout : public Error {
 public:
  using Error::Error;
};

// A reply read as a type it is not (reply.as_integer() of a bulk string, a nil read as a
// string: use as_optional_string()).
class TypeError : public Error {
 public:
  using Error::Error;
};

}  // namespace grove::redis
