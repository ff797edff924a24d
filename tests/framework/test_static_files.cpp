// Static files and send_file through the test client (the server's own serialization in
// memory): types, validators, conditional and range requests, downloads, caching, and the
// traversal payloads that must stay inside the folder. The same over real sockets:
// test_static_http.cpp.
#include "static_support.hpp"
#include "web_support.hpp"

#include <fcntl.h>

using namespace grove::web;
using namespace grove::web::test;

namespace {
struct StaticApp {
  StaticTree tree;
  App app;
  StaticApp() { app.serve_static(tree.folder()); }
  TestResponse get(const std::string& target, Headers headers = {}) {
    return app.test_client().get(target, {.headers = std::move(headers)});
  }
};
}  // namespace

TEST_CASE("static: files come with their type, length, validators and caching", "[static]") {
  StaticApp s;
  auto r = s.get("/static/hello.txt");
  CHECK(r.status == 200);
  CHECK(r.body == "Hello, static world!\n");
  CHECK(r.headers.get("Content-Type", "") == "text/plain; charset=utf-8");
  CHECK(r.headers.get("Content-Length", "") == "21");
  CHECK(r.headers.get("Last-Modified", "") == StaticTree::kMtimeText);
  CHECK(r.headers.get("ETag", "").starts_with("\""));
  CHECK(r.headers.get("Accept-Ranges", "") == "bytes");
  CHECK(r.headers.get("Cache-Control", "") == "no-cache");
  CHECK_FALSE(r.headers.contains("Content-Disposition"));

  CHECK(s.get("/static/css/app.css").headers.get("Content-Type", "") == "text/css; charset=utf-8");
  auto png = s.get("/static/logo.png");
  CHECK(png.headers.get("Content-Type", "") == "image/png");
  CHECK(png.body.size() == 108);
  CHECK(s.get("/static/noext").headers.get("Content-Type", "") == "application/octet-stream");
  CHECK(s.get("/static/alias.txt").body == "Hello, static world!\n");  // a symlink inside
}

TEST_CASE("static: HEAD has the GET's head and no body", "[static]") {
  StaticApp s;
  auto r = s.app.test_client().head("/static/data.bin");
  CHECK(r.status == 200);
  CHECK(r.body.empty());
  CHECK(r.headers.get("Content-Length", "") == "100000");
}

TEST_CASE("static: url_for builds the static endpoint", "[static][urls]") {
  StaticApp s;
  Blueprint admin("admin", "/admin");
  admin.serve_static(s.tree.folder(), "/assets");
  s.app.register_blueprint(admin);
  s.app.route("/links", [] {
    return url_for("static", {{"filename", "css/app.css"}}) + " " +
           url_for("admin.static", {{"filename", "hello.txt"}});
  });
  CHECK(s.get("/links").body == "/static/css/app.css /admin/assets/hello.txt");
  CHECK(s.get("/admin/assets/hello.txt").body == "Hello, static world!\n");
}

// (An encoded NUL never reaches the app: the server answers 400; test_static_http.cpp.)
TEST_CASE("static: traversal payloads are 404 and never show the secret", "[static][security]") {
  StaticApp s;
  for (std::string target :
       {"/static/../secret.txt", "/static/%2e%2e/secret.txt", "/static/%2E%2E%2Fsecret.txt",
        "/static/css/../../secret.txt", "/static/css/%2e%2e/%2e%2e/secret.txt",
        "/static/..%2fsecret.txt", "/static/%2fetc/passwd", "/static//etc/passwd",
        "/static/escape.txt", "/static/absolute.txt", "/static/etc/passwd", "/static/css",
        "/static/fifo", "/static/missing.txt"}) {
    INFO(target);
    auto r = s.get(target);
    CHECK((r.status == 404 || r.status == 400));
    CHECK(r.body.find("top secret") == std::string::npos);
    CHECK(r.body.find("root:") == std::string::npos);
  }
}

TEST_CASE("static: safe_join refuses what would leave the folder by its spelling",
          "[static][security]") {
  CHECK(safe_join("/srv", "a/b.txt") == "/srv/a/b.txt");
  CHECK(safe_join("/srv/", "./a") == "/srv/./a");
  CHECK(safe_join("/srv", "a..b") == "/srv/a..b");  // dots inside a name are a name
  CHECK_FALSE(safe_join("/srv", ".."));
  CHECK_FALSE(safe_join("/srv", "../x"));
  CHECK_FALSE(safe_join("/srv", "a/../../x"));
  CHECK_FALSE(safe_join("/srv", "a/.."));
  CHECK_FALSE(safe_join("/srv", "/etc/passwd"));
  CHECK_FALSE(safe_join("/srv", std::string_view("a\0b", 3)));
  CHECK_FALSE(safe_join("/srv", ""));
}

TEST_CASE("static: If-None-Match and If-Modified-Since give 304 without a body",
          "[static][conditional]") {
  StaticApp s;
  auto first = s.get("/static/hello.txt");
  std::string etag = first.headers.get("ETag", "");
  auto r = s.get("/static/hello.txt", {{"If-None-Match", etag}});
  CHECK(r.status == 304);
  CHECK(r.body.empty());
  CHECK(r.headers.get("ETag", "") == etag);
  CHECK_FALSE(r.headers.contains("Content-Type"));
  CHECK(s.get("/static/hello.txt", {{"If-None-Match", "\"other\", " + etag}}).status == 304);
  CHECK(s.get("/static/hello.txt", {{"If-None-Match", "W/" + etag}}).status ==
        304);  // weak comparison
  CHECK(s.get("/static/hello.txt", {{"If-None-Match", "*"}}).status == 304);
  CHECK(s.get("/static/hello.txt", {{"If-None-Match", "\"other\""}}).status == 200);

  CHECK(s.get("/static/hello.txt", {{"If-Modified-Since", StaticTree::kMtimeText}}).status == 304);
  CHECK(s.get("/static/hello.txt", {{"If-Modified-Since", "Tuesday, 14-Nov-23 22:13:20 GMT"}})
            .status == 304);
  CHECK(s.get("/static/hello.txt", {{"If-Modified-Since", "Tue Nov 14 22:13:20 2023"}}).status ==
        304);
  CHECK(
      s.get("/static/hello.txt", {{"If-Modified-Since", "Tue, 14 Nov 2023 22:13:19 GMT"}}).status ==
      200);
  CHECK(s.get("/static/hello.txt", {{"If-Modified-Since", "not a date"}}).status == 200);
  // If-None-Match wins over If-Modified-Since (RFC 9110 §13.2.2).
  CHECK(s.get("/static/hello.txt",
              {{"If-None-Match", "\"other\""}, {"If-Modified-Since", StaticTree::kMtimeText}})
            .status == 200);
}

TEST_CASE("static: If-Match and If-Unmodified-Since that fail give 412", "[static][conditional]") {
  StaticApp s;
  std::string etag = s.get("/static/hello.txt").headers.get("ETag", "");
  CHECK(s.get("/static/hello.txt", {{"If-Match", "\"other\""}}).status == 412);
  CHECK(s.get("/static/hello.txt", {{"If-Match", etag}}).status == 200);
  CHECK(s.get("/static/hello.txt", {{"If-Match", "W/" + etag}}).status ==
        412);  // strong comparison
  CHECK(s.get("/static/hello.txt", {{"If-Unmodified-Since", "Mon, 13 Nov 2023 00:00:00 GMT"}})
            .status == 412);
  CHECK(s.get("/static/hello.txt", {{"If-Unmodified-Since", StaticTree::kMtimeText}}).status ==
        200);
}

TEST_CASE("static: a single Range gives 206 with Content-Range", "[static][range]") {
  StaticApp s;
  const std::string all = StaticTree::digits(100000);
  auto r = s.get("/static/data.bin", {{"Range", "bytes=10-19"}});
  CHECK(r.status == 206);
  CHECK(r.body == all.substr(10, 10));
  CHECK(r.headers.get("Content-Range", "") == "bytes 10-19/100000");
  CHECK(r.headers.get("Content-Length", "") == "10");

  r = s.get("/static/data.bin", {{"Range", "bytes=99990-"}});
  CHECK(r.status == 206);
  CHECK(r.body == all.substr(99990));
  r = s.get("/static/data.bin", {{"Range", "bytes=-5"}});
  CHECK(r.body == all.substr(99995));
  CHECK(r.headers.get("Content-Range", "") == "bytes 99995-99999/100000");
  r = s.get("/static/data.bin", {{"Range", "bytes=99000-200000"}});  // clipped to the end
  CHECK(r.status == 206);
  CHECK(r.body.size() == 1000);
  r = s.get("/static/data.bin", {{"Range", "bytes=-200000"}});  // a suffix longer than the file
  CHECK(r.status == 206);
  CHECK(r.body == all);
}

TEST_CASE("static: an unsatisfiable Range gives 416, a malformed one the whole file",
          "[static][range]") {
  StaticApp s;
  auto r = s.get("/static/data.bin", {{"Range", "bytes=100000-"}});
  CHECK(r.status == 416);
  CHECK(r.headers.get("Content-Range", "") == "bytes */100000");
  CHECK(s.get("/static/data.bin", {{"Range", "bytes=-0"}}).status == 416);
  for (std::string field : {"bytes=5-2", "bytes=abc", "items=0-5", "bytes=0-1,x", "bytes=0-1,5-2",
                            "bytes=", "bytes=--1", "bytes=,"}) {
    INFO(field);
    auto whole = s.get("/static/data.bin", {{"Range", field}});
    CHECK(whole.status == 200);
    CHECK(whole.body.size() == 100000);
  }
}

TEST_CASE(
    "static: several ranges give a 206 multipart/byteranges body, one part per range (RFC 9110 "
    "§14.6)",
    "[static][range]") {
  StaticApp s;
  const std::string all = StaticTree::digits(100000);
  auto r = s.get("/static/data.bin", {{"Range", "bytes=0-9,20-29,-5"}});
  CHECK(r.status == 206);
  const std::string type = r.headers.get("Content-Type", "");
  REQUIRE(type.starts_with("multipart/byteranges; boundary="));
  const std::string boundary = byteranges_boundary(type);
  CHECK(boundary.size() >= 16);
  CHECK(r.headers.get("Content-Length", "") == std::to_string(r.body.size()));
  CHECK_FALSE(r.headers.contains("Content-Range"));  // it is in each part
  CHECK(r.headers.get("ETag", "").starts_with("\""));
  const std::string part_head =
      "\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes ";
  CHECK(r.body == "\r\n--" + boundary + part_head + "0-9/100000\r\n\r\n0123456789" +         //
                      "\r\n--" + boundary + part_head + "20-29/100000\r\n\r\n0123456789" +   //
                      "\r\n--" + boundary + part_head + "99995-99999/100000\r\n\r\n56789" +  //
                      "\r\n--" + boundary + "--\r\n");
  CHECK(s.get("/static/data.bin", {{"Range", "bytes=0-9,20-29"}}).headers.get("Content-Type", "") !=
        type);

  // Each part has the file's own type.
  auto text = s.get("/static/hello.txt", {{"Range", "bytes=0-4,7-12"}});
  auto parts =
      split_byteranges(text.body, byteranges_boundary(text.headers.get("Content-Type", "")));
  REQUIRE(parts.size() == 2);
  CHECK(parts[0].content_type == "text/plain; charset=utf-8");
  CHECK(parts[0].data == "Hello");
  CHECK(parts[1].content_range == "bytes 7-12/21");
  CHECK(parts[1].data == "static");
}

TEST_CASE(
    "static: overlapping and adjacent ranges are coalesced and sorted, and more than 16 get the "
    "whole file",
    "[static][range]") {
  StaticApp s;
  const std::string all = StaticTree::digits(100000);
  // Adjacent and overlapping: one range, sent as a plain 206.
  auto one = s.get("/static/data.bin", {{"Range", "bytes=0-4,5-9,3-7"}});
  CHECK(one.status == 206);
  CHECK(one.headers.get("Content-Range", "") == "bytes 0-9/100000");
  CHECK(one.body == all.substr(0, 10));
  // Out of order, overlapping: sorted, each byte once.
  auto two = s.get("/static/data.bin", {{"Range", "bytes=50-59,5-20,0-9"}});
  auto parts = split_byteranges(two.body, byteranges_boundary(two.headers.get("Content-Type", "")));
  REQUIRE(parts.size() == 2);
  CHECK(parts[0].content_range == "bytes 0-20/100000");
  CHECK(parts[0].data == all.substr(0, 21));
  CHECK(parts[1].content_range == "bytes 50-59/100000");
  // The overlap attack (CVE-2011-3192's shape): sixteen times the whole file is sent once.
  std::string abuse = "bytes=0-";
  for (int i = 1; i < 16; ++i) abuse += ",0-";
  auto once = s.get("/static/data.bin", {{"Range", abuse}});
  CHECK(once.status == 206);
  CHECK(once.body == all);
  // Sixteen disjoint ranges are served; seventeen are ignored (200, the whole file).
  std::string sixteen = "bytes=0-0";
  for (int i = 1; i < 16; ++i)
    sixteen += "," + std::to_string(i * 10) + "-" + std::to_string(i * 10);
  auto many = s.get("/static/data.bin", {{"Range", sixteen}});
  CHECK(many.status == 206);
  CHECK(split_byteranges(many.body, byteranges_boundary(many.headers.get("Content-Type", "")))
            .size() == 16);
  auto too_many = s.get("/static/data.bin", {{"Range", sixteen + ",500-500"}});
  CHECK(too_many.status == 200);
  CHECK(too_many.body == all);
  // Unsatisfiable specs among satisfiable ones are dropped; all unsatisfiable is 416.
  auto kept = s.get("/static/data.bin", {{"Range", "bytes=200000-,0-1"}});
  CHECK(kept.status == 206);
  CHECK(kept.headers.get("Content-Range", "") == "bytes 0-1/100000");
  CHECK(s.get("/static/data.bin", {{"Range", "bytes=200000-,300000-300001,-0"}}).status == 416);
  // If-Range that fails: the whole file, as for one range.
  CHECK(s.get("/static/data.bin", {{"Range", "bytes=0-1,5-6"}, {"If-Range", "\"old\""}}).status ==
        200);
}

TEST_CASE("static: If-Range applies the range only to the same file", "[static][range]") {
  StaticApp s;
  std::string etag = s.get("/static/hello.txt").headers.get("ETag", "");
  CHECK(s.get("/static/hello.txt", {{"Range", "bytes=0-4"}, {"If-Range", etag}}).body == "Hello");
  CHECK(s.get("/static/hello.txt", {{"Range", "bytes=0-4"}, {"If-Range", StaticTree::kMtimeText}})
            .status == 206);
  auto stale = s.get("/static/hello.txt", {{"Range", "bytes=0-4"}, {"If-Range", "\"old\""}});
  CHECK(stale.status == 200);
  CHECK(stale.body == "Hello, static world!\n");
  CHECK(s.get("/static/hello.txt",
              {{"Range", "bytes=0-4"}, {"If-Range", "Mon, 13 Nov 2023 00:00:00 GMT"}})
            .status == 200);
}

TEST_CASE("send_file: downloads name the file, in RFC 5987 form when it is not ASCII",
          "[static][send_file]") {
  StaticTree tree;
  App app;
  app.route("/plain",
            [&] { return send_file(tree.path("static/hello.txt"), {.as_attachment = true}); });
  app.route("/named", [&] {
    return send_file(tree.path("static/hello.txt"),
                     {.as_attachment = true, .download_name = "Bericht für \"2026\".txt"});
  });
  app.route("/inline",
            [&] { return send_file(tree.path("static/data.bin"), {.download_name = "d.csv"}); });
  app.route("/typed",
            [&] { return send_file(tree.path("static/noext"), {.mimetype = "text/x-grove"}); });
  auto c = app.test_client();
  CHECK(c.get("/plain").headers.get("Content-Disposition", "") ==
        "attachment; filename=\"hello.txt\"");
  CHECK(c.get("/named").headers.get("Content-Disposition", "") ==
        "attachment; filename=\"Bericht fr \\\"2026\\\".txt\"; "
        "filename*=UTF-8''Bericht%20f%C3%BCr%20%222026%22.txt");
  auto in = c.get("/inline");
  CHECK(in.headers.get("Content-Disposition", "") == "inline; filename=\"d.csv\"");
  CHECK(in.headers.get("Content-Type", "") == "text/csv; charset=utf-8");  // from the download name
  CHECK(c.get("/typed").headers.get("Content-Type", "") == "text/x-grove");
}

TEST_CASE("send_file: max_age and SEND_FILE_MAX_AGE_DEFAULT set Cache-Control and Expires",
          "[static][send_file]") {
  StaticTree tree;
  App app;
  app.route("/a", [&] { return send_file(tree.path("static/hello.txt"), {.max_age = 3600}); });
  app.route("/b", [&] { return send_file(tree.path("static/hello.txt")); });
  auto c = app.test_client();
  auto a = c.get("/a");
  CHECK(a.headers.get("Cache-Control", "") == "public, max-age=3600");
  CHECK(a.headers.get("Expires", "").ends_with(" GMT"));
  CHECK(c.get("/b").headers.get("Cache-Control", "") == "no-cache");
  app.config["SEND_FILE_MAX_AGE_DEFAULT"] = 60;
  CHECK(c.get("/b").headers.get("Cache-Control", "") == "public, max-age=60");
}

TEST_CASE("send_file: a descriptor needs a type, missing files are 404, get_data reads the file",
          "[static][send_file]") {
  StaticTree tree;
  App app;
  app.route("/fd", [&] {
    int fd = ::open(tree.path("static/hello.txt").c_str(), O_RDONLY | O_CLOEXEC);
    return send_file(fd, {.mimetype = "text/plain"});
  });
  app.route("/untyped", [&] {
    int fd = ::open(tree.path("static/hello.txt").c_str(), O_RDONLY | O_CLOEXEC);
    return send_file(fd, {});
  });
  app.route("/missing", [&] { return send_file(tree.path("nope.txt")); });
  app.after_request([](Response& r) {
    if (r.has_file() && r.status == 200) r.headers.set("X-Body", r.get_data().substr(0, 5));
  });
  LogCapture log(app);
  auto c = app.test_client();
  auto fd = c.get("/fd");
  CHECK(fd.body == "Hello, static world!\n");
  CHECK(fd.headers.get("X-Body", "") == "Hello");
  auto untyped = c.get("/untyped");
  CHECK(untyped.status == 500);
  CHECK(log.contains("set options.mimetype or options.download_name"));
  CHECK(c.get("/missing").status == 404);
}

TEST_CASE("static: a small file served again comes from memory only while it is the same file",
          "[static]") {
  StaticApp s;
  const std::string path = s.tree.path("static/hello.txt");
  auto first = s.get("/static/hello.txt");
  auto again = s.get("/static/hello.txt");  // kept in memory by the first
  CHECK(again.body == first.body);
  CHECK(again.headers.get("ETag", "") == first.headers.get("ETag", ""));
  CHECK(again.headers.get("Last-Modified", "") == StaticTree::kMtimeText);
  auto head = s.app.test_client().head("/static/hello.txt");
  CHECK(head.body.empty());
  CHECK(head.headers.get("Content-Length", "") == "21");
  CHECK(s.get("/static/hello.txt", {{"If-None-Match", first.headers.get("ETag", "")}}).status ==
        304);

  // Rewritten in place with the same size and mtime (the same ETag): the new bytes at once.
  s.tree.write("static/hello.txt", "Hello, changed world\n");
  timeval times[2] = {{StaticTree::kMtime, 0}, {StaticTree::kMtime, 0}};
  ::utimes(path.c_str(), times);
  CHECK(s.get("/static/hello.txt").body == "Hello, changed world\n");
  // Replaced by a longer file.
  s.tree.write("static/hello.txt", "Hello, static world, again!\n");
  auto longer = s.get("/static/hello.txt");
  CHECK(longer.body == "Hello, static world, again!\n");
  CHECK(longer.headers.get("ETag", "") != first.headers.get("ETag", ""));

  // A symlink served from memory, then switched to leave the folder: refused.
  CHECK(s.get("/static/alias.txt").body == "Hello, static world, again!\n");
  CHECK(s.get("/static/alias.txt").body == "Hello, static world, again!\n");
  ::unlink(s.tree.path("static/alias.txt").c_str());
  REQUIRE(::symlink("../secret.txt", s.tree.path("static/alias.txt").c_str()) == 0);
  auto escaped = s.get("/static/alias.txt");
  CHECK(escaped.status == 404);
  CHECK(escaped.body.find("top secret") == std::string::npos);
  // Gone: 404.
  ::unlink(path.c_str());
  CHECK(s.get("/static/hello.txt").status == 404);
}
