// libFuzzer target: grove::redis's RESP2/RESP3 parser and command encoder
// (clients/src/redis_resp.cpp, redis_reply.cpp), as the connection drives them with bytes
// from a server.
//
// Input: the first byte picks a mode, the rest is the data.
//   - as a reply stream: fed whole, the parser yields replies and ends in an error or not;
//     fed in pieces (sizes from the data), it yields exactly the same replies and the same
//     outcome; every reply, written back as RESP3, parses to itself;
//   - as a command: split on the byte 0xff into arguments, encode_command's output parses to
//     an array of exactly those arguments as bulk strings.
#include <grove/redis/resp.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace redis = grove::redis;

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_redis_resp: invariant broken: %s\n", what);
  std::abort();
}
#define CHECK(cond)           \
  do {                        \
    if (!(cond)) fail(#cond); \
  } while (0)

// Small limits, so that inputs of a few KB reach every refusal.
constexpr redis::Limits kLimits{.max_bulk_bytes = 512,
                                .max_elements = 64,
                                .max_depth = 8,
                                .max_reply_bytes = 2048,
                                .max_line_bytes = 128};

enum class End { more, protocol_error, too_large };

struct Outcome {
  std::vector<redis::Reply> replies;
  End end = End::more;
};

// Feeds `data` in pieces of the given sizes (the last piece takes the rest).
Outcome parse(std::string_view data, const std::vector<std::size_t>& pieces) {
  Outcome out;
  redis::Parser p(kLimits);
  std::size_t at = 0, i = 0;
  try {
    while (at < data.size()) {
      std::size_t n = i < pieces.size() ? pieces[i++] : data.size() - at;
      n = std::min(std::max<std::size_t>(n, 1), data.size() - at);
      p.feed(data.substr(at, n));
      at += n;
      while (auto r = p.next()) out.replies.push_back(std::move(*r));
    }
  } catch (const redis::ReplyTooLarge&) {
    out.end = End::too_large;
  } catch (const redis::ProtocolError&) {
    out.end = End::protocol_error;
  }
  return out;
}

void write_resp3(std::string& out, const redis::Reply& r) {
  using T = redis::ReplyType;
  auto line = [&](char type, std::string_view text) {
    out += type;
    out.append(text);
    out += "\r\n";
  };
  auto blob = [&](char type, std::string_view text) {
    line(type, std::to_string(text.size()));
    out.append(text);
    out += "\r\n";
  };
  switch (r.type()) {
    case T::simple_string: line('+', r.str()); return;
    case T::error: blob('!', r.str()); return;
    case T::integer: line(':', std::to_string(r.as_integer())); return;
    case T::bulk_string: blob('$', r.str()); return;
    case T::nil: line('_', ""); return;
    case T::double_value: line(',', r.str()); return;
    case T::boolean: line('#', r.as_bool() ? "t" : "f"); return;
    case T::big_number: line('(', r.str()); return;
    case T::array:
    case T::map:
    case T::set:
    case T::push: {
      const char type = r.type() == T::map    ? '%'
                        : r.type() == T::set  ? '~'
                        : r.type() == T::push ? '>'
                                              : '*';
      std::size_t n = r.elements().size();
      line(type, std::to_string(r.type() == T::map ? n / 2 : n));
      for (const redis::Reply& e : r.elements()) write_resp3(out, e);
      return;
    }
  }
}

void as_stream(std::string_view data) {
  Outcome whole = parse(data, {});
  // Piece sizes taken from the data itself: a different split for every input.
  std::vector<std::size_t> pieces;
  for (unsigned char c : data.substr(0, 64)) pieces.push_back(c % 17 + 1);
  Outcome split = parse(data, pieces);
  CHECK(split.end == whole.end);
  CHECK(split.replies == whole.replies);
  std::vector<std::size_t> bytewise(data.size(), 1);
  if (data.size() <= 512) {
    Outcome one = parse(data, bytewise);
    CHECK(one.end == whole.end);
    CHECK(one.replies == whole.replies);
  }
  for (const redis::Reply& r : whole.replies) {
    std::string again;
    write_resp3(again, r);
    redis::Parser p({.max_bulk_bytes = 1 << 20,
                     .max_elements = 1 << 16,
                     .max_depth = 64,
                     .max_reply_bytes = 1 << 24,
                     .max_line_bytes = 1 << 16});
    p.feed(again);
    std::optional<redis::Reply> back = p.next();
    CHECK(back.has_value());
    CHECK(*back == r);
    CHECK(p.buffered() == 0);
  }
}

void as_command(std::string_view data) {
  std::vector<std::string> args;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= data.size(); ++i)
    if (i == data.size() || static_cast<unsigned char>(data[i]) == 0xff) {
      args.emplace_back(data.substr(start, i - start));
      start = i + 1;
    }
  std::string wire;
  redis::encode_command(wire, args);
  redis::Parser p({.max_bulk_bytes = 1 << 20, .max_elements = 1 << 16});
  p.feed(wire);
  std::optional<redis::Reply> r = p.next();
  CHECK(r.has_value());
  CHECK(r->type() == redis::ReplyType::array);
  CHECK(r->elements().size() == args.size());
  for (std::size_t i = 0; i < args.size(); ++i) {
    CHECK(r->elements()[i].type() == redis::ReplyType::bulk_string);
    CHECK(r->elements()[i].str() == args[i]);
  }
  CHECK(p.buffered() == 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 4 == 3) as_command(rest);
  else as_stream(rest);
  return 0;
}
