// The gateway types: Headers, Request, Response, and the helpers around them.
#include <grove/http/gateway.hpp>

#include <catch2/catch.hpp>

using namespace grove::http;

TEST_CASE("Headers is a case-insensitive ordered multimap") {
  Headers h{{"Content-Type", "text/plain"}, {"Set-Cookie", "a=1"}};
  h.add("set-cookie", "b=2");
  CHECK(h.size() == 3);
  CHECK(h.get("content-type") == std::optional<std::string_view>("text/plain"));
  CHECK(h.get("CONTENT-TYPE").value() == "text/plain");
  CHECK_FALSE(h.get("missing"));
  CHECK(h.get_or("missing", "dflt") == "dflt");
  CHECK(h.count("SET-COOKIE") == 2);
  CHECK(h.get_all("Set-Cookie") == std::vector<std::string_view>{"a=1", "b=2"});
  CHECK(h.get_joined("set-cookie") == "a=1, b=2");
  h.set("SET-COOKIE", "c=3");
  CHECK(h.count("set-cookie") == 1);
  CHECK(h[1].value == "c=3");  // keeps the first one's position
  CHECK(h.erase("Content-Type") == 1);
  CHECK(h.size() == 1);
  std::vector<std::string> names;
  for (auto f : h) names.emplace_back(f.name);
  CHECK(names == std::vector<std::string>{"SET-COOKIE"});
  h.clear();
  CHECK(h.empty());
}

TEST_CASE("iequals compares ASCII case-insensitively and only ASCII") {
  CHECK(iequals("Content-Length", "content-LENGTH"));
  CHECK_FALSE(iequals("a", "ab"));
  CHECK_FALSE(iequals("\xc3\xa9", "\xc3\x89"));
  CHECK_FALSE(iequals("[", "{"));  // 0x5b vs 0x7b differ only by the case bit
}

TEST_CASE("url_decode and parse_query") {
  CHECK(url_decode("a%20b").value() == "a b");
  CHECK(url_decode("a+b").value() == "a+b");
  CHECK(url_decode("a+b", true).value() == "a b");
  CHECK_FALSE(url_decode("%zz"));
  CHECK_FALSE(url_decode("%4"));
  auto q = parse_query("a=1&b=x+y&c&&d=%2F&a=2&bad=%z");
  REQUIRE(q.size() == 6);
  CHECK(q[0] == std::pair<std::string, std::string>("a", "1"));
  CHECK(q[1].second == "x y");
  CHECK(q[2] == std::pair<std::string, std::string>("c", ""));
  CHECK(q[3].second == "/");
  CHECK(q[4].second == "2");
  CHECK(q[5].second == "%z");
}

TEST_CASE("lenient decoding keeps each malformed escape and decodes the others") {
  CHECK(url_decode_lenient("%41%zz%42") == "A%zzB");
  CHECK(url_decode_lenient("a+b%2", true) == "a b%2");
  CHECK(url_decode_lenient("%") == "%");
  // Once the whole value fell back to its literal text; now only the bad escape does,
  // as browsers, Python's unquote and the framework's url_decode have always done.
  auto q = parse_query("k%41=%41%zz&x=%2B+");
  REQUIRE(q.size() == 2);
  CHECK(q[0] == std::pair<std::string, std::string>("kA", "A%zz"));
  CHECK(q[1].second == "+ ");
}

TEST_CASE("a hand-made Request serves its body from memory") {
  Request r("POST", "/a%20b/c?x=1", {{"Host", "h"}}, "hello world");
  CHECK(r.method() == "POST");
  CHECK(r.path() == "/a b/c");
  CHECK(r.raw_path() == "/a%20b/c");
  CHECK(r.query() == "x=1");
  CHECK(r.host() == "h");
  CHECK(r.content_length() == 11u);
  CHECK(r.header("content-length").value() == "11");
  char buf[5];
  CHECK(r.read(buf, 5) == 5);
  CHECK(std::string(buf, 5) == "hello");
  CHECK(r.read_body() == " world");
  CHECK(r.body_done());
  CHECK(r.read(buf, 5) == 0);
}

TEST_CASE("read_body enforces its limit with 413") {
  Request r("POST", "/", {}, std::string(100, 'x'));
  try {
    r.read_body(10);
    FAIL("no exception");
  } catch (const HttpError& e) {
    CHECK(e.status() == 413);
  }
}

TEST_CASE("Request survives a move with its views intact") {
  Request a("GET", "/p?q", {{"Host", "h"}});
  Request b = std::move(a);
  CHECK(b.path() == "/p");
  CHECK(b.raw_path() == "/p");
  CHECK(b.query() == "q");
  Request c;
  c = std::move(b);
  CHECK(c.query() == "q");
}

TEST_CASE("Request target forms give the right path") {
  CHECK(Request("GET", "http://h:1/x?y").path() == "/x");
  CHECK(Request("GET", "http://h:1").path() == "/");
  CHECK(Request("OPTIONS", "*").path() == "*");
  CHECK(Request("CONNECT", "h:443").path().empty());
  CHECK_THROWS_AS(Request("GET", "/%zz"), HttpError);
  CHECK_THROWS_AS(Request("GET", "/a%00"), HttpError);
}

TEST_CASE("Response constructors set status, body and content type") {
  auto t = Response::text("hi");
  CHECK(t.status == 200);
  CHECK(t.body == "hi");
  CHECK(t.headers.get("content-type").value() == "text/plain; charset=utf-8");
  CHECK(Response::json("{}", 201).headers.get("Content-Type").value() == "application/json");
  CHECK(Response(404).status == 404);
  CHECK(reason_phrase(404) == "Not Found");
  CHECK(reason_phrase(431) == "Request Header Fields Too Large");
  CHECK(reason_phrase(799) == "Unknown");
}

TEST_CASE("streamed responses push through a BodyWriter and sources are pulled") {
  struct Collect : BodyWriter {
    std::string out;
    void write(std::string_view d) override { out.append(d); }
    void flush() override {}
  } sink;
  int n = 0;
  auto r = Response::from_source([&]() -> std::optional<std::string> {
    if (n == 3) return std::nullopt;
    return std::to_string(n++);
  });
  REQUIRE(r.streaming());
  r.stream(sink);
  CHECK(sink.out == "012");
  auto p = Response::streamed([](BodyWriter& w) {
    w.write("a");
    w.write("b");
  });
  Collect s2;
  p.stream(s2);
  CHECK(s2.out == "ab");
}
