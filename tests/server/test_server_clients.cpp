// Real clients: curl and Python's http.client against the server, over loopback.
#include "server_support.hpp"

using namespace grove::http;
using namespace grove::http::test;

namespace {
Response app(Request& req) {
  if (req.path() == "/stream")
    return Response::streamed([](BodyWriter& w) {
      for (int i = 0; i < 4; ++i) w.write("part" + std::to_string(i) + "\n");
    });
  std::string body = std::string(req.method()) + " " + std::string(req.path()) + " " +
                     std::string(req.version_string()) + " " + req.read_body();
  return Response::text(body);
}

bool have(const std::string& tool) {
  return run_command("command -v " + tool + " >/dev/null") == 0;
}

std::string write_temp(const std::string& dir, const std::string& name, const std::string& text) {
  std::string path = dir + "/" + name;
  std::ofstream(path) << text;
  return path;
}
}  // namespace

TEST_CASE("curl: GET, HEAD, POST, chunked upload, 100-continue, HTTP/1.0, streaming, reuse") {
  if (!have("curl")) {
    WARN("curl is not installed (scripts/install-deps.sh installs it)");
    return;
  }
  ServerThread st(app);
  std::string base = "http://127.0.0.1:" + std::to_string(st.port());
  std::string out;
  CHECK(run_command("curl -sS --max-time 5 " + base + "/a", &out) == 0);
  CHECK(out == "GET /a HTTP/1.1 ");
  CHECK(run_command("curl -sS --max-time 5 -I " + base + "/a", &out) == 0);
  CHECK(out.rfind("HTTP/1.1 200 OK", 0) == 0);
  CHECK(out.find("Content-Length: 17") != std::string::npos);  // "HEAD /a HTTP/1.1 "
  CHECK(run_command("curl -sS --max-time 5 -d 'x=1&y=2' " + base + "/post", &out) == 0);
  CHECK(out == "POST /post HTTP/1.1 x=1&y=2");
  CHECK(run_command("curl -sS --max-time 5 -H 'Transfer-Encoding: chunked' -d 'chunked body' " +
                        base + "/up",
                    &out) == 0);
  CHECK(out == "POST /up HTTP/1.1 chunked body");
  std::string dir = temp_dir();
  std::string big(200000, 'b');
  std::string file = write_temp(dir, "big.txt", big);
  // curl waits for the 100 before it sends the body.
  CHECK(run_command("curl -sS --max-time 5 -v -H 'Expect: 100-continue' --data-binary @" + file +
                        " -o " + dir + "/got.txt " + base + "/big",
                    &out) == 0);
  CHECK(out.find("Expect: 100-continue") != std::string::npos);
  CHECK(out.find("HTTP/1.1 100 Continue") != std::string::npos);
  CHECK(read_file(dir + "/got.txt") == "POST /big HTTP/1.1 " + big);
  CHECK(run_command("curl -sS --max-time 5 --http1.0 " + base + "/old", &out) == 0);
  CHECK(out == "GET /old HTTP/1.0 ");
  CHECK(run_command("curl -sS --max-time 5 " + base + "/stream", &out) == 0);
  CHECK(out == "part0\npart1\npart2\npart3\n");
  CHECK(run_command("curl -sS --max-time 5 -v " + base + "/one " + base + "/two 2>&1", &out) == 0);
  CHECK(out.find("GET /one HTTP/1.1") != std::string::npos);
  CHECK(out.find("GET /two HTTP/1.1") != std::string::npos);
  CHECK(out.find("Re-using existing connection") != std::string::npos);
  // HTTP/2 with prior knowledge: refused cleanly, curl reports an error rather than hanging.
  int rc = run_command("curl -sS --max-time 5 --http2-prior-knowledge " + base + "/h2", &out);
  CHECK(rc != 0);
  CHECK(rc != 28);  // not a timeout
  run_command("rm -rf '" + dir + "'");
}

TEST_CASE("Python http.client: keep-alive, chunked upload, HEAD, chunked response") {
  if (run_command(python3() + " -c 'import http.client'") != 0) {
    WARN("python3 is not available");
    return;
  }
  ServerThread st(app);
  std::string dir = temp_dir();
  std::string script = write_temp(dir, "client.py", R"py(
import http.client, sys
port = int(sys.argv[1])
c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
out = []
for i in range(3):
    c.request("GET", "/k%d" % i)
    r = c.getresponse()
    out.append("%d %s" % (r.status, r.read().decode()))
sock = c.sock
c.request("POST", "/chunked", body=iter([b"ab", b"cd", b"ef"]), encode_chunked=True)
r = c.getresponse()
out.append("%d %s" % (r.status, r.read().decode()))
c.request("HEAD", "/h")
r = c.getresponse()
out.append("%d %s %r" % (r.status, r.getheader("Content-Length"), r.read()))
c.request("GET", "/stream")
r = c.getresponse()
out.append("%d %s %s" % (r.status, r.getheader("Transfer-Encoding"), r.read().decode().replace("\n", ",")))
out.append("same connection: %s" % (c.sock is sock))
c.request("POST", "/sized", body=b"0123456789", headers={"Content-Type": "text/plain"})
r = c.getresponse()
out.append("%d %s" % (r.status, r.read().decode()))
print("\n".join(out))
)py");
  std::string out;
  CHECK(run_command(python3() + " " + script + " " + std::to_string(st.port()), &out) == 0);
  INFO(out);
  CHECK(out.find("200 GET /k0 HTTP/1.1 ") != std::string::npos);
  CHECK(out.find("200 GET /k2 HTTP/1.1 ") != std::string::npos);
  CHECK(out.find("200 POST /chunked HTTP/1.1 abcdef") != std::string::npos);
  CHECK(out.find("200 17 b''") != std::string::npos);  // "HEAD /h HTTP/1.1 "
  CHECK(out.find("200 chunked part0,part1,part2,part3,") != std::string::npos);
  CHECK(out.find("same connection: True") != std::string::npos);
  CHECK(out.find("200 POST /sized HTTP/1.1 0123456789") != std::string::npos);
  run_command("rm -rf '" + dir + "'");
}
