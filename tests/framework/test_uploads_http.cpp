// Uploads over real sockets, on every engine: libcurl's multipart encoder (curl_mime)
// posting a 10 MiB file and fields to the in-process server, the file spooled and saved;
// malformed bodies answered 400 while the server carries on; curl -F and Python requests
// (fields, files in memory and spooled, a chunked multipart body, 413 past MAX_CONTENT_LENGTH).
#include "http_support.hpp"

#include <sys/wait.h>

#include <fstream>
#include <functional>
#include <sstream>

using namespace grove::web;
using namespace grove::web::test;

namespace {

// POSTs `fields` and one file (name "doc") as multipart/form-data with curl_mime.
HttpResult post_multipart(const std::string& url,
                          const std::vector<std::pair<std::string, std::string>>& fields,
                          const std::string& filename, const std::string& data) {
  detail_http::Transfer t(CurlRequest{"POST", url, {}, std::nullopt});
  curl_mime* mime = curl_mime_init(t.easy);
  for (const auto& [k, v] : fields) {
    curl_mimepart* p = curl_mime_addpart(mime);
    curl_mime_name(p, k.c_str());
    curl_mime_data(p, v.data(), v.size());
  }
  curl_mimepart* f = curl_mime_addpart(mime);
  curl_mime_name(f, "doc");
  curl_mime_filename(f, filename.c_str());
  curl_mime_type(f, "application/octet-stream");
  curl_mime_data(f, data.data(), data.size());
  curl_easy_setopt(t.easy, CURLOPT_MIMEPOST, mime);
  curl_easy_setopt(t.easy, CURLOPT_CUSTOMREQUEST, nullptr);
  t.finish(curl_easy_perform(t.easy));
  curl_mime_free(mime);
  return std::move(t.result);
}

}  // namespace

TEST_CASE("web: http: a 10 MiB multipart upload is spooled, saved whole, and bad bodies are 400",
          "[http][uploads][tsan]") {
  char dir[] = "/tmp/grove-uploads-http-XXXXXX";
  REQUIRE(::mkdtemp(dir));
  const std::string saved = std::string(dir) + "/upload.bin";
  App app;
  app.route("/upload", {"POST"}, [&](Request& r) {
    const FileStorage& f = r.files()["doc"];
    f.save(saved);
    return r.form()["title"] + " " + f.filename + " " + std::to_string(f.size()) + " " +
           (f.in_memory() ? "memory" : "disk");
  });
  // The server's own limit (serve --max-body, 1 MiB by default) comes first: raise it.
  ServedApp served(app, [](grove::http::ServerConfig& c) { c.limits.max_body = 64 << 20; });
  std::string data(10 << 20, '\0');
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = char(i * 7 % 251);

  auto r = post_multipart(served.url("/upload"), {{"title", "big one"}}, "big.bin", data);
  INFO(r.error);
  CHECK(r.status == 200);
  CHECK(r.body == "big one big.bin 10485760 disk");
  std::ifstream in(saved, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  CHECK(ss.str().size() == data.size());
  CHECK((ss.str() == data));  // not decomposed: Catch would print megabytes

  auto bad =
      http({"POST",
            served.url("/upload"),
            {"Content-Type: multipart/form-data; boundary=zz"},
            std::string("--zz\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nno end")});
  CHECK(bad.status == 400);
  auto no_boundary = http(
      {"POST", served.url("/upload"), {"Content-Type: multipart/form-data"}, std::string("x")});
  CHECK(no_boundary.status == 400);
  auto small = post_multipart(served.url("/upload"), {{"title", "small"}}, "s.txt", "hello");
  CHECK(small.body == "small s.txt 5 memory");
  std::system(("rm -rf " + std::string(dir)).c_str());
}

namespace {

// The app the real clients post to: what it parsed, one line per field and file.
void describe_upload(App& app) {
  app.route("/describe", {"POST"}, [](Request& r) {
    std::string out;
    for (const auto& [k, v] : r.form()) out += "field " + k + "=" + v + "\n";
    for (const auto& [k, f] : r.files())
      out += "file " + k + " " + f.filename + " " + f.content_type + " " +
             std::to_string(f.size()) + " " + (f.in_memory() ? "memory" : "disk") + " " +
             std::to_string(std::hash<std::string>{}(f.read())) + "\n";
    return out;
  });
}

std::string hash_line(const std::string& data) {
  return std::to_string(std::hash<std::string>{}(data));
}

}  // namespace

TEST_CASE("web: http: uploads from curl -F and Python requests, and 413 past MAX_CONTENT_LENGTH",
          "[http][uploads]") {
  char dir[] = "/tmp/grove-uploads-clients-XXXXXX";
  REQUIRE(::mkdtemp(dir));
  const std::string d = dir;
  std::string big(2 * 1024 * 1024 + 3, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = char(i * 13 % 256);
  std::ofstream(d + "/big.bin", std::ios::binary) << big;
  std::ofstream(d + "/note.txt", std::ios::binary) << "hello\r\n--not a boundary\r\n";
  App app;
  describe_upload(app);
  app.config["MAX_CONTENT_LENGTH"] = 4 * 1024 * 1024;
  ServedApp served(app, [](grove::http::ServerConfig& c) { c.limits.max_body = 64 << 20; });
  const std::string url = served.url("/describe");

  SECTION("curl -F") {
    std::string out =
        run_client("curl -sS -F 'title=a b&c' -F 'doc=@" + d +
                   "/note.txt;type=text/plain' -F 'blob=@" + d + "/big.bin' '" + url + "'");
    CHECK(out ==
          "exit 0\nfield title=a b&c\n"
          "file doc note.txt text/plain 25 memory " +
              hash_line("hello\r\n--not a boundary\r\n") +
              "\n"
              "file blob big.bin application/octet-stream 2097155 disk " +
              hash_line(big) + "\n");
    // Over MAX_CONTENT_LENGTH: 413 (from the declared length, before the body is read).
    std::ofstream(d + "/huge.bin", std::ios::binary) << std::string(5 * 1024 * 1024, 'h');
    out = run_client("curl -sS -o /dev/null -w '%{http_code}' -F 'doc=@" + d + "/huge.bin' '" +
                     url + "'");
    CHECK(out == "exit 0\n413");
    CHECK(http_get(served.url("/nothing")).status == 404);  // the server carries on
  }
  SECTION("Python requests, with a Content-Length and chunked") {
    std::ofstream(d + "/client.py") << R"(import sys, requests, urllib3
url, d = sys.argv[1], sys.argv[2]
big = open(d + '/big.bin', 'rb').read()
r = requests.post(url, data={'title': 'r\u00e9sum\u00e9', 'tag': ['x', 'y']},
                  files={'doc': ('na\u00efve.txt', b'abc', 'text/plain'), 'blob': ('big.bin', big)})
print(r.status_code); print(r.text, end='')
body, ctype = urllib3.encode_multipart_formdata({'title': 'streamed', 'blob': ('big.bin', big)})
pieces = (body[i:i + 65536] for i in range(0, len(body), 65536))
r = requests.post(url, data=pieces, headers={'Content-Type': ctype})
print(r.status_code, r.request.headers.get('Transfer-Encoding')); print(r.text, end='')
r = requests.post(url, files={'doc': ('huge.bin', b'h' * (5 << 20))})
print(r.status_code)
)";
    // Debian's python3 (with python3-requests), not whichever python3 is first on PATH.
    const std::string python =
        ::access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
    std::string out = run_client(python + " " + d + "/client.py '" + url + "' " + d);
    CHECK(out ==
          "exit 0\n200\nfield title=résumé\nfield tag=x\nfield tag=y\n"
          "file doc naïve.txt text/plain 3 memory " +
              hash_line("abc") +
              "\n"
              "file blob big.bin application/octet-stream 2097155 disk " +
              hash_line(big) +
              "\n"
              "200 chunked\nfield title=streamed\n"
              "file blob big.bin application/octet-stream 2097155 disk " +
              hash_line(big) +
              "\n"
              "413\n");
  }
  std::system(("rm -rf " + d).c_str());
}
