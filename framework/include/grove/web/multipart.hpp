// multipart/form-data (RFC 7578) parsed as it arrives, with no I/O: the body is fed in
// pieces of any size and the parser calls back for each part's head, each piece of its
// data, and its end. Memory is bounded by the longest part head (max_header_bytes) plus
// one boundary; part data is never buffered here. Request::form()/files() build on it; the
// fuzz target tests/fuzz/fuzz_multipart.cpp drives it.
//
//   web::MultipartParser p(*web::MultipartParser::boundary_of(content_type));
//   p.on_part = [](const web::PartHead& h) { ... h.name, h.filename, h.content_type ... };
//   p.on_data = [](std::string_view piece) { ... };
//   p.on_part_end = [] { ... };
//   while (std::size_t n = read(buf, sizeof buf))
//     if (!p.feed({buf, n})) return bad_request(p.error());   // p.too_large(): 413
//   if (!p.finish()) return bad_request(p.error());           // truncated body
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace grove::web {

// A part's head: its fields, and what Content-Disposition says of it.
struct PartHead {
  std::string name;                     // form-data; name="..."
  std::optional<std::string> filename;  // filename="..." (or filename*=UTF-8''...): a file
  std::string content_type;             // "text/plain" when the part says none
  std::vector<std::pair<std::string, std::string>> headers;
};

struct MultipartLimits {
  std::size_t max_parts = 1000;          // Flask's MAX_FORM_PARTS
  std::size_t max_header_bytes = 8192;   // one part's head
  std::size_t max_preamble = 64 * 1024;  // bytes before the first boundary
};

class MultipartParser {
 public:
  explicit MultipartParser(std::string boundary, MultipartLimits limits = {});

  std::function<void(const PartHead&)> on_part;
  std::function<void(std::string_view)> on_data;
  std::function<void()> on_part_end;

  // Consumes the next bytes of the body. False once the body is malformed or over a limit
  // (error() says which; too_large() for a limit); later calls return false at once. The
  // bytes after the closing boundary (the epilogue) are ignored.
  bool feed(std::string_view bytes);
  // The end of the body: false (with error()) unless the closing boundary was seen.
  bool finish();
  bool done() const noexcept { return state_ == State::epilogue; }
  const std::string& error() const noexcept { return error_; }
  bool too_large() const noexcept { return too_large_; }

  // The boundary parameter of a multipart/form-data Content-Type; nullopt if it is not
  // multipart/form-data or the boundary is missing, empty, or over 70 characters.
  static std::optional<std::string> boundary_of(std::string_view content_type);

 private:
  enum class State { preamble, after_boundary, head, data, epilogue, failed };
  bool fail(std::string why, bool limit = false);
  bool step();  // one transition on buf_; false when more bytes are needed or it failed
  std::string_view data_in_place(std::string_view bytes);
  std::size_t partial_delimiter(std::string_view bytes) const;
  void emit(std::string_view data);
  void end_part();
  bool parse_head(std::string_view head);

  std::string delimiter_;  // "\r\n--" + boundary
  MultipartLimits limits_;
  State state_ = State::preamble;
  std::string buf_;  // bytes not consumed yet (bounded, see the header comment)
  std::size_t parts_ = 0;
  std::size_t preamble_ = 0;
  std::string error_;
  bool too_large_ = false;
};

}  // namespace grove::web
