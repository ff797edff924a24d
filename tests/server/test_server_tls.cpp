// HTTPS: grove-hello with --certfile/--keyfile and https:// binds, against real clients
// (curl --cacert, Python's ssl + http.client, openssl s_client), on every engine: requests
// and keep-alive over TLS, large responses, versions, ALPN, a plain listener beside a TLS
// one, the 400 for plain HTTP on a TLS port, handshake failures logged at info, start-up
// errors naming the file.
#include "server_support.hpp"
#include "test_certs.hpp"

using namespace grove::http::test;

namespace {

// The port of the first "https://host:port" in a startup line.
int https_port(const std::string& log) {
  auto at = log.find("https://");
  if (at == std::string::npos) return -1;
  auto end = log.find_first_of(", \n", at + 8);
  std::string addr = log.substr(at + 8, end - at - 8);
  return std::stoi(addr.substr(addr.rfind(':') + 1));
}

struct TlsHello {
  TempDir dir;
  grove::test::TestCertificates certs;
  std::optional<Child> child;
  int port = -1;
  explicit TlsHello(std::vector<std::string> extra = {}) {
    std::vector<std::string> args{
        "--certfile", certs.server.cert,     "--keyfile",   certs.server.key,
        "--bind",     "https://127.0.0.1:0", "--log-level", "info"};
    args.insert(args.end(), extra.begin(), extra.end());
    child.emplace(start_hello(dir.path, args));
    port = https_port(child->log());
    REQUIRE(port > 0);
  }
  std::string url(const std::string& path = "/") const {
    return "https://localhost:" + std::to_string(port) + path;
  }
  // -brief prints the version, not the ALPN protocol: ALPN checks pass brief = false.
  std::string s_client(const std::string& flags, bool brief = true) const {
    std::string out;
    run_command("echo | timeout 10 openssl s_client -connect 127.0.0.1:" + std::to_string(port) +
                    " -servername localhost -CAfile " + certs.ca.cert + (brief ? " -brief " : " ") +
                    flags,
                &out);
    return out;
  }
};

// The server's certificate as `openssl s_client` sees it on a new connection
// ("O = grove tests, CN = localhost"), or "" when the handshake failed.
std::string peer_certificate(int port, const std::string& ca,
                             const std::string& name = "localhost") {
  std::string out;
  run_command("echo | timeout 10 openssl s_client -brief -connect 127.0.0.1:" +
                  std::to_string(port) + " -servername " + name + " -CAfile " + ca,
              &out);
  auto at = out.find("Peer certificate: ");
  return at == std::string::npos ? "" : out.substr(at + 18, out.find('\n', at) - at - 18);
}

// Certificate files to swap under a running server: copies of the test pairs.
struct LivePair {
  std::string cert, key;
  LivePair(const std::string& dir) : cert(dir + "/live.pem"), key(dir + "/live.key") {}
  void install(const std::string& from_cert, const std::string& from_key) const {
    REQUIRE(run_command("cp '" + from_cert + "' '" + cert + "' && cp '" + from_key + "' '" + key +
                        "'") == 0);
  }
};

// grove-hello serving the test server pair from files a test may swap (LivePair).
struct ReloadableHello {
  TempDir dir;
  grove::test::TestCertificates certs;
  LivePair live{dir.path};
  Child child;
  int port;
  explicit ReloadableHello(std::vector<std::string> extra)
      : child(start(dir.path, certs, live, std::move(extra))), port(https_port(child.log())) {}

 private:
  static Child start(const std::string& dir, const grove::test::TestCertificates& certs,
                     const LivePair& live, std::vector<std::string> extra) {
    live.install(certs.server.cert, certs.server.key);
    std::vector<std::string> args{"--certfile", live.cert, "--keyfile",
                                  live.key,     "--bind",  "https://127.0.0.1:0"};
    args.insert(args.end(), extra.begin(), extra.end());
    return start_hello(dir, args);
  }
};

constexpr const char* kLocalhost = "O = grove tests, CN = localhost";
constexpr const char* kAlt = "O = grove tests, CN = alt.localhost";

}  // namespace

TEST_CASE("curl --cacert gets the response over TLS with keep-alive and a large body") {
  TlsHello hello;
  std::string out;
  int rc = run_command(
      "curl -sS --cacert " + hello.certs.ca.cert + " " + hello.url() + " -w '|%{http_code}'", &out);
  INFO(out);
  CHECK(rc == 0);
  CHECK(out == "Hello, World!|200");
  // Two requests, one connection; and 4 MiB through TLS records.
  rc = run_command("curl -sS -v --cacert " + hello.certs.ca.cert + " " + hello.url() + " " +
                       hello.url("/big?n=4194304") + " -o /dev/null -o " + hello.dir.path + "/big",
                   &out);
  INFO(out);
  CHECK(rc == 0);
  CHECK(out.find("ALPN: server accepted http/1.1") != std::string::npos);
  CHECK(out.find("Re-using existing connection") != std::string::npos);
  CHECK(read_file(hello.dir.path + "/big") == std::string(4194304, 'x'));
}

TEST_CASE("Python's ssl and http.client verify the server and reuse the connection") {
  TlsHello hello;
  std::string script =
      "import ssl, http.client\n"
      "ctx = ssl.create_default_context(cafile='" +
      hello.certs.ca.cert +
      "')\n"
      "ctx.set_alpn_protocols(['http/1.1'])\n"
      "c = http.client.HTTPSConnection('localhost', " +
      std::to_string(hello.port) +
      ", context=ctx)\n"
      "for _ in range(3):\n"
      "    c.request('POST', '/echo', body=b'x' * 100000)\n"
      "    r = c.getresponse()\n"
      "    assert r.read() == b'x' * 100000, 'echo'\n"
      "print(r.status, c.sock.version(), c.sock.selected_alpn_protocol())\n";
  std::string path = hello.dir.path + "/client.py";
  std::ofstream(path) << script;
  std::string out;
  int rc = run_command(python3() + " " + path, &out);
  INFO(out);
  CHECK(rc == 0);
  CHECK(out == "200 TLSv1.3 http/1.1\n");
}

TEST_CASE(
    "openssl s_client: TLS 1.2 and 1.3 accepted and 1.0 and 1.1 refused and ALPN http/1.1 only") {
  TlsHello hello;
  CHECK(hello.s_client("-tls1_3").find("Protocol version: TLSv1.3") != std::string::npos);
  CHECK(hello.s_client("-tls1_2").find("Protocol version: TLSv1.2") != std::string::npos);
  for (const char* old : {"-tls1", "-tls1_1"}) {
    std::string out = hello.s_client(std::string(old) + " -cipher DEFAULT@SECLEVEL=0");
    INFO(out);
    CHECK(out.find("Protocol version:") == std::string::npos);
    CHECK(out.find("alert protocol version") != std::string::npos);
  }
  CHECK(hello.s_client("-alpn h2,http/1.1", false).find("ALPN protocol: http/1.1") !=
        std::string::npos);
  std::string h2 = hello.s_client("-alpn h2");
  INFO(h2);
  CHECK(h2.find("no application protocol") != std::string::npos);
  // Each refusal is logged at info with the peer and OpenSSL's reason.
  std::string log =
      hello.child->wait_for_log("[info] TLS handshake with 127.0.0.1 failed: unsupported protocol");
  CHECK(!log.empty());
  CHECK(log.find("[error]") == std::string::npos);
}

TEST_CASE(
    "the gateway's TLS facts through curl: scheme, version, SNI, ALPN and the client certificate") {
  TempDir dir;
  grove::test::TestCertificates certs;
  Child child =
      start_hello(dir.path, {"--certfile", certs.server.cert, "--keyfile", certs.server.key,
                             "--ca-certs", certs.ca.cert, "--cert-reqs", "optional", "--bind",
                             "127.0.0.1:0", "--bind", "https://127.0.0.1:0"});
  const std::string log = child.log();
  const std::string tls_url = "https://localhost:" + std::to_string(https_port(log)) + "/tls";
  const std::string curl = "curl -sS --tlsv1.3 --cacert " + certs.ca.cert + " ";
  std::string out;
  REQUIRE(run_command(curl + tls_url, &out) == 0);
  CHECK(out.starts_with("scheme=https\nversion=TLSv1.3\ncipher=TLS_"));
  CHECK(out.find("\nsni=localhost\nalpn=http/1.1\nclient=\nissuer=\nverified=no\n") !=
        std::string::npos);
  // With a client certificate the application sees its subject, its issuer and that it
  // was verified against --ca-certs.
  REQUIRE(run_command(
              curl + "--cert " + certs.client.cert + " --key " + certs.client.key + " " + tls_url,
              &out) == 0);
  CHECK(out.find(
            "\nclient=CN=grove test client,O=grove tests\nissuer=CN=grove test CA,O=grove tests\n"
            "verified=yes\n") != std::string::npos);
  // TLS 1.2 and no SNI (an IP address): the facts say so.
  REQUIRE(run_command("curl -sS --tls-max 1.2 --cacert " + certs.ca.cert +
                          " https://127.0.0.1:" + std::to_string(https_port(log)) + "/tls",
                      &out) == 0);
  CHECK(out.starts_with("scheme=https\nversion=TLSv1.2\n"));
  CHECK(out.find("\nsni=\n") != std::string::npos);
  // The plain listener of the same server: plain HTTP, no facts.
  CHECK(get(port_from_log(log), "/tls").body == "scheme=http\n");
}

TEST_CASE("a plain HTTP request on a TLS port gets a readable 400") {
  TlsHello hello;
  HttpResponse r = request(hello.port, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
  CHECK(r.status == 400);
  CHECK(r.body == "The plain HTTP request was sent to HTTPS port\n");
  CHECK(!hello.child->wait_for_log("plain HTTP request from 127.0.0.1 on a TLS port: answered 400")
             .empty());
  // And an unverifiable client is refused without harm to the next one.
  std::string out;
  CHECK(run_command("curl -sS " + hello.url(), &out) != 0);
  CHECK(run_command("curl -sS --cacert " + hello.certs.ca.cert + " " + hello.url(), &out) == 0);
  CHECK(out == "Hello, World!");
}

TEST_CASE("plain and TLS listeners side by side") {
  TempDir dir;
  grove::test::TestCertificates certs;
  Child child =
      start_hello(dir.path, {"--certfile", certs.server.cert, "--keyfile", certs.server.key,
                             "--bind", "127.0.0.1:0", "--bind", "https://127.0.0.1:0"});
  std::string log = child.log();
  int plain = port_from_log(log);
  int tls = https_port(log);
  REQUIRE(plain > 0);
  REQUIRE(tls > 0);
  CHECK(get(plain, "/").body == "Hello, World!");
  std::string out;
  CHECK(run_command("curl -sS --cacert " + certs.ca.cert +
                        " https://localhost:" + std::to_string(tls) + "/",
                    &out) == 0);
  CHECK(out == "Hello, World!");
}

TEST_CASE("TLS start-up errors name the file and the problem") {
  grove::test::TestCertificates certs;
  std::string out;
  std::string hello = GROVE_HELLO_PATH;
  CHECK(run_command(hello + " --bind https://127.0.0.1:0 --certfile " + certs.server.cert +
                        " --keyfile " + certs.client.key,
                    &out) == 2);
  CHECK(out.find("key file " + certs.client.key + " does not match certificate file " +
                 certs.server.cert) != std::string::npos);
  CHECK(run_command(hello + " --bind https://127.0.0.1:0 --certfile /nonexistent.pem --keyfile " +
                        certs.server.key,
                    &out) == 2);
  CHECK(out.find("certificate file /nonexistent.pem: no such file") != std::string::npos);
  CHECK(run_command(hello + " --bind https://127.0.0.1:0", &out) == 2);
  CHECK(out.find("an https:// bind needs --certfile and --keyfile") != std::string::npos);
}

// serve --workers with a plain and a TLS listener: at SIGTERM the master lets go of both
// before it signals a worker (a TLS listener it kept would complete connections nobody
// accepts, reset at its exit), and HTTPS is served by the workers until then.
TEST_CASE("the flag --workers 2 with a TLS listener: the master lets go of every listener") {
  TempDir dir;
  grove::test::TestCertificates certs;
  Child child =
      start_hello(dir.path, {"--certfile", certs.server.cert, "--keyfile", certs.server.key,
                             "--bind", "127.0.0.1:0", "--bind", "https://127.0.0.1:0", "--workers",
                             "2", "--log-level", "debug"});
  int tls = https_port(child.log());
  REQUIRE(tls > 0);
  std::string out;
  CHECK(run_command("curl -sS --cacert " + certs.ca.cert +
                        " https://localhost:" + std::to_string(tls) + "/",
                    &out) == 0);
  CHECK(out == "Hello, World!");
  child.signal(SIGTERM);
  CHECK(child.wait(15000ms) == 0);
  const std::string log = child.log();
  INFO(log);
  const auto released = log.find("master: let go of the listening sockets (2)");
  const auto signalled = log.find("master: sent SIGTERM to worker");
  REQUIRE(released != std::string::npos);
  REQUIRE(signalled != std::string::npos);
  CHECK(released < signalled);
}

// SIGHUP reloads --certfile/--keyfile: new handshakes get the new pair, a connection opened
// before keeps working, and a bad new pair (a key of another certificate) leaves the last
// good one serving, with the reason in the log.
TEST_CASE("SIGHUP reloads the certificate and a bad new pair keeps the old one") {
  ReloadableHello hello({"--log-level", "info"});
  auto& [dir, certs, live, child, port] = hello;
  REQUIRE(peer_certificate(port, certs.ca.cert) == kLocalhost);

  // A keep-alive connection from before the reload: one request, then another after it.
  const std::string go = dir.path + "/go";
  std::ofstream(dir.path + "/client.py")
      << "import ssl, http.client, os, time\n"
         "ctx = ssl.create_default_context(cafile='" +
             certs.ca.cert +
             "')\n"
             "c = http.client.HTTPSConnection('localhost', " +
             std::to_string(port) +
             ", context=ctx)\n"
             "c.request('GET', '/'); print('before', c.getresponse().read().decode(), flush=True)\n"
             "while not os.path.exists('" +
             go +
             "'): time.sleep(0.01)\n"
             "c.request('GET', '/'); print('after', c.getresponse().read().decode(), flush=True)\n";
  Child client({python3(), dir.path + "/client.py"}, dir.path + "/client.log");
  REQUIRE(!client.wait_for_log("before Hello, World!").empty());

  live.install(certs.server_alt.cert, certs.server_alt.key);
  child.signal(SIGHUP);
  REQUIRE(!child.wait_for_log("TLS certificates reloaded").empty());
  CHECK(peer_certificate(port, certs.ca.cert) == kAlt);
  std::ofstream(go) << "";
  CHECK(client.wait() == 0);
  CHECK(client.log() == "before Hello, World!\nafter Hello, World!\n");

  // A key that does not match: the reload fails, saying why, and alt.localhost still serves.
  live.install(certs.server.cert, certs.server_alt.key);
  child.signal(SIGHUP);
  std::string log = child.wait_for_log("TLS reload failed; the old certificates keep serving: ");
  INFO(log);
  CHECK(log.find("does not match certificate file " + live.cert) != std::string::npos);
  CHECK(peer_certificate(port, certs.ca.cert) == kAlt);
  CHECK(child.running());
}

// With --workers the master reloads (new workers inherit its certificates) and replaces the
// workers (docs/deploy.md, zero-downtime reload); a bad pair stops at the master and the old
// workers serve on.
TEST_CASE("SIGHUP with --workers 2 reloads every worker and a bad new pair none") {
  ReloadableHello hello({"--workers", "2", "--log-level", "debug"});
  auto& [dir, certs, live, child, port] = hello;
  REQUIRE(!wait_for_count(child, "] worker ", 2).empty());  // "worker N started"
  live.install(certs.server_alt.cert, certs.server_alt.key);
  child.signal(SIGHUP);
  std::string log = wait_for_count(child, "old worker ", 2);  // both replaced
  INFO(child.log());
  REQUIRE(!log.empty());
  CHECK(log.find("TLS certificates reloaded") != std::string::npos);
  CHECK(log.find("reload: 2 new worker(s) accept; stopping 2 old one(s) gracefully") !=
        std::string::npos);
  for (int i = 0; i < 6; ++i) CHECK(peer_certificate(port, certs.ca.cert) == kAlt);

  live.install(certs.server.cert, certs.server_alt.key);
  child.signal(SIGHUP);
  REQUIRE(!child.wait_for_log("TLS reload failed; the old certificates keep serving").empty());
  for (int i = 0; i < 6; ++i) CHECK(peer_certificate(port, certs.ca.cert) == kAlt);
  log = child.log();
  CHECK(log.find("reload abandoned: the workers serve on as they were") != std::string::npos);
  CHECK(count_of(log, "new worker(s) accept") == 1);  // no second generation
  // A worker started after the reload (the old one crashed) serves the master's new pair.
  REQUIRE(run_command("curl -sS --cacert " + certs.ca.cert +
                      " --resolve alt.localhost:" + std::to_string(port) +
                      ":127.0.0.1 https://alt.localhost:" + std::to_string(port) +
                      "/crash -o /dev/null") != 0);
  REQUIRE(!child.wait_for_log("starting a new one").empty());
  for (int i = 0; i < 6; ++i) CHECK(peer_certificate(port, certs.ca.cert) == kAlt);
  child.signal(SIGTERM);
  CHECK(child.wait(15000ms) == 0);
}

// Session resumption as openssl s_client does it: the session saved from a first connection
// (-sess_out) resumes on a second (-sess_in), TLS 1.2 and 1.3 (tickets).
TEST_CASE("openssl s_client resumes a session with -sess_out and -sess_in") {
  TlsHello hello;
  for (const char* version : {"-tls1_2", "-tls1_3"}) {
    INFO(version);
    const std::string sess = hello.dir.path + "/session" + version + ".pem";
    // A request closing the connection: s_client reads the TLS 1.3 ticket before it exits.
    const std::string request =
        "printf 'GET / HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n' | ";
    const std::string s_client =
        "timeout 10 openssl s_client -ign_eof -connect 127.0.0.1:" + std::to_string(hello.port) +
        " -servername localhost -CAfile " + hello.certs.ca.cert + " " + version;
    std::string first, second;
    run_command(request + s_client + " -sess_out " + sess, &first);
    INFO(first);
    CHECK(first.find("New, TLSv1.") != std::string::npos);
    CHECK(first.find("Hello, World!") != std::string::npos);
    run_command(request + s_client + " -sess_in " + sess, &second);
    INFO(second);
    CHECK(second.find("Reused, TLSv1.") != std::string::npos);
    CHECK(second.find("Hello, World!") != std::string::npos);
  }
}

// A ClientHello's first bytes, then nothing: the handshake timeout closes the connection
// (not the header timeout, set far longer here) and says so at info.
TEST_CASE("a client that stalls mid-handshake is closed at --handshake-timeout") {
  TlsHello hello({"--handshake-timeout", "1s", "--header-timeout", "60s"});
  Socket stalled = Socket::tcp(hello.port);
  REQUIRE(stalled.try_send(std::string("\x16\x03\x01\x00\xc8\x01\x00\x00\xc4\x03\x03", 11)));
  CHECK(stalled.closed_by_peer(20000ms));
  CHECK(!hello.child->wait_for_log("[info] TLS handshake with 127.0.0.1 timed out").empty());
}

// 1,000 connections that never finish a handshake (half send nothing, half a ClientHello's
// first bytes) take nothing from the others: requests over TLS and a full handshake each go
// on being served while they wait.
TEST_CASE("a thousand unfinished handshakes do not hold up other clients") {
  TlsHello hello({"--handshake-timeout", "60s", "--header-timeout", "60s"});
  std::vector<Socket> idle;
  for (int i = 0; i < 1000; ++i) {
    idle.push_back(Socket::tcp(hello.port));
    if (i % 2)
      REQUIRE(
          idle.back().try_send(std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11)));
  }
  for (int i = 0; i < 5; ++i) {
    std::string out;
    CHECK(run_command("curl -sS --max-time 10 --cacert " + hello.certs.ca.cert + " " + hello.url(),
                      &out) == 0);
    CHECK(out == "Hello, World!");
  }
  // Every stalled connection is still open: nothing was dropped to make room.
  std::size_t closed = 0;
  for (auto& s : idle) {
    pollfd p{s.fd(), POLLIN, 0};
    char byte;
    closed += ::poll(&p, 1, 0) > 0 && ::recv(s.fd(), &byte, 1, MSG_DONTWAIT) <= 0;
  }
  CHECK(closed == 0);
}

// --sni CERTFILE,KEYFILE: a second pair for the names of its certificate; other names and
// no name at all get --certfile's.
TEST_CASE("the flag --sni serves a second certificate to clients asking for its name") {
  TempDir dir;
  grove::test::TestCertificates certs;
  Child child =
      start_hello(dir.path, {"--certfile", certs.server.cert, "--keyfile", certs.server.key,
                             "--sni", certs.server_alt.cert + "," + certs.server_alt.key, "--bind",
                             "https://127.0.0.1:0"});
  const int port = https_port(child.log());
  CHECK(peer_certificate(port, certs.ca.cert, "alt.localhost") == kAlt);
  CHECK(peer_certificate(port, certs.ca.cert, "ALT.localhost") == kAlt);
  CHECK(peer_certificate(port, certs.ca.cert, "localhost") == kLocalhost);
  CHECK(peer_certificate(port, certs.ca.cert, "unknown.example") == kLocalhost);
  // curl verifies alt.localhost's certificate by that name; the application sees the name.
  std::string out;
  CHECK(run_command("curl -sS --cacert " + certs.ca.cert +
                        " --resolve alt.localhost:" + std::to_string(port) +
                        ":127.0.0.1 https://alt.localhost:" + std::to_string(port) + "/tls",
                    &out) == 0);
  CHECK(out.find("\nsni=alt.localhost\n") != std::string::npos);

  std::string hello = GROVE_HELLO_PATH;
  CHECK(run_command(hello + " --bind https://127.0.0.1:0 --certfile " + certs.server.cert +
                        " --keyfile " + certs.server.key + " --sni " + certs.server_alt.cert,
                    &out) == 2);
  CHECK(out.find("--sni '" + certs.server_alt.cert + "': expected CERTFILE,KEYFILE") !=
        std::string::npos);
  CHECK(run_command(hello + " --bind https://127.0.0.1:0 --certfile " + certs.server.cert +
                        " --keyfile " + certs.server.key + " --sni " + certs.server_alt.cert + "," +
                        certs.server.key,
                    &out) == 2);
  CHECK(out.find("does not match certificate file " + certs.server_alt.cert) != std::string::npos);
}

// Bad input on a TLS port, each on a connection of its own: bytes that are no TLS record, a
// record header announcing more than TLS allows, a ClientHello cut short by the client's end
// of input, and one cut short by a reset. Each is refused (closed) and logged at info, never
// at error, and a client that speaks TLS is served throughout.
TEST_CASE(
    "garbage, an oversized record, a truncated handshake and a reset mid-handshake are refused") {
  TlsHello hello;
  const std::string partial_hello("\x16\x03\x01\x00\xc8\x01\x00\x00\xc4\x03\x03", 11);
  Socket garbage = Socket::tcp(hello.port);
  REQUIRE(garbage.try_send(std::string("\x17\xfe\xfd\x00\x10", 5) + std::string(64, '\x5a')));
  Socket oversized = Socket::tcp(hello.port);
  REQUIRE(oversized.try_send(std::string("\x16\x03\x01\xff\xff", 5) + std::string(4096, '\x01')));
  Socket truncated = Socket::tcp(hello.port);
  REQUIRE(truncated.try_send(partial_hello));
  ::shutdown(truncated.fd(), SHUT_WR);
  {
    Socket reset = Socket::tcp(hello.port);
    REQUIRE(reset.try_send(partial_hello));
    linger hard{1, 0};
    ::setsockopt(reset.fd(), SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
  }  // closed with a reset
  CHECK(garbage.closed_by_peer(10000ms));
  CHECK(oversized.closed_by_peer(10000ms));
  CHECK(truncated.closed_by_peer(10000ms));
  std::string out;
  CHECK(run_command("curl -sS --max-time 10 --cacert " + hello.certs.ca.cert + " " + hello.url(),
                    &out) == 0);
  CHECK(out == "Hello, World!");
  std::string log = wait_for_count(*hello.child, "[info] TLS handshake with 127.0.0.1 failed: ", 4);
  INFO(hello.child->log());
  CHECK(!log.empty());
  CHECK(log.find("[error]") == std::string::npos);
  CHECK(hello.child->running());
}

// s_client's K command sends a TLS 1.3 KeyUpdate asking the server to update its keys too.
// OpenSSL reads it inside the server's read and queues the server's own KeyUpdate, which
// goes out before the next record the server writes (RFC 8446 4.6.3 asks no sooner): over
// memory BIOs a read never has to wait to write. The server answers and serves on, under
// new keys both ways.
TEST_CASE("openssl s_client: a key update requested mid-connection is answered") {
  TlsHello hello;
  std::string out;
  run_command(
      "(printf 'GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n'; sleep 0.5; printf 'K\\n'; sleep 0.5; "
      "printf 'GET / HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n'; sleep 1) | "
      "timeout 10 openssl s_client -tls1_3 -msg -connect 127.0.0.1:" +
          std::to_string(hello.port) + " -servername localhost -CAfile " + hello.certs.ca.cert,
      &out);
  INFO(out);
  CHECK(out.find("KEYUPDATE") != std::string::npos);  // s_client sent its KeyUpdate
  // The server's KeyUpdate, received by s_client ("<<< TLS 1.3, Handshake [...], KeyUpdate").
  bool answered = false;
  for (std::size_t at = out.find("<<< "); at != std::string::npos; at = out.find("<<< ", at + 1))
    answered =
        answered || out.substr(at, out.find('\n', at) - at).find("KeyUpdate") != std::string::npos;
  CHECK(answered);
  std::size_t first = out.find("HTTP/1.1 200 OK");
  REQUIRE(first != std::string::npos);
  CHECK(out.find("HTTP/1.1 200 OK", first + 1) != std::string::npos);  // served after it
}

// s_client's R command asks for a renegotiation (TLS 1.2): the server refuses it.
TEST_CASE("openssl s_client: renegotiation is refused") {
  TlsHello hello;
  std::string out;
  run_command(
      "(sleep 0.5; printf 'R\\n'; sleep 0.5) | timeout 10 openssl s_client -brief -tls1_2 -connect "
      "127.0.0.1:" +
          std::to_string(hello.port) + " -servername localhost -CAfile " + hello.certs.ca.cert,
      &out);
  INFO(out);
  CHECK(out.find("Protocol version: TLSv1.2") != std::string::npos);
  CHECK(out.find("RENEGOTIATING") != std::string::npos);
  CHECK(out.find("no renegotiation") != std::string::npos);
}
