// A static folder on disk for the file-serving tests: files, a subdirectory, a secret file
// beside the folder, and symlinks that point inside and outside it.
#pragma once

#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace grove::web::test {

class StaticTree {
 public:
  StaticTree() {
    char tmpl[] = "/tmp/grove-static-XXXXXX";
    if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
    root_ = tmpl;
    folder_ = root_ + "/static";
    ::mkdir(folder_.c_str(), 0755);
    ::mkdir((folder_ + "/css").c_str(), 0755);
    write("static/css/app.css", "body { color: green; }\n");
    write("static/hello.txt", "Hello, static world!\n");
    write("static/logo.png", std::string("\x89PNG\r\n\x1a\n", 8) + std::string(100, 'x'));
    write("static/data.bin", digits(100000));
    write("static/noext", "no extension");
    write("secret.txt", "top secret\n");
    // In-folder symlink (allowed) and escaping ones (refused).
    (void)!::symlink("hello.txt", (folder_ + "/alias.txt").c_str());
    (void)!::symlink("../secret.txt", (folder_ + "/escape.txt").c_str());
    (void)!::symlink((root_ + "/secret.txt").c_str(), (folder_ + "/absolute.txt").c_str());
    (void)!::symlink("/etc", (folder_ + "/etc").c_str());
    ::mkfifo((folder_ + "/fifo").c_str(), 0644);
    // A fixed modification time: Last-Modified and If-Modified-Since are checked exactly.
    timeval times[2] = {{kMtime, 0}, {kMtime, 0}};
    ::utimes((folder_ + "/hello.txt").c_str(), times);
  }
  ~StaticTree() { std::system(("rm -rf '" + root_ + "'").c_str()); }
  StaticTree(const StaticTree&) = delete;

  static constexpr long kMtime = 1700000000;  // Tue, 14 Nov 2023 22:13:20 GMT
  static constexpr const char* kMtimeText = "Tue, 14 Nov 2023 22:13:20 GMT";

  const std::string& root() const { return root_; }
  const std::string& folder() const { return folder_; }
  std::string path(const std::string& rel) const { return root_ + "/" + rel; }
  void write(const std::string& rel, const std::string& data) const {
    std::ofstream(path(rel), std::ios::binary) << data;
  }
  // 0123456789 0123456789 ... : any range of it is easy to state.
  static std::string digits(std::size_t n) {
    std::string s(n, '0');
    for (std::size_t i = 0; i < n; ++i) s[i] = char('0' + i % 10);
    return s;
  }

 private:
  std::string root_, folder_;
};

// One part of a multipart/byteranges body: its Content-Range and bytes.
struct RangePart {
  std::string content_range;
  std::string content_type;
  std::string data;
};

// The boundary of a "multipart/byteranges; boundary=..." field ("" if it has none).
inline std::string byteranges_boundary(std::string_view content_type) {
  auto at = content_type.find("boundary=");
  return at == std::string_view::npos ? std::string() : std::string(content_type.substr(at + 9));
}

// Splits a multipart/byteranges body (RFC 9110 §14.6) by hand: a test's own reading, not
// the server's code. Throws when the framing is not what the RFC says.
inline std::vector<RangePart> split_byteranges(std::string_view body, const std::string& boundary) {
  const std::string delimiter = "\r\n--" + boundary;
  std::vector<RangePart> parts;
  std::size_t at = body.find(delimiter);
  if (at == std::string_view::npos) throw std::runtime_error("no boundary in the body");
  while (true) {
    at += delimiter.size();
    if (body.substr(at) == "--\r\n") return parts;
    if (body.substr(at, 2) != "\r\n") throw std::runtime_error("a boundary not followed by CRLF");
    std::size_t head_end = body.find("\r\n\r\n", at);
    std::size_t next = body.find(delimiter, head_end);
    if (head_end == std::string_view::npos || next == std::string_view::npos)
      throw std::runtime_error("an unterminated part");
    RangePart part;
    std::string_view head = body.substr(at + 2, head_end - at - 2);
    while (!head.empty()) {
      std::size_t eol = head.find("\r\n");
      std::string_view line = head.substr(0, eol);
      if (line.starts_with("Content-Range: ")) part.content_range = line.substr(15);
      if (line.starts_with("Content-Type: ")) part.content_type = line.substr(14);
      head = eol == std::string_view::npos ? std::string_view() : head.substr(eol + 2);
    }
    part.data = body.substr(head_end + 4, next - head_end - 4);
    parts.push_back(std::move(part));
    at = next;
  }
}

}  // namespace grove::web::test
