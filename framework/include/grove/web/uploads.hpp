// Uploaded files: what request.files() holds for each file part of a multipart/form-data
// body (werkzeug's FileStorage). The file parts of a request stay in memory up to a
// threshold (500 KiB, as werkzeug's spooled files; the config's UPLOAD_SPOOL_THRESHOLD)
// and a part that would pass it goes to an anonymous temporary file (in UPLOAD_TEMP_DIR,
// else $TMPDIR, else /tmp), so a large upload costs its size on disk, not in memory.
//
//   app.route("/avatar", {"POST"}, [](web::Request& req) {
//     const web::FileStorage* f = req.files().get("avatar");
//     if (!f || f->filename.empty()) web::abort(400, "no file");
//     f->save("/srv/avatars/" + web::secure_filename(f->filename));
//     return web::redirect(web::url_for("profile"));
//   });
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace grove::web {

class FileStorage {
 public:
  static constexpr std::size_t kSpoolThreshold = 500 * 1024;

  std::string name;          // the form field
  std::string filename;      // as the client sent it: never trust it as a path
  std::string content_type;  // as the client sent it ("application/octet-stream" if none)
  std::vector<std::pair<std::string, std::string>> headers;  // the part's header fields

  FileStorage() = default;
  // Movable (the temporary file goes along), not copyable.
  FileStorage(FileStorage&& other) noexcept;
  FileStorage& operator=(FileStorage&& other) noexcept;
  ~FileStorage();

  std::uint64_t size() const noexcept { return size_; }
  bool in_memory() const noexcept { return fd_ < 0; }
  // The whole content (read from the temporary file when spooled).
  std::string read() const;
  // Up to n bytes from `offset`; 0 at the end. The stream of the file, piece by piece.
  std::size_t read(std::uint64_t offset, char* buf, std::size_t n) const;
  // Writes the content to `path` (created or truncated, mode 0644 less the umask).
  // Throws std::system_error naming the path.
  void save(const std::string& path) const;

  // --- for the form parser -------------------------------------------------------------
  // Appends bytes, moving everything to a temporary file in `temp_dir` (empty: $TMPDIR,
  // else /tmp) once past `spool_threshold` bytes.
  void append(std::string_view bytes, std::size_t spool_threshold = kSpoolThreshold,
              const std::string& temp_dir = {});

 private:
  // In memory: pieces of kChunk bytes (the last one shorter), so a growing file is never
  // copied to a larger block and its bytes are found by offset / kChunk.
  static constexpr std::size_t kChunk = 64 * 1024;
  void spool(const std::string& temp_dir);

  std::vector<std::string> chunks_;
  int fd_ = -1;  // the temporary file, already unlinked
  std::uint64_t size_ = 0;
};

// The files of a request by field name, in the order sent (several per name allowed).
class FileMultiDict {
 public:
  void add(std::string key, FileStorage file) {
    items_.emplace_back(std::move(key), std::move(file));
  }
  // The first file of the field, or nullptr.
  const FileStorage* get(std::string_view key) const;
  // The first file of the field; BadRequest (400) naming the key when missing, as Flask.
  const FileStorage& operator[](std::string_view key) const;
  std::vector<const FileStorage*> get_all(std::string_view key) const;
  bool contains(std::string_view key) const { return get(key) != nullptr; }
  std::size_t size() const noexcept { return items_.size(); }
  bool empty() const noexcept { return items_.empty(); }
  auto begin() const { return items_.begin(); }
  auto end() const { return items_.end(); }

 private:
  std::vector<std::pair<std::string, FileStorage>> items_;
};

// A file name safe to join to a directory (werkzeug's secure_filename): ASCII letters,
// digits, '.', '-' and '_' only, spaces as '_', no leading dots or separators; may be empty.
std::string secure_filename(std::string_view filename);

}  // namespace grove::web
