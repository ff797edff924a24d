// Chunked transfer coding (RFC 9112 §7.1), strictly.
#include "parser_support.hpp"

using namespace grove::http;
using namespace grove::http::test;

namespace {
std::string chunked(std::string_view body) {
  return "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + std::string(body);
}

// Decodes with the decoder alone, feeding `step` bytes at a time.
std::pair<ChunkedDecoder::Status, std::string> decode(std::string_view in, std::size_t step,
                                                      const Limits& limits = {}) {
  ChunkedDecoder d(limits);
  std::string out, buffered;
  std::size_t fed = 0;
  while (true) {
    auto r = d.decode(buffered);
    if (r.status == ChunkedDecoder::Status::data) out.append(r.data);
    buffered.erase(0, r.consumed);
    if (r.status == ChunkedDecoder::Status::data) continue;
    if (r.status != ChunkedDecoder::Status::need_more) return {r.status, out};
    if (fed == in.size()) return {r.status, out};
    std::size_t take = std::min(step, in.size() - fed);
    buffered.append(in.substr(fed, take));
    fed += take;
  }
}
}  // namespace

TEST_CASE("chunked bodies decode, with extensions and trailers") {
  CHECK(one(chunked("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")).body == "hello world");
  CHECK(one(chunked("A\r\n0123456789\r\n0\r\n\r\n")).body == "0123456789");
  CHECK(one(chunked("a\r\n0123456789\r\n0000\r\n\r\n")).body == "0123456789");
  CHECK(one(chunked("0\r\n\r\n")).body.empty());
  CHECK(one(chunked("5;name=value\r\nhello\r\n0\r\n\r\n")).body == "hello");
  CHECK(one(chunked("5 ; a=b ; c\r\nhello\r\n0;x\r\n\r\n")).body == "hello");
  CHECK(one(chunked("5;a=\"q \\\" s\"\r\nhello\r\n0\r\n\r\n")).body == "hello");
  CHECK(one(chunked("5\r\nhello\r\n0\r\nX-Trailer: 1\r\nX-Other: two\r\n\r\n")).body == "hello");
}

TEST_CASE("chunked decoding gives the same result at every split") {
  std::string body = "5;e=1\r\nhello\r\n1\r\n \r\n10\r\n0123456789abcdef\r\n0\r\nT: v\r\n\r\n";
  for (std::size_t step : {1, 2, 3, 7, 64}) {
    INFO(step);
    auto [status, out] = decode(body, step);
    CHECK(status == ChunkedDecoder::Status::done);
    CHECK(out == "hello 0123456789abcdef");
  }
}

TEST_CASE("invalid chunked framing gets 400") {
  const char* cases[] = {
      "\r\nhello\r\n0\r\n\r\n",    // no size
      "g\r\nhello\r\n0\r\n\r\n",   // not hex
      "-5\r\nhello\r\n0\r\n\r\n",  // sign
      "+5\r\nhello\r\n0\r\n\r\n",
      "0x5\r\nhello\r\n0\r\n\r\n",  // 0x prefix
      " 5\r\nhello\r\n0\r\n\r\n",   // leading space
      "5 \r\nhello\r\n0\r\n\r\n",   // trailing space without an extension
      "5\nhello\r\n0\r\n\r\n",      // bare LF after the size
      "5\rhello\r\n0\r\n\r\n",      // bare CR after the size
      "5\r\nhello\n0\r\n\r\n",      // bare LF after data
      "5\r\nhelloX\r\n0\r\n\r\n",   // data longer than the size
      "5\r\nhell\r\n0\r\n\r\n",     // shorter (CRLF lands inside data, then junk)
      "5;\r\nhello\r\n0\r\n\r\n",   // empty extension name
      "5;=v\r\nhello\r\n0\r\n\r\n",
      "5;a=\r\nhello\r\n0\r\n\r\n",        // empty extension value
      "5;a=\"open\r\nhello\r\n0\r\n\r\n",  // unterminated quoted string
      "5;a b\r\nhello\r\n0\r\n\r\n",
      "5;a\x01\r\nhello\r\n0\r\n\r\n",
      "5\r\nhello\r\n0\r\n\n",             // bare LF at the end
      "5\r\nhello\r\n0\r\nT: v\n\r\n",     // bare LF in the trailer
      "5\r\nhello\r\n0\r\nT : v\r\n\r\n",  // whitespace before the colon in a trailer
      "5\r\nhello\r\n0\r\n T: v\r\n\r\n",  // obs-fold in the trailer
      "5\r\nhello\r\n0\r\nT\r\n\r\n",      // trailer without a colon
      "5\r\nhello\r\n0\r\n\rx",            // bare CR at the end
  };
  for (const char* c : cases) {
    INFO(c);
    CHECK(error_status(chunked(c)) == 400);
  }
  // NUL in a trailer field.
  CHECK(error_status(chunked(std::string("5\r\nhello\r\n0\r\nT: a\0b\r\n\r\n", 23))) == 400);
}

TEST_CASE("chunk-size overflow gets 400, not a wrapped size") {
  CHECK(error_status(chunked("10000000000000000\r\nx\r\n0\r\n\r\n")) == 400);  // 2^64
  CHECK(error_status(chunked("1000000000000000a\r\nx\r\n0\r\n\r\n")) == 400);
  CHECK(error_status(chunked("ffffffffffffffffffff\r\nx\r\n0\r\n\r\n")) == 400);
  // Leading zeros are not significant digits.
  CHECK(one(chunked("0000000000000000000000005\r\nhello\r\n0\r\n\r\n")).body == "hello");
}

TEST_CASE("a chunked body over the limit gets 413, decided by the chunk sizes") {
  Limits limits;
  limits.max_body = 8;
  CHECK(error_status(chunked("9\r\n"), limits) == 413);  // before the data arrives
  CHECK(error_status(chunked("5\r\nhello\r\n4\r\n"), limits) == 413);
  CHECK(error_status(chunked("5\r\nhello\r\n3\r\nabc\r\n0\r\n\r\n"), limits) == 0);
  CHECK(error_status(chunked("fffffffffffffff\r\n")) == 413);
}

TEST_CASE("the chunk-size line and the trailer are bounded") {
  Limits limits;
  limits.max_chunk_line = 16;
  CHECK(error_status(chunked("5;aaaaaaaaaaaaaaaaaaaaaaaaa\r\nhello\r\n0\r\n\r\n"), limits) == 400);
  limits = {};
  limits.max_header_count = 2;
  CHECK(error_status(chunked("0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n"), limits) == 431);
  limits = {};
  limits.max_header_bytes = 16;
  CHECK(error_status(chunked("0\r\nA: 12345678901234567890\r\n\r\n"), limits) == 431);
}

TEST_CASE("the decoder stops at the end of the body") {
  ChunkedDecoder d;
  std::string in = "3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\n";
  std::string out;
  std::size_t used = 0;
  while (true) {
    auto r = d.decode(std::string_view(in).substr(used));
    used += r.consumed;
    if (r.status == ChunkedDecoder::Status::data) out.append(r.data);
    else break;
  }
  CHECK(d.done());
  CHECK(out == "abc");
  CHECK(in.substr(used) == "GET / HTTP/1.1\r\n");
  CHECK(d.body_size() == 3);
}
