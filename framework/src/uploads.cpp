// Uploaded files (grove/web/uploads.hpp): memory up to a threshold, then an anonymous
// temporary file.
#include <grove/web/exceptions.hpp>
#include <grove/web/uploads.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <mutex>
#include <new>
#include <system_error>
#include <utility>

namespace grove::web {
namespace {

[[noreturn]] void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

void write_all(int fd, std::string_view bytes, const std::string& what) {
  while (!bytes.empty()) {
    ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_errno(what);
    bytes.remove_prefix(std::size_t(n));
  }
}

// An unlinked file in `dir` (empty: $TMPDIR, else /tmp): gone when closed, whatever
// happens.
int anonymous_temp_file(const std::string& dir) {
  const char* env = std::getenv("TMPDIR");
  std::string d = !dir.empty() ? dir : env && *env ? env : "/tmp";
  int fd = ::open(d.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd >= 0) return fd;
  std::string path = d + "/grove-upload-XXXXXX";
  fd = ::mkostemp(path.data(), O_CLOEXEC);
  if (fd < 0) throw_errno("cannot create a temporary file for an upload in " + d);
  ::unlink(path.c_str());
  return fd;
}

// The full chunks of in-memory uploads, reused from one request to the next. A fresh
// chunk costs more than the copy into it: the allocator hands freed memory back to the
// system (glibc trims its heap), so every upload would fault its pages in and have the
// kernel zero them again. Keeps at most kPoolBytes of cleared chunks (what concurrent
// uploads last used, no more); any thread may take and give (views may run on several).
class ChunkPool {
 public:
  static ChunkPool& instance() {
    static ChunkPool* pool = new ChunkPool;  // never destroyed: FileStorage may outlive main
    return *pool;
  }
  std::string take(std::size_t capacity) {
    {
      std::lock_guard lock(mutex_);
      if (!free_.empty()) {
        std::string chunk = std::move(free_.back());
        free_.pop_back();
        return chunk;
      }
    }
    std::string chunk;
    chunk.reserve(capacity);
    return chunk;
  }
  void give(std::vector<std::string>& chunks, std::size_t capacity) noexcept {
    std::lock_guard lock(mutex_);
    for (std::string& chunk : chunks) {
      if (chunk.capacity() != capacity || (free_.size() + 1) * capacity > kPoolBytes) continue;
      chunk.clear();
      try {
        free_.push_back(std::move(chunk));
      } catch (const std::bad_alloc&) {  // the chunk is freed instead
      }
    }
    chunks.clear();
  }

 private:
  static constexpr std::size_t kPoolBytes = 64 << 20;
  std::mutex mutex_;
  std::vector<std::string> free_;
};

}  // namespace

FileStorage::FileStorage(FileStorage&& other) noexcept
    : name(std::move(other.name)), filename(std::move(other.filename)),
      content_type(std::move(other.content_type)), headers(std::move(other.headers)),
      chunks_(std::move(other.chunks_)), fd_(std::exchange(other.fd_, -1)),
      size_(std::exchange(other.size_, 0)) {}

FileStorage& FileStorage::operator=(FileStorage&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    name = std::move(other.name);
    filename = std::move(other.filename);
    content_type = std::move(other.content_type);
    headers = std::move(other.headers);
    ChunkPool::instance().give(chunks_, kChunk);
    chunks_ = std::move(other.chunks_);
    fd_ = std::exchange(other.fd_, -1);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

FileStorage::~FileStorage() {
  if (fd_ >= 0) ::close(fd_);
  if (!chunks_.empty()) ChunkPool::instance().give(chunks_, kChunk);
}

void FileStorage::append(std::string_view bytes, std::size_t spool_threshold,
                         const std::string& temp_dir) {
  if (fd_ < 0 && size_ + bytes.size() > spool_threshold) spool(temp_dir);
  size_ += bytes.size();
  if (fd_ >= 0) {
    write_all(fd_, bytes, "cannot write an upload's temporary file");
    return;
  }
  while (!bytes.empty()) {
    if (chunks_.empty()) {
      chunks_.emplace_back();  // grows as needed: most files are short
    } else if (chunks_.back().size() == kChunk) {
      chunks_.push_back(ChunkPool::instance().take(kChunk));  // will fill up
    }
    std::string& last = chunks_.back();
    std::size_t n = std::min(bytes.size(), kChunk - last.size());
    last.append(bytes.substr(0, n));
    bytes.remove_prefix(n);
  }
}

// From memory to a temporary file, for the rest of the part.
void FileStorage::spool(const std::string& temp_dir) {
  fd_ = anonymous_temp_file(temp_dir);
  for (const std::string& chunk : chunks_)
    write_all(fd_, chunk, "cannot write an upload's temporary file");
  ChunkPool::instance().give(chunks_, kChunk);
}

std::size_t FileStorage::read(std::uint64_t offset, char* buf, std::size_t n) const {
  if (offset >= size_) return 0;
  n = std::size_t(std::min<std::uint64_t>(n, size_ - offset));
  if (fd_ < 0) {
    std::size_t done = 0;
    while (done < n) {
      const std::string& chunk = chunks_[std::size_t((offset + done) / kChunk)];
      std::size_t at = std::size_t((offset + done) % kChunk);
      done += chunk.copy(buf + done, n - done, at);
    }
    return n;
  }
  for (;;) {
    ssize_t got = ::pread(fd_, buf, n, off_t(offset));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) throw_errno("cannot read an upload's temporary file");
    return std::size_t(got);
  }
}

std::string FileStorage::read() const {
  std::string out(std::size_t(size_), '\0');
  std::size_t done = 0;
  while (done < out.size()) {
    std::size_t n = read(done, out.data() + done, out.size() - done);
    if (n == 0) break;
    done += n;
  }
  out.resize(done);
  return out;
}

void FileStorage::save(const std::string& path) const {
  int out = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out < 0) throw_errno("cannot save the upload to '" + path + "'");
  try {
    if (fd_ < 0) {
      for (const std::string& chunk : chunks_)
        write_all(out, chunk, "cannot save the upload to '" + path + "'");
    } else {
      std::string buf(64 * 1024, '\0');  // not on the stack: views run on 64 KiB green stacks
      std::uint64_t at = 0;
      while (std::size_t n = read(at, buf.data(), buf.size())) {
        write_all(out, std::string_view(buf.data(), n), "cannot save the upload to '" + path + "'");
        at += n;
      }
    }
  } catch (...) {
    ::close(out);
    throw;
  }
  if (::close(out) != 0) throw_errno("cannot save the upload to '" + path + "'");
}

const FileStorage* FileMultiDict::get(std::string_view key) const {
  for (const auto& [k, f] : items_)
    if (k == key) return &f;
  return nullptr;
}

const FileStorage& FileMultiDict::operator[](std::string_view key) const {
  if (const FileStorage* f = get(key)) return *f;
  throw BadRequest(
      "The browser (or proxy) sent a request that this server could not understand: no file '" +
      std::string(key) + "'");
}

std::vector<const FileStorage*> FileMultiDict::get_all(std::string_view key) const {
  std::vector<const FileStorage*> out;
  for (const auto& [k, f] : items_)
    if (k == key) out.push_back(&f);
  return out;
}

std::string secure_filename(std::string_view filename) {
  std::string out;
  for (char c : filename) {
    unsigned char u = static_cast<unsigned char>(c);
    if (c == '/' || c == '\\' || c == ' ') out += '_';
    else if (u < 0x80 && (std::isalnum(u) || c == '.' || c == '-' || c == '_')) out += c;
  }
  std::size_t start = out.find_first_not_of("._");
  return start == std::string::npos ? std::string() : out.substr(start);
}

}  // namespace grove::web
