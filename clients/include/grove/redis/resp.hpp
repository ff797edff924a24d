// RESP2/RESP3 without I/O: a parser fed bytes as they arrive, and the command encoder. The
// connection drives them; tests and tests/fuzz/fuzz_redis_resp drive them directly.
//
//   redis::Parser parser({.max_bulk_bytes = 1 << 20});
//   parser.feed(bytes_from_the_socket);
//   while (std::optional<redis::Reply> r = parser.next()) handle(*r);   // nullopt: need more
//
//   std::string wire;
//   redis::encode_command(wire, {"SET", "key", "value"});   // *3\r\n$3\r\nSET\r\n...
//
// The parser keeps its place between feeds: a bulk string of 100 MB split over thousands of
// reads is scanned once, and an aggregate's finished elements are never parsed again.
// Malformed input throws ProtocolError naming the byte offset and what was expected;
// anything past a limit throws ReplyTooLarge as soon as a header announces it. After
// either, the parser is unusable (the stream cannot be resynchronised) and throws again.
#pragma once

#include <grove/redis/reply.hpp>

#include <cstddef>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace grove::redis {

struct Limits {
  // One bulk string (GET of a large value). Redis's own proto-max-bulk-len is 512 MB.
  std::size_t max_bulk_bytes = 64u << 20;
  // Elements of one aggregate (LRANGE of a long list).
  std::size_t max_elements = 1u << 20;
  // Nesting of aggregates inside aggregates.
  std::size_t max_depth = 32;
  // All the bytes of one reply (headers included).
  std::size_t max_reply_bytes = 256u << 20;
  // A simple string, error, integer or header line without its CRLF.
  std::size_t max_line_bytes = 64u << 10;
};

class Parser {
 public:
  explicit Parser(Limits limits = {});

  // Appends bytes read from the server.
  void feed(std::string_view bytes);
  // The next complete reply, or nullopt until more bytes are fed. RESP3 attributes (|) are
  // read and dropped. Throws ProtocolError or ReplyTooLarge.
  std::optional<Reply> next();
  // Bytes fed but not yet consumed by a returned reply (mid-reply, or the next replies).
  std::size_t buffered() const noexcept { return buffer_.size() - pos_; }
  // Whether a reply has started but not finished.
  bool mid_reply() const noexcept { return !stack_.empty() || pos_ < buffer_.size(); }
  const Limits& limits() const noexcept { return limits_; }

 private:
  struct Frame {
    Reply reply;
    std::size_t remaining;  // elements still to come
    bool attribute;         // dropped when complete
  };
  enum class Step { incomplete, value, pushed };
  Step parse_one(Reply& out);
  std::optional<std::string_view> line();
  [[noreturn]] void malformed(const std::string& what);
  [[noreturn]] void too_large(const std::string& what);
  std::int64_t parse_length(std::string_view text, char type);
  void count(std::size_t bytes);
  void compact();

  Limits limits_;
  std::string buffer_;
  std::size_t pos_ = 0;       // start of the unparsed bytes
  std::size_t line_end_ = 0;  // after the LF of the line line() returned
  std::size_t consumed_ = 0;  // bytes before buffer_[0] already discarded (for offsets)
  std::size_t reply_bytes_ = 0;
  std::vector<Frame> stack_;
  bool failed_ = false;
};

// Appends one command as a RESP array of bulk strings.
void encode_command(std::string& out, const std::vector<std::string>& args);
void encode_command(std::string& out, std::initializer_list<std::string_view> args);

}  // namespace grove::redis
