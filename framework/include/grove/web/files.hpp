// Files as responses: send_file(), send_from_directory() and the app's static folder
// (Flask's names and rules, werkzeug's behaviour).
//
// The body is never read into memory: the response carries the open file, and the server
// sends it with sendfile(2) on a plain socket (pread + TLS records under TLS). Every file
// response is conditional and ranged against the current request:
//   ETag (mtime, size, inode) and Last-Modified; If-Match / If-Unmodified-Since -> 412;
//   If-None-Match / If-Modified-Since -> 304; Range: bytes=a-b | a- | -n -> 206 with
//   Content-Range, past the end -> 416 (Content-Range: bytes */size); If-Range that does
//   not match -> the whole file. Several ranges in one header are answered with the whole
//   file (200), as werkzeug does: a server may ignore Range (RFC 9110 §14.2).
// Content-Type comes from the extension (/etc/mime.types, else a built-in table);
// Cache-Control is "no-cache" unless max_age (or the config's SEND_FILE_MAX_AGE_DEFAULT)
// is set, which gives "public, max-age=N" and Expires.
//
//   app.serve_static("static");                      // GET /static/<path:filename>
//   app.route("/report", [] {
//     return web::send_file("/srv/report.pdf", {.as_attachment = true,
//                                               .download_name = "Report für 2026.pdf"});
//   });
//   app.route("/u/<path:name>", [](std::string name) {
//     return web::send_from_directory("/srv/uploads", name);   // 404 for ../, symlinks out
//   });
#pragma once

#include <grove/web/response.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace grove::web {

struct SendFileOptions {
  // The Content-Type; empty: from the extension of download_name, else of the path.
  std::string mimetype{};
  // Content-Disposition: attachment (a download) instead of inline.
  bool as_attachment = false;
  // The file name the client sees (Content-Disposition's filename, with RFC 5987's
  // filename* for non-ASCII names); empty: the path's last component with as_attachment,
  // else no Content-Disposition.
  std::string download_name{};
  // Whether the current request's conditional and Range fields are honoured.
  bool conditional = true;
  // Whether to send an ETag.
  bool etag = true;
  // Seconds of caching; nullopt: the config's SEND_FILE_MAX_AGE_DEFAULT (null: none).
  std::optional<long> max_age{};
};

// A response whose body is the file at `path` (relative paths are the working directory's).
// A missing or unreadable path is a NotFound (404) naming it; a path that is not a regular
// file (a directory, a FIFO) also.
Response send_file(const std::string& path, const SendFileOptions& options = {});

// The same for a file the caller opened: send_file takes the descriptor over (it is closed
// with the response). Without a path the type cannot be guessed: set mimetype or
// download_name, else std::invalid_argument says so.
Response send_file(int fd, const SendFileOptions& options);

// send_file() for `path` inside `directory`, where `path` comes from the client: a path
// that is absolute, has a ".." segment, a NUL, or resolves (through symlinks) outside
// `directory` is a NotFound, as is a missing file. On Linux >= 5.6 the open itself is
// confined (openat2 with RESOLVE_BENEATH), so a symlink swapped in later cannot escape.
Response send_from_directory(const std::string& directory, std::string_view path,
                             const SendFileOptions& options = {});

// The joined path, or nullopt when `untrusted` would leave `directory` by its spelling
// (absolute, a ".." segment, a NUL). werkzeug's safe_join; symlinks are not looked at.
std::optional<std::string> safe_join(std::string_view directory, std::string_view untrusted);

// The Content-Type for a file name: its extension through /etc/mime.types (read once),
// else a built-in table; "; charset=utf-8" is added to text types as werkzeug does;
// application/octet-stream when unknown.
std::string guess_mimetype(std::string_view filename);

}  // namespace grove::web
