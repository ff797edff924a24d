// The HTTP/1.1 request parser and framer (RFC 9112), strict and incremental.
//
// Everything here is a pure computation over bytes: no I/O, no clocks, no global state,
// so a fuzzer can drive it directly (parse_stream() is the whole framer in one call).
// docs/http-parser.md explains why grove has its own parser and lists every rule.
//
// Each error carries the status the server answers with and a reason for the log. After
// any error the connection must be closed: the framing of whatever follows is unknown,
// and reading on would let a request be smuggled inside another.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace grove::http {

struct Limits {
  std::size_t max_request_line = 8 * 1024;   // longer: 414
  std::size_t max_header_bytes = 64 * 1024;  // the header section (and a trailer): 431
  std::size_t max_header_count = 100;        // fields (and trailer fields): 431
  std::uint64_t max_body = 1024 * 1024;      // decoded body: 413
  std::size_t max_chunk_line = 4 * 1024;     // chunk-size plus extensions: 400
  std::size_t max_leading_empty_lines = 8;   // CRLFs tolerated before a request line
};

enum class BodyKind : std::uint8_t { none, length, chunked };
enum class TargetForm : std::uint8_t { origin, absolute, authority, asterisk };

struct ParseError {
  int status = 0;           // 400, 413, 414, 417, 431, 501, 505
  const char* reason = "";  // static text, for logs and tests
};

// A parsed request head. The views point into the bytes given to the parser and are valid
// as long as those bytes are.
struct RequestHead {
  struct Field {
    std::string_view name, value;
  };
  std::string_view method;
  std::string_view target;
  std::string_view path;   // the target's path, still percent-encoded
  std::string_view query;  // after '?', without it
  std::string_view host;   // the Host header, or the authority of an absolute-form target
  int minor = 1;           // HTTP/1.<minor>; only 0 and 1 reach here
  TargetForm form = TargetForm::origin;
  std::vector<Field> fields;
  BodyKind body = BodyKind::none;
  std::uint64_t content_length = 0;  // when body == length
  bool keep_alive = true;
  bool expect_continue = false;
  std::size_t size = 0;  // bytes of the head, from the first byte given to the final CRLF

  void clear();
};

class RequestParser {
 public:
  enum class Status : std::uint8_t { incomplete, done, error };

  explicit RequestParser(Limits limits = {}) : limits_(limits) {}
  const Limits& limits() const noexcept { return limits_; }
  void set_limits(const Limits& limits) noexcept { limits_ = limits; }

  // Forgets any partial progress; call before the next request.
  void reset() noexcept;

  // Parses the request head at the start of `data`. Call again with the same bytes plus
  // more (they may have moved) while it returns incomplete; work done on earlier calls is
  // not repeated, so a client dribbling one byte at a time costs linear time. On done,
  // `head` is filled and head.size says where the body starts. Limits are enforced on
  // incomplete input too, so an oversized head is refused before it is complete.
  Status parse(std::string_view data, RequestHead& head);
  const ParseError& error() const noexcept { return error_; }

 private:
  Status fail(int status, const char* reason);
  Status parse_request_line(std::string_view line);
  Status parse_field_line(std::string_view data, std::size_t begin, std::size_t end);
  Status finish(std::string_view data, RequestHead& head);

  Limits limits_;
  ParseError error_;
  // Progress, as offsets into the caller's bytes.
  std::size_t pos_ = 0;           // start of the first line not yet parsed
  std::size_t line_start_ = 0;    // start of the request line (after empty lines)
  std::size_t fields_start_ = 0;  // start of the header section
  bool have_request_line_ = false;
  std::uint32_t method_len_ = 0, target_off_ = 0, target_len_ = 0;
  int minor_ = 1;
  struct FieldOffsets {
    std::uint32_t name_off, name_len, value_off, value_len;
  };
  std::vector<FieldOffsets> fields_;
};

// Decodes a chunked body (RFC 9112 §7.1) incrementally. Chunk extensions are checked
// against the grammar and ignored; trailer fields are checked like header fields and
// discarded.
class ChunkedDecoder {
 public:
  enum class Status : std::uint8_t { need_more, data, done, error };
  struct Result {
    Status status;
    std::size_t consumed;   // bytes of `in` used, whatever the status
    std::string_view data;  // with Status::data: decoded bytes, a view into `in`
  };

  explicit ChunkedDecoder(Limits limits = {}) : limits_(limits) {}
  void set_limits(const Limits& limits) noexcept { limits_ = limits; }
  void reset() noexcept;

  // Consumes bytes from `in` until it has a run of body data to return (at most
  // `max_data` bytes), reaches the end of the body, fails, or runs out of input.
  Result decode(std::string_view in, std::size_t max_data = std::size_t(-1));
  bool done() const noexcept { return state_ == State::done; }
  std::uint64_t body_size() const noexcept { return body_size_; }
  const ParseError& error() const noexcept { return error_; }

 private:
  enum class State : std::uint8_t {
    size,
    after_size,
    ws_before_semi,
    ext_name_start,
    ext_name,
    ext_ws_after_name,
    ext_value_start,
    ext_token,
    ext_qstring,
    ext_qescape,
    size_lf,
    data,
    data_cr,
    data_lf,
    trailer_start,
    trailer_name,
    trailer_value,
    trailer_lf,
    final_lf,
    done,
    failed
  };
  Result fail(std::size_t consumed, int status, const char* reason);

  Limits limits_;
  ParseError error_;
  State state_ = State::size;
  std::uint64_t chunk_size_ = 0;  // of the chunk being read
  std::uint64_t remaining_ = 0;   // of its data
  std::uint64_t body_size_ = 0;
  unsigned size_digits_ = 0;  // significant hex digits seen
  bool any_digit_ = false;
  std::size_t line_bytes_ = 0;  // of the chunk-size line
  std::size_t trailer_bytes_ = 0;
  std::size_t trailer_fields_ = 0;
};

// One request of a stream, owning its bytes (for tests and fuzz targets).
struct ParsedRequest {
  std::string method, target, path, query, host;
  int minor = 1;
  std::vector<std::pair<std::string, std::string>> fields;
  BodyKind body_kind = BodyKind::none;
  std::string body;
  bool keep_alive = true;
  bool expect_continue = false;
};

// An owning copy of a parsed head (its views point into the parser's input); no body.
ParsedRequest own(const RequestHead& head);

struct StreamResult {
  std::vector<ParsedRequest> requests;                            // in order
  RequestParser::Status end = RequestParser::Status::incomplete;  // done: all bytes used
  ParseError error;                                               // when end == error
  std::size_t consumed = 0;                                       // bytes of complete requests
};

// The framer: splits a buffer of pipelined requests into requests with decoded bodies,
// exactly as the server does, and stops at the first error or at an incomplete request.
// A request that does not keep the connection alive ends the stream (the server would
// close); the bytes after it are not read.
StreamResult parse_stream(std::string_view bytes, const Limits& limits = {});

}  // namespace grove::http
