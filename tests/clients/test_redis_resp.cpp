// grove::redis's RESP parser and encoder, without a server: every reply type of RESP2 and
// RESP3, nesting, replies split at every byte, a big bulk string over many reads, limits,
// and malformed input (a ProtocolError naming the offset, never a hang or a wrong value).
#include <grove/redis/resp.hpp>

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace grove::redis;

namespace {

// All replies in `wire`, fed whole.
std::vector<Reply> parse_all(std::string_view wire, Limits limits = {}) {
  Parser p(limits);
  p.feed(wire);
  std::vector<Reply> out;
  while (auto r = p.next()) out.push_back(std::move(*r));
  return out;
}

Reply parse_one(std::string_view wire) {
  std::vector<Reply> r = parse_all(wire);
  REQUIRE(r.size() == 1);
  return r[0];
}

// Feeds `wire` one byte at a time; collects the replies as they complete.
std::vector<Reply> parse_bytewise(std::string_view wire) {
  Parser p;
  std::vector<Reply> out;
  for (char c : wire) {
    p.feed(std::string_view(&c, 1));
    while (auto r = p.next()) out.push_back(std::move(*r));
  }
  return out;
}

}  // namespace

TEST_CASE("redis resp: RESP2 scalars", "[redis][resp]") {
  CHECK(parse_one("+OK\r\n") == Reply::scalar(ReplyType::simple_string, "OK"));
  Reply err = parse_one("-WRONGTYPE Operation against a key\r\n");
  CHECK(err.is_error());
  CHECK(err.error() == "WRONGTYPE Operation against a key");
  CHECK_THROWS_AS(err.throw_if_error(), ServerError);
  CHECK(parse_one(":-9223372036854775808\r\n").as_integer() == INT64_MIN);
  CHECK(parse_one(":42\r\n").as_integer() == 42);
  CHECK(parse_one("$5\r\nhello\r\n").as_string() == "hello");
  CHECK(parse_one("$0\r\n\r\n").as_string().empty());
  // Binary-safe: CR, LF and NUL inside a bulk string.
  CHECK(parse_one(std::string_view("$6\r\na\r\n\0bc\r\n", 12)).as_string() ==
        std::string("a\r\n\0bc", 6));
  CHECK(parse_one("$-1\r\n").is_nil());
  CHECK(parse_one("*-1\r\n").is_nil());
  CHECK_FALSE(parse_one("$-1\r\n").as_optional_string().has_value());
}

TEST_CASE("redis resp: RESP3 scalars", "[redis][resp]") {
  CHECK(parse_one("_\r\n").is_nil());
  CHECK(parse_one("#t\r\n").as_bool());
  CHECK_FALSE(parse_one("#f\r\n").as_bool());
  CHECK(parse_one(",3.25\r\n").as_double() == 3.25);
  CHECK(parse_one(",-inf\r\n").type() == ReplyType::double_value);
  CHECK(parse_one("(3492890328409238509324850943850943825024385\r\n").str() ==
        "3492890328409238509324850943850943825024385");
  Reply blob_error = parse_one("!21\r\nSYNTAX invalid syntax\r\n");
  CHECK(blob_error.is_error());
  CHECK(blob_error.error() == "SYNTAX invalid syntax");
  Reply verbatim = parse_one("=15\r\ntxt:Some string\r\n");
  CHECK(verbatim.as_string() == "Some string");
}

TEST_CASE("redis resp: aggregates and nesting", "[redis][resp]") {
  Reply a = parse_one("*3\r\n:1\r\n$3\r\nfoo\r\n*2\r\n+x\r\n$-1\r\n");
  REQUIRE(a.type() == ReplyType::array);
  REQUIRE(a.elements().size() == 3);
  CHECK(a.elements()[0].as_integer() == 1);
  CHECK(a.elements()[1].as_string() == "foo");
  CHECK(a.elements()[2].elements()[0].as_string() == "x");
  CHECK(a.elements()[2].elements()[1].is_nil());
  CHECK(parse_one("*0\r\n").elements().empty());

  Reply m = parse_one("%2\r\n+first\r\n:1\r\n+second\r\n%1\r\n+in\r\n#t\r\n");
  REQUIRE(m.type() == ReplyType::map);
  REQUIRE(m.elements().size() == 4);
  CHECK(m.elements()[3].type() == ReplyType::map);
  CHECK(parse_one("*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n").as_pairs() ==
        std::vector<std::pair<std::string, std::string>>{{"a", "1"}, {"b", "2"}});
  CHECK(parse_one("~2\r\n+a\r\n+b\r\n").type() == ReplyType::set);
  Reply push = parse_one(">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n");
  CHECK(push.type() == ReplyType::push);
  CHECK(push.elements()[2].as_string() == "hi");

  // Ten levels deep.
  std::string deep;
  for (int i = 0; i < 10; ++i) deep += "*1\r\n";
  deep += ":7\r\n";
  Reply d = parse_one(deep);
  for (int i = 0; i < 10; ++i) d = Reply(d.elements()[0]);
  CHECK(d.as_integer() == 7);
}

TEST_CASE("redis resp: attributes are read and dropped, at the top and inside aggregates",
          "[redis][resp]") {
  CHECK(parse_one("|1\r\n+ttl\r\n:3600\r\n$3\r\nval\r\n").as_string() == "val");
  Reply a = parse_one("*2\r\n:1\r\n|1\r\n+key-popularity\r\n%1\r\n$1\r\na\r\n,0.19\r\n:2\r\n");
  REQUIRE(a.elements().size() == 2);
  CHECK(a.elements()[1].as_integer() == 2);
}

TEST_CASE("redis resp: several replies in one read, and every split of them", "[redis][resp]") {
  const std::string wire =
      "+OK\r\n:5\r\n$5\r\nhello\r\n*2\r\n$1\r\na\r\n*1\r\n_\r\n%1\r\n+k\r\n,1.5\r\n$-1\r\n";
  std::vector<Reply> whole = parse_all(wire);
  REQUIRE(whole.size() == 6);
  CHECK(parse_bytewise(wire) == whole);
  // Every split point into two reads.
  for (std::size_t cut = 0; cut <= wire.size(); ++cut) {
    Parser p;
    std::vector<Reply> got;
    p.feed(std::string_view(wire).substr(0, cut));
    while (auto r = p.next()) got.push_back(std::move(*r));
    p.feed(std::string_view(wire).substr(cut));
    while (auto r = p.next()) got.push_back(std::move(*r));
    INFO("split at " << cut);
    CHECK(got == whole);
    CHECK(p.buffered() == 0);
    CHECK_FALSE(p.mid_reply());
  }
}

TEST_CASE("redis resp: a 32 MB bulk string arriving in 4 KB reads", "[redis][resp]") {
  const std::size_t size = 32u << 20;
  std::string value(size, 'v');
  value[12345] = '\r';
  value[12346] = '\n';
  std::string wire = "$" + std::to_string(size) + "\r\n" + value + "\r\n+after\r\n";
  Parser p;
  std::vector<Reply> got;
  for (std::size_t at = 0; at < wire.size(); at += 4096) {
    p.feed(std::string_view(wire).substr(at, 4096));
    while (auto r = p.next()) got.push_back(std::move(*r));
    if (got.empty() && at + 4096 < size) CHECK(p.mid_reply());
  }
  REQUIRE(got.size() == 2);
  CHECK(got[0].str().size() == size);
  CHECK(got[0].str() == value);
  CHECK(got[1].as_string() == "after");
}

TEST_CASE("redis resp: limits refuse a reply as soon as its header announces it", "[redis][resp]") {
  SECTION("a bulk string") {
    Parser p({.max_bulk_bytes = 1024});
    p.feed("$1025\r\n");  // no data yet: refused on the header alone
    CHECK_THROWS_WITH(p.next(), Catch::Contains("max_bulk_bytes = 1024"));
    // The parser stays failed: the stream cannot be resynchronised.
    CHECK_THROWS_AS(p.next(), ProtocolError);
  }
  SECTION("an aggregate's count") {
    Parser p({.max_elements = 10});
    p.feed("*11\r\n");
    CHECK_THROWS_AS(p.next(), ReplyTooLarge);
  }
  SECTION("a map counts its pairs") {
    Parser p({.max_elements = 10});
    p.feed("%11\r\n");
    CHECK_THROWS_AS(p.next(), ReplyTooLarge);
  }
  SECTION("nesting") {
    Parser p({.max_depth = 4});
    p.feed("*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n");
    CHECK_THROWS_WITH(p.next(), Catch::Contains("max_depth = 4"));
  }
  SECTION("the whole reply") {
    Parser p({.max_reply_bytes = 100});
    std::string wire = "*20\r\n";
    for (int i = 0; i < 20; ++i) wire += "$5\r\nhello\r\n";
    p.feed(wire);
    CHECK_THROWS_WITH(p.next(), Catch::Contains("max_reply_bytes = 100"));
  }
  SECTION("a line without its end") {
    Parser p({.max_line_bytes = 16});
    p.feed("+" + std::string(100, 'a'));
    CHECK_THROWS_AS(p.next(), ProtocolError);
  }
  SECTION("a too long line whose CR came but not its LF (found by fuzz_redis_resp)") {
    Parser p({.max_line_bytes = 16});
    p.feed("+" + std::string(100, 'a') + "\r");
    CHECK_THROWS_AS(p.next(), ProtocolError);
  }
  SECTION("just under the limits passes") {
    Parser p({.max_bulk_bytes = 5, .max_elements = 2, .max_depth = 2});
    p.feed("*2\r\n*1\r\n$5\r\nhello\r\n:1\r\n");
    auto r = p.next();
    REQUIRE(r);
    CHECK(r->elements()[0].elements()[0].as_string() == "hello");
  }
}

TEST_CASE("redis resp: malformed input is a ProtocolError naming the offset", "[redis][resp]") {
  const char* bad[] = {
      "?what\r\n",                  // unknown type byte
      ":12a\r\n",                   // not an integer
      ":\r\n",                      // empty integer
      ":99999999999999999999\r\n",  // overflows 64 bits
      "$abc\r\nxyz\r\n",            // length not a number
      "$-2\r\n",                    // negative length
      "$3\r\nabcd\r\n",             // data longer than announced
      "*-5\r\n",                    // negative count
      "%-1\r\n",                    // only $ and * have nulls
      "+OK\n",                      // LF without CR
      "+OK\rX\r\n",                 // CR without LF
      "#x\r\n",                     // boolean not t/f
      ",1.5x\r\n",                  // double with junk
      "(12a\r\n",                   // big number with junk
      "_1\r\n",                     // null with a value
      "=3\r\ntxt\r\n",              // verbatim without "fmt:"
      "\r\n",                       // an empty line
      "*2\r\n:1\r\n?\r\n",          // bad element inside an aggregate
  };
  for (const char* wire : bad) {
    INFO("input: " << wire);
    Parser p;
    p.feed(wire);
    CHECK_THROWS_AS(p.next(), ProtocolError);
  }
  // An incomplete line is not an error: it waits for more.
  Parser p;
  p.feed("+OK\r\n!x");
  CHECK(p.next());
  CHECK_FALSE(p.next());
  CHECK(p.mid_reply());
}

TEST_CASE("redis resp: the offset in the message counts bytes already consumed", "[redis][resp]") {
  Parser p;
  p.feed("+OK\r\n:1\r\n");
  CHECK(p.next());
  CHECK(p.next());
  p.feed("?\r\n");
  CHECK_THROWS_WITH(p.next(),
                    Catch::Contains("at byte 9") && Catch::Contains("unknown type byte '?'"));
}

TEST_CASE("redis resp: typed access refuses the wrong type with a TypeError that says why",
          "[redis][resp]") {
  CHECK_THROWS_WITH(parse_one("$-1\r\n").as_string(), Catch::Contains("as_optional_"));
  CHECK_THROWS_AS(parse_one("$3\r\nabc\r\n").as_integer(), TypeError);
  CHECK(parse_one("$2\r\n42\r\n").as_integer() == 42);  // GET of a counter
  CHECK_THROWS_AS(parse_one("+OK\r\n").elements(), TypeError);
  CHECK_THROWS_AS(parse_one(":2\r\n").as_bool(), TypeError);
  CHECK_THROWS_WITH(parse_one("-ERR no\r\n").as_string(), Catch::Contains("refused"));
}

TEST_CASE("redis resp: the encoder writes arrays of bulk strings, binary-safe", "[redis][resp]") {
  std::string wire;
  encode_command(wire, {"SET", "k", std::string_view("a\r\n\0", 4)});
  CHECK(wire == std::string("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$4\r\na\r\n\0\r\n", 30));
  // What the encoder writes, the parser reads back as an array of the same strings.
  std::vector<std::string> args{"HSET", "h", "", std::string(70000, 'x')};
  std::string w2;
  encode_command(w2, args);
  Reply r = parse_one(w2);
  REQUIRE(r.elements().size() == 4);
  for (std::size_t i = 0; i < args.size(); ++i) CHECK(r.elements()[i].as_string() == args[i]);
  CHECK_THROWS_AS(encode_command(wire, std::vector<std::string>{}), std::invalid_argument);
}
