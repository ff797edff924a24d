// web::Json: parsing, serialisation, limits.
#include <grove/web/json.hpp>

#include <catch2/catch.hpp>

using grove::web::Json;
using grove::web::JsonError;

TEST_CASE("web: json: objects keep insertion order and serialise compactly", "[json]") {
  Json j = {{"statuses", Json::array({200, 200, 200})}, {"elapsed_ms", 52}};
  CHECK(j.dump() == R"({"statuses":[200,200,200],"elapsed_ms":52})");
  Json m = {{"message", "Hello, World!"}};
  CHECK(m.dump() == R"({"message":"Hello, World!"})");
  j["ok"] = true;
  CHECK(j.dump() == R"({"statuses":[200,200,200],"elapsed_ms":52,"ok":true})");
}

TEST_CASE("web: json: round trip of every kind", "[json]") {
  const char* text =
      R"({"a":null,"b":true,"c":false,"d":-12,"e":1.5,"f":"x\"y\\z\n","g":[1,[2,[]],{}],"h":{"i":{}}})";
  Json j = Json::parse(text);
  CHECK(j.dump() == text);
  CHECK(j["d"].as_int() == -12);
  CHECK(j["e"].as_double() == 1.5);
  CHECK(j["f"].as_string() == "x\"y\\z\n");
  CHECK(j.at("g").size() == 3);
  CHECK(j.value<int>("missing", 7) == 7);
  CHECK(j.value<std::string>("f", "") == "x\"y\\z\n");
}

TEST_CASE("web: json: numbers", "[json]") {
  CHECK(Json::parse("0").as_int() == 0);
  CHECK(Json::parse("-0").is_int());
  CHECK(Json::parse("9223372036854775807").as_int() == INT64_MAX);
  CHECK(Json::parse("9223372036854775808").is_number());  // beyond int64: a double
  CHECK(Json::parse("1e3").as_double() == 1000.0);
  CHECK(Json::parse("1.25E-2").as_double() == 0.0125);
  CHECK(Json(2.0).dump() == "2.0");
  CHECK(Json(0.1).dump() == "0.1");
  CHECK_THROWS_AS(Json(std::numeric_limits<double>::infinity()).dump(), JsonError);
  for (const char* bad : {"01", "1.", ".5", "-", "+1", "1e", "0x10", "NaN", "Infinity"})
    CHECK_THROWS_AS(Json::parse(bad), JsonError);
}

TEST_CASE("web: json: strings, escapes and UTF-8", "[json]") {
  CHECK(Json::parse(R"("\u00e9")").as_string() == "\xc3\xa9");
  CHECK(Json::parse(R"("\ud83d\ude00")").as_string() == "\xf0\x9f\x98\x80");
  CHECK(Json::parse("\"\xe2\x82\xac\"").as_string() == "\xe2\x82\xac");
  CHECK_THROWS_AS(Json::parse(R"("\ud83d")"), JsonError);       // lone high surrogate
  CHECK_THROWS_AS(Json::parse(R"("\ude00")"), JsonError);       // lone low surrogate
  CHECK_THROWS_AS(Json::parse("\"\xc0\xaf\""), JsonError);      // overlong
  CHECK_THROWS_AS(Json::parse("\"\xed\xa0\x80\""), JsonError);  // encoded surrogate
  CHECK_THROWS_AS(Json::parse("\"a\nb\""), JsonError);          // raw control character
  CHECK_THROWS_AS(Json::parse(R"("\x")"), JsonError);
  CHECK(Json(std::string("\x01\x1f")).dump() == R"("\u0001\u001f")");
}

TEST_CASE("web: json: malformed documents name the offset", "[json]") {
  for (const char* bad : {"", "{", "[1,]", "{\"a\":1,}", "{\"a\" 1}", "{a:1}", "[1 2]", "tru",
                          "nul", "[1]x", "'a'", "{\"a\":1}}", "[[[]]"}) {
    INFO(bad);
    CHECK_THROWS_AS(Json::parse(bad), JsonError);
  }
  try {
    Json::parse("[1, 2, x]");
    FAIL("no throw");
  } catch (const JsonError& e) {
    CHECK(std::string(e.what()).find("offset 7") != std::string::npos);
  }
}

TEST_CASE("web: json: nesting is limited, and deep input costs no stack", "[json]") {
  std::string deep(64, '[');
  deep += std::string(64, ']');
  CHECK_NOTHROW(Json::parse(deep));
  std::string deeper(65, '[');
  deeper += std::string(65, ']');
  CHECK_THROWS_WITH(Json::parse(deeper), Catch::Contains("nesting deeper than 64"));
  std::string huge(1'000'000, '[');
  CHECK_THROWS_AS(Json::parse(huge), JsonError);  // rejected at depth 65, no recursion
  CHECK_NOTHROW(Json::parse(std::string(200, '[') + std::string(200, ']'), 1000));
}

TEST_CASE("web: json: wrong-kind access throws JsonError", "[json]") {
  Json j = Json::parse(R"({"a":"s"})");
  CHECK_THROWS_AS(j.at("a").as_int(), JsonError);
  CHECK_THROWS_AS(j.at("b"), JsonError);
  CHECK_THROWS_AS(Json(1).as_string(), JsonError);
  Json arr = Json::array({1});
  CHECK_THROWS_AS(arr[5], JsonError);
  CHECK(Json::parse("1.0") == Json(1));
}
