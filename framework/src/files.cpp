// send_file, send_from_directory, safe_join (grove/web/files.hpp).
#include <grove/web/app.hpp>
#include <grove/web/exceptions.hpp>
#include <grove/web/files.hpp>

#include "conditional.hpp"
#include "internal.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>

namespace grove::web {
namespace {

constexpr int kOpenFlags =
    O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;  // a FIFO cannot hang the open

// Owns a descriptor until it is handed to the response.
struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  Fd(const Fd&) = delete;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  int release() { return std::exchange(fd, -1); }
};

// "W/"-less, quoted: changes with the file's content as far as its metadata tells.
std::string make_etag(const struct stat& st) {
  char buf[96];
  int n = std::snprintf(buf, sizeof buf, "\"%llx.%lx-%llx-%llx\"",
                        (unsigned long long)st.st_mtim.tv_sec, (unsigned long)st.st_mtim.tv_nsec,
                        (unsigned long long)st.st_size, (unsigned long long)st.st_ino);
  return std::string(buf, std::size_t(n));
}

bool attr_char(unsigned char c) {  // RFC 5987 attr-char
  return std::isalnum(c) || std::strchr("!#$&+-.^_`|~", c) != nullptr;
}

// Content-Disposition: the plain filename (ASCII, quoted; non-ASCII and controls dropped)
// and, when that lost anything, filename* with the UTF-8 name percent-encoded.
std::string content_disposition(std::string_view kind, std::string_view name) {
  std::string simple, encoded;
  bool lossy = false;
  for (unsigned char c : name) {
    if (c >= 0x20 && c < 0x7f) {
      if (c == '"' || c == '\\') simple += '\\';
      simple += char(c);
    } else {
      lossy = true;
    }
    if (attr_char(c)) {
      encoded += char(c);
    } else {
      static const char* hex = "0123456789ABCDEF";
      encoded += '%';
      encoded += hex[c >> 4];
      encoded += hex[c & 15];
    }
  }
  std::string out(kind);
  out += "; filename=\"" + simple + "\"";
  if (lossy) out += "; filename*=UTF-8''" + encoded;
  return out;
}

std::optional<long> default_max_age() {
  if (!has_request_context()) return std::nullopt;
  const Config& config = current_app().config;
  const Json* v = config.find("SEND_FILE_MAX_AGE_DEFAULT");
  if (!v || v->is_null()) return std::nullopt;
  return config.get<long>("SEND_FILE_MAX_AGE_DEFAULT", 0);
}

// The fields of a file response; `name` is its path or download name (for the type and
// the attachment's default name; may be empty).
Response file_head(const struct stat& st, std::string_view name, const SendFileOptions& o) {
  Response r(Response::Blank{});
  std::string type = o.mimetype;
  if (type.empty())
    type = guess_mimetype(o.download_name.empty() ? name : std::string_view(o.download_name));
  r.headers.set("Content-Type", type);
  std::string download = o.download_name;
  if (download.empty() && o.as_attachment) download = std::string(name.substr(name.rfind('/') + 1));
  if (!download.empty())
    r.headers.set("Content-Disposition",
                  content_disposition(o.as_attachment ? "attachment" : "inline", download));
  std::optional<long> max_age = o.max_age ? o.max_age : default_max_age();
  if (max_age && *max_age > 0) {
    r.headers.set("Cache-Control", "public, max-age=" + std::to_string(*max_age));
    r.headers.set("Expires", detail::format_http_date(std::time(nullptr) + *max_age));
  } else {
    r.headers.set("Cache-Control", max_age ? "no-cache, max-age=0" : "no-cache");
  }
  r.headers.set("Last-Modified", detail::format_http_date(st.st_mtim.tv_sec));
  if (o.etag) r.headers.set("ETag", make_etag(st));
  return r;
}

// The response for an open regular file.
Response file_response(Fd& fd, const struct stat& st, std::string_view name,
                       const SendFileOptions& o) {
  Response r = file_head(st, name, o);
  const auto size = std::uint64_t(st.st_size);
  r.set_file(grove::http::FileBody(std::make_shared<grove::http::OpenFile>(fd.release()), 0, size));
  if (o.conditional && has_request_context())
    detail::make_conditional(r, request(), size, st.st_mtim.tv_sec);
  return r;
}

// fstat and the regular-file check; throws NotFound (with `description`) otherwise.
struct stat regular_file(int fd, const std::string& description) {
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) throw NotFound(description);
  return st;
}

int open_directory(const std::string& directory) {
  return ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

// Opens `relative` beneath `directory` (open as `dir`): the kernel refuses any step (a
// "..", an absolute or escaping symlink) that would leave it. Before Linux 5.6 (no
// openat2): the resolved path must still start with the resolved directory.
int open_beneath(int dir, const std::string& directory, const std::string& relative) {
  open_how how{};
  how.flags = kOpenFlags;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  long fd = ::syscall(SYS_openat2, dir, relative.c_str(), &how, sizeof how);
  if (fd >= 0 || errno != ENOSYS) return int(fd);
  char root[PATH_MAX], target[PATH_MAX];
  std::string joined = directory + "/" + relative;
  if (!::realpath(directory.c_str(), root) || !::realpath(joined.c_str(), target)) return -1;
  std::string_view r(root), t(target);
  if (!t.starts_with(r) || (t.size() > r.size() && t[r.size()] != '/' && r != "/")) {
    errno = EXDEV;
    return -1;
  }
  return ::open(target, kOpenFlags);
}

bool same_file(const struct stat& a, const struct stat& b) {
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino && a.st_size == b.st_size &&
         a.st_mtim.tv_sec == b.st_mtim.tv_sec && a.st_mtim.tv_nsec == b.st_mtim.tv_nsec &&
         a.st_ctim.tv_sec == b.st_ctim.tv_sec && a.st_ctim.tv_nsec == b.st_ctim.tv_nsec;
}

// The static folder, kept open between requests (an open and a close fewer per file
// served) and opened again once its descriptor is a second old: a folder replaced
// meanwhile (renamed over, or a symlink to it switched) is seen within a second, as
// nginx's open_file_cache_valid bounds its cached descriptors.
//
// Small files' bytes are kept too, by path, and served while a stat of the path still
// finds the same file (inode, size, mtime and ctime): one stat instead of an open, fstat,
// read and close, and never stale. The stat follows the path as the open did; a path that
// now leads elsewhere (a symlink switched out of the folder) finds another file and goes
// through the confined open again.
class StaticFolder {
 public:
  static constexpr off_t kSmallFile = 16 * 1024;
  static constexpr std::size_t kMaxFiles = 256;  // at most 4 MiB of bytes

  explicit StaticFolder(std::string path) : path_(std::move(path)) {}
  const std::string& path() const noexcept { return path_; }

  // The bytes of `relative` if cached for the file `st` describes.
  std::optional<std::string> cached(const std::string& relative, const struct stat& st) {
    std::lock_guard lock(mutex_);
    auto it = files_.find(relative);
    if (it == files_.end() || !same_file(it->second.st, st)) return std::nullopt;
    return it->second.bytes;
  }
  void remember(const std::string& relative, const struct stat& st, std::string bytes) {
    std::lock_guard lock(mutex_);
    if (files_.size() >= kMaxFiles && !files_.contains(relative)) files_.clear();
    files_[relative] = {st, std::move(bytes)};
  }

  // The folder's descriptor, held open by the handle; null if the folder cannot be opened.
  std::shared_ptr<const Fd> descriptor() {
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(mutex_);
    if (fd_ && now - opened_ < kReopenAfter) return fd_;
    auto fresh = std::make_shared<Fd>(open_directory(path_));
    if (fresh->fd < 0) {
      fd_.reset();
      return nullptr;
    }
    fd_ = std::move(fresh);
    opened_ = now;
    return fd_;
  }

 private:
  struct Cached {
    struct stat st;
    std::string bytes;
  };
  static constexpr std::chrono::seconds kReopenAfter{1};
  const std::string path_;
  std::mutex mutex_;  // views of one app may run on several threads (thread bridge)
  std::shared_ptr<const Fd> fd_;
  std::chrono::steady_clock::time_point opened_;
  std::unordered_map<std::string, Cached> files_;
};

// Reads a small open file whole; nullopt if it did not read as long as `st` says.
std::optional<std::string> read_small(int fd, const struct stat& st) {
  std::string bytes(std::size_t(st.st_size), '\0');
  std::size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::pread(fd, bytes.data() + done, bytes.size() - done, off_t(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return std::nullopt;
    done += std::size_t(n);
  }
  return bytes;
}

// A file of the static folder: from the cache when the path still finds the cached file,
// else opened beneath the folder (and cached when small). Range requests take the file
// path (ranges are cut from the open file).
Response serve_static_file(StaticFolder& folder, const std::string& filename) {
  if (!safe_join(folder.path(), filename)) throw NotFound();
  auto dir = folder.descriptor();
  if (!dir) throw NotFound();
  const bool ranged = has_request_context() && request().headers().get("Range");
  struct stat seen {};
  const bool small = !ranged && ::fstatat(dir->fd, filename.c_str(), &seen, 0) == 0 &&
                     S_ISREG(seen.st_mode) && seen.st_size <= StaticFolder::kSmallFile;
  if (small) {
    if (auto bytes = folder.cached(filename, seen)) {
      Response r = file_head(seen, filename, {});
      r.set_data(std::move(*bytes));
      if (has_request_context())
        detail::make_conditional(r, request(), std::uint64_t(seen.st_size), seen.st_mtim.tv_sec);
      return r;
    }
  }
  Fd fd(open_beneath(dir->fd, folder.path(), filename));
  if (fd.fd < 0) throw NotFound();
  struct stat st = regular_file(fd.fd, {});  // the client's path is not echoed
  if (small && same_file(st, seen))
    if (auto bytes = read_small(fd.fd, st)) folder.remember(filename, st, std::move(*bytes));
  return file_response(fd, st, filename, {});
}

Response send_from_open_directory(int dir, const std::string& directory, std::string_view path,
                                  const SendFileOptions& options) {
  if (!safe_join(directory, path)) throw NotFound();
  std::string relative(path);
  Fd fd(open_beneath(dir, directory, relative));
  if (fd.fd < 0) throw NotFound();
  struct stat st = regular_file(fd.fd, {});  // the client's path is not echoed
  return file_response(fd, st, relative, options);
}

}  // namespace

std::optional<std::string> safe_join(std::string_view directory, std::string_view untrusted) {
  if (untrusted.empty() || untrusted.front() == '/' ||
      untrusted.find('\0') != std::string_view::npos)
    return std::nullopt;
  std::string_view rest = untrusted;
  while (true) {
    std::size_t slash = rest.find('/');
    if (rest.substr(0, slash) == "..") return std::nullopt;
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  std::string out(directory);
  if (out.empty()) out = ".";
  if (out.back() != '/') out += '/';
  out += untrusted;
  return out;
}

Response send_file(const std::string& path, const SendFileOptions& options) {
  Fd fd(::open(path.c_str(), kOpenFlags));
  if (fd.fd < 0) throw NotFound("cannot open '" + path + "': " + std::strerror(errno));
  struct stat st = regular_file(fd.fd, "'" + path + "' is not a regular file");
  return file_response(fd, st, path, options);
}

Response send_file(int descriptor, const SendFileOptions& options) {
  Fd fd(descriptor);
  if (options.mimetype.empty() && options.download_name.empty())
    throw std::invalid_argument(
        "grove::web::send_file(fd): the type of a file given by descriptor cannot be guessed; "
        "set options.mimetype or options.download_name, or pass a path");
  struct stat st =
      regular_file(fd.fd, "descriptor " + std::to_string(descriptor) + " is not a regular file");
  return file_response(fd, st, {}, options);
}

Response send_from_directory(const std::string& directory, std::string_view path,
                             const SendFileOptions& options) {
  if (!safe_join(directory, path)) throw NotFound();
  Fd dir(open_directory(directory));
  if (dir.fd < 0) throw NotFound();
  return send_from_open_directory(dir.fd, directory, path, options);
}

std::string detail::absolute_path(std::string path) {
  if (!path.empty() && path.front() != '/') {
    char cwd[PATH_MAX];
    if (::getcwd(cwd, sizeof cwd)) path = std::string(cwd) + "/" + path;
  }
  return path;
}

Scaffold& Scaffold::serve_static(std::string folder, std::string url_path) {
  if (folder.empty())
    throw std::invalid_argument(
        "grove::web: serve_static() needs a folder (\"static\", or an absolute path)");
  folder = detail::absolute_path(std::move(folder));  // fixed now: a later chdir must not move it
  while (url_path.size() > 1 && url_path.back() == '/') url_path.pop_back();
  if (url_path == "/") url_path.clear();
  return route(
      url_path + "/<path:filename>", {"GET"},
      [folder = std::make_shared<StaticFolder>(std::move(folder))](const std::string& filename) {
        return serve_static_file(*folder, filename);
      },
      "static");
}

}  // namespace grove::web
