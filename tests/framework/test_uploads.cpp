// Uploads and request bodies through the test client: multipart/form-data into
// request.form and request.files (in memory and spooled to disk), the limits (413), the
// malformed bodies (400), urlencoded forms, request.stream, and the parser itself fed in
// pieces. Over real sockets: test_uploads_http.cpp.
#include "web_support.hpp"

#include <grove/web/multipart.hpp>

#include <fstream>
#include <sstream>

using namespace grove::web;
using namespace grove::web::test;

namespace {

const std::string kType = "multipart/form-data; boundary=XyZ";

std::string field(const std::string& name, const std::string& value) {
  return "--XyZ\r\nContent-Disposition: form-data; name=\"" + name + "\"\r\n\r\n" + value + "\r\n";
}
std::string file_part(const std::string& name, const std::string& filename, const std::string& type,
                      const std::string& data) {
  return "--XyZ\r\nContent-Disposition: form-data; name=\"" + name + "\"; filename=\"" + filename +
         "\"\r\nContent-Type: " + type + "\r\n\r\n" + data + "\r\n";
}
const std::string kEnd = "--XyZ--\r\n";

// An app that reports what it parsed: "field=value;..." then "|name:filename:type:size:memory".
App& report_app(App& app) {
  app.route("/upload", {"POST"}, [](Request& r) {
    std::string out;
    for (const auto& [k, v] : r.form()) out += k + "=" + v + ";";
    for (const auto& [k, f] : r.files())
      out += "|" + k + ":" + f.filename + ":" + f.content_type + ":" + std::to_string(f.size()) +
             ":" + (f.in_memory() ? "memory" : "disk");
    return out;
  });
  return app;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

TEST_CASE("uploads: multipart fields and files reach request.form and request.files", "[uploads]") {
  App app;
  report_app(app);
  std::string body = "preamble is ignored\r\n" + field("title", "My notes") + field("tag", "a") +
                     field("tag", "b") +
                     file_part("doc", "notes.txt", "text/plain", "line 1\r\nline 2\r\n-XyZ") +
                     "--XyZ\r\nContent-Disposition: form-data; name=\"raw\"; "
                     "filename=\"r.bin\"\r\n\r\n\x01\x02\r\n" +
                     kEnd + "epilogue too";
  auto r = app.test_client().post("/upload", body, kType);
  CHECK(r.status == 200);
  CHECK(r.body ==
        "title=My notes;tag=a;tag=b;"
        "|doc:notes.txt:text/plain:20:memory|raw:r.bin:application/octet-stream:2:memory");
}

TEST_CASE("uploads: a large file is spooled to disk and saved whole", "[uploads]") {
  App app;
  std::string big(3 * 1024 * 1024 + 17, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = char('a' + i % 26);
  char dir[] = "/tmp/grove-uploads-XXXXXX";
  REQUIRE(::mkdtemp(dir));
  const std::string target = std::string(dir) + "/saved.bin";
  app.route("/upload", {"POST"}, [&](Request& r) {
    const FileStorage& f = r.files()["blob"];
    CHECK_FALSE(f.in_memory());
    CHECK(f.size() == big.size());
    f.save(target);
    char head[4];
    CHECK(f.read(0, head, 4) == 4);
    return std::string(head, 4) + " " + r.form()["after"];
  });
  auto r = app.test_client().post(
      "/upload",
      file_part("blob", "b.bin", "application/octet-stream", big) + field("after", "yes") + kEnd,
      kType);
  CHECK(r.status == 200);
  CHECK(r.body == "abcd yes");
  const std::string saved = slurp(target);
  CHECK(saved.size() == big.size());
  CHECK((saved == big));  // not decomposed: Catch would print megabytes
  std::system(("rm -rf " + std::string(dir)).c_str());
}

TEST_CASE("uploads: limits answer 413", "[uploads][limits]") {
  App app;
  report_app(app);
  auto c = app.test_client();
  app.config["MAX_FORM_MEMORY_SIZE"] = 10;
  CHECK(c.post("/upload", field("a", "short") + kEnd, kType).status == 200);
  auto big = c.post("/upload", field("a", "this value is too long") + kEnd, kType);
  CHECK(big.status == 413);
  // Files do not count against the memory limit: they spool.
  CHECK(c.post("/upload", file_part("f", "x", "text/plain", std::string(100, 'x')) + kEnd, kType)
            .status == 200);
  app.config["MAX_FORM_MEMORY_SIZE"] = 500000;

  app.config["MAX_FORM_PARTS"] = 2;
  CHECK(c.post("/upload", field("a", "1") + field("b", "2") + kEnd, kType).status == 200);
  CHECK(
      c.post("/upload", field("a", "1") + field("b", "2") + field("c", "3") + kEnd, kType).status ==
      413);
  app.config["MAX_FORM_PARTS"] = 1000;

  app.config["MAX_CONTENT_LENGTH"] = 100;
  CHECK(c.post("/upload", file_part("f", "x", "text/plain", std::string(200, 'x')) + kEnd, kType)
            .status == 413);
}

TEST_CASE("uploads: malformed multipart bodies answer 400 with what is wrong",
          "[uploads][errors]") {
  App app;
  report_app(app);
  auto c = app.test_client();
  struct Case {
    std::string type, body, says;
  };
  for (const Case& k : std::vector<Case>{
           {"multipart/form-data", field("a", "1") + kEnd, "boundary"},
           {"multipart/form-data; boundary=", field("a", "1") + kEnd, "boundary"},
           {kType, field("a", "1"), "before its closing boundary"},  // truncated
           {kType, "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nunterminated",
            "closing boundary"},
           {kType, "no boundary at all", "no multipart boundary"},
           {kType, "--XyZ\r\nContent-Type: text/plain\r\n\r\nx\r\n" + kEnd,
            "no Content-Disposition"},
           {kType, "--XyZ\r\nContent-Disposition: attachment; name=\"a\"\r\n\r\nx\r\n" + kEnd,
            "form-data"},
           {kType, "--XyZ\r\nContent-Disposition: form-data\r\n\r\nx\r\n" + kEnd, "no name"},
           {kType, "--XyZ\r\nBroken header line\r\n\r\nx\r\n" + kEnd, "no name"},
           {kType, "--XyZ\r\nContent-Disposition: form-data; name=\"a\r\n\r\nx\r\n" + kEnd,
            "unclosed quote"},
           {kType, "--XyZ\r\nX-Bomb: " + std::string(9000, 'b') + "\r\n\r\nx\r\n" + kEnd,
            "longer than"},
           {kType, "--XyZjunk\r\n", "not followed by CRLF"},
       }) {
    INFO(k.body.substr(0, 80));
    auto r = c.post("/upload", k.body, k.type);
    CHECK(r.status == 400);
    CHECK(r.body.find(k.says) != std::string::npos);
  }
  CHECK(c.post("/upload", field("ok", "1") + kEnd, kType).body == "ok=1;");  // and it carries on
}

TEST_CASE("uploads: filename* and quoted names are decoded", "[uploads]") {
  App app;
  report_app(app);
  std::string body =
      "--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"fallback.txt\"; "
      "filename*=UTF-8''r%C3%A9sum%C3%A9.txt\r\n\r\nx\r\n"
      "--XyZ\r\nContent-Disposition: form-data; name=\"g\"; filename=\"a "
      "\\\"q\\\".txt\"\r\n\r\ny\r\n" +
      kEnd;
  CHECK(app.test_client().post("/upload", body, kType).body ==
        "|f:résumé.txt:application/octet-stream:1:memory|g:a "
        "\"q\".txt:application/octet-stream:1:memory");
}

TEST_CASE("uploads: urlencoded forms and request.stream", "[uploads]") {
  App app;
  app.route("/form", {"POST"}, [](Request& r) { return r.form()["a"] + "," + r.form()["b"]; });
  app.route("/stream", {"POST"}, [](Request& r) {
    std::size_t total = 0, largest = 0;
    char buf[1000];
    while (std::size_t n = r.read(buf, sizeof buf)) {
      total += n;
      largest = std::max(largest, n);
    }
    return std::to_string(total) + " in reads of at most " + std::to_string(largest) +
           ", data() then " + std::to_string(r.data().size());
  });
  auto c = app.test_client();
  CHECK(c.post("/form", "a=1+2&b=%C3%A9", "application/x-www-form-urlencoded").body == "1 2,é");
  CHECK(c.post("/stream", std::string(10000, 'z')).body ==
        "10000 in reads of at most 1000, data() then 0");
  app.config["MAX_CONTENT_LENGTH"] = 5000;
  CHECK(c.post("/stream", std::string(10000, 'z')).status == 413);
}

TEST_CASE("uploads: secure_filename keeps a name safe to join", "[uploads]") {
  CHECK(secure_filename("My cool movie.mov") == "My_cool_movie.mov");
  CHECK(secure_filename("../../../etc/passwd") == "etc_passwd");
  CHECK(secure_filename("i contain cool \xc3\xbcml\xc3\xa4uts.txt") == "i_contain_cool_mluts.txt");
  CHECK(secure_filename("..") == "");
}

TEST_CASE("uploads: the parser gives the same parts however the body is split",
          "[uploads][multipart]") {
  std::string body = field("a", "alpha") +
                     file_part("f", "f.txt", "text/plain", std::string(5000, 'q') + "\r\n-") +
                     field("b", "") + kEnd;
  auto parse = [&](std::size_t piece) {
    MultipartParser p("XyZ");
    std::string log;
    p.on_part = [&](const PartHead& h) { log += "[" + h.name + "]"; };
    p.on_data = [&](std::string_view d) { log += d; };
    p.on_part_end = [&] { log += "<end>"; };
    for (std::size_t at = 0; at < body.size(); at += piece)
      REQUIRE(p.feed(std::string_view(body).substr(at, piece)));
    REQUIRE(p.finish());
    return log;
  };
  const std::string whole = parse(body.size());
  CHECK(whole == "[a]alpha<end>[f]" + std::string(5000, 'q') + "\r\n-<end>[b]<end>");
  for (std::size_t piece : {1, 2, 3, 7, 64, 1000}) CHECK(parse(piece) == whole);
}

TEST_CASE("uploads: a part's data is passed on from the bytes fed, not copied",
          "[uploads][multipart]") {
  MultipartParser p("XyZ");
  std::vector<std::string_view> pieces;
  std::string data;
  p.on_data = [&](std::string_view d) {
    pieces.push_back(d);
    data += d;
  };
  REQUIRE(p.feed("--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"f\"\r\n\r\nab"));
  // The data continues over a delimiter's first bytes ("\r\n-" could begin one).
  const std::string more = std::string(100000, 'x') + "\r\n-";
  pieces.clear();
  REQUIRE(p.feed(more));
  REQUIRE(pieces.size() == 1);
  CHECK(pieces[0].data() == more.data());
  CHECK(pieces[0].size() == 100000);  // "\r\n-" waits: it may begin the delimiter
  const std::string rest = "-y\r\n--XyZ--\r\n";
  pieces.clear();
  REQUIRE(p.feed(rest));
  REQUIRE(p.finish());
  CHECK(data == "ab" + std::string(100000, 'x') + "\r\n--y");
  REQUIRE(pieces.size() == 2);  // the kept "\r\n-" (not a delimiter after all), then "-y"
  CHECK(pieces[1].data() == rest.data());
}

TEST_CASE(
    "uploads: UPLOAD_SPOOL_THRESHOLD is for a request's files together, UPLOAD_TEMP_DIR "
    "is where they spool",
    "[uploads]") {
  App app;
  report_app(app);
  auto c = app.test_client();
  const std::string body = file_part("a", "a.bin", "text/plain", std::string(600 * 1024, 'a')) +
                           file_part("b", "b.bin", "text/plain", std::string(300 * 1024, 'b')) +
                           kEnd;
  // The default (500 KiB): the first part spools, the second fits.
  CHECK(c.post("/upload", body, kType).body ==
        "|a:a.bin:text/plain:614400:disk|b:b.bin:text/plain:307200:memory");
  app.config["UPLOAD_SPOOL_THRESHOLD"] = 800 * 1024;
  // The first part fits, the second would pass the threshold with it.
  CHECK(c.post("/upload", body, kType).body ==
        "|a:a.bin:text/plain:614400:memory|b:b.bin:text/plain:307200:disk");
  app.config["UPLOAD_SPOOL_THRESHOLD"] = 1 << 20;
  CHECK(c.post("/upload", body, kType).body ==
        "|a:a.bin:text/plain:614400:memory|b:b.bin:text/plain:307200:memory");

  app.config["UPLOAD_SPOOL_THRESHOLD"] = 0;
  char dir[] = "/tmp/grove-spool-XXXXXX";
  REQUIRE(::mkdtemp(dir));
  app.config["UPLOAD_TEMP_DIR"] = std::string(dir);
  CHECK(c.post("/upload", file_part("f", "f", "text/plain", "x") + kEnd, kType).body ==
        "|f:f:text/plain:1:disk");
  ::rmdir(dir);  // a folder that is not there: the upload cannot be spooled
  auto gone = c.post("/upload", file_part("f", "f", "text/plain", "x") + kEnd, kType);
  CHECK(gone.status == 500);
}
