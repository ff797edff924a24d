// Request bodies as forms and streams: request.form / request.files (urlencoded, and
// multipart parsed as the body arrives) and request.stream (Request::read).
#include <grove/web/app.hpp>
#include <grove/web/exceptions.hpp>
#include <grove/web/multipart.hpp>
#include <grove/web/request.hpp>

#include <cstring>

namespace grove::web {

namespace {
constexpr std::size_t kReadPiece = 64 * 1024;
const char* const kTooLarge = "The data value transmitted exceeds the capacity limit.";

// MAX_FORM_MEMORY_SIZE and MAX_FORM_PARTS of the current app (null: no limit), and where
// file parts go (UPLOAD_SPOOL_THRESHOLD, UPLOAD_TEMP_DIR), read when a form is parsed
// rather than on every request.
struct FormLimits {
  std::optional<std::size_t> max_memory = 500000;  // one text field's bytes
  std::optional<std::size_t> max_parts = 1000;
  std::size_t spool_threshold = FileStorage::kSpoolThreshold;  // a request's files in memory
  std::string temp_dir;                                        // empty: $TMPDIR, else /tmp
};
std::optional<std::size_t> limit_of(const Config& config, std::string_view key,
                                    std::size_t fallback) {
  const Json* v = config.find(key);
  if (v && v->is_null()) return std::nullopt;
  return config.get<std::size_t>(key, fallback);
}
FormLimits form_limits() {
  FormLimits l;
  if (!has_request_context()) return l;
  const Config& config = current_app().config;
  l.max_memory = limit_of(config, "MAX_FORM_MEMORY_SIZE", 500000);
  l.max_parts = limit_of(config, "MAX_FORM_PARTS", 1000);
  l.spool_threshold = config.get<std::size_t>("UPLOAD_SPOOL_THRESHOLD", l.spool_threshold);
  l.temp_dir = config.get<std::string>("UPLOAD_TEMP_DIR", "");
  return l;
}
}  // namespace

std::size_t Request::read(char* buf, std::size_t n) {
  check_not_streaming("request.read()");
  return read_body(buf, n);
}

std::size_t Request::read_body(char* buf, std::size_t n) {
  if (!body_loaded_ && stream_) {
    reader_ = nullptr;  // data() now sees only what read() leaves: nothing
    if (streamed_ == 0 && max_content_length_ && declared_length_ &&
        *declared_length_ > *max_content_length_)
      throw RequestEntityTooLarge(kTooLarge);
    std::size_t got = stream_(buf, n);
    streamed_ += got;
    if (max_content_length_ && streamed_ > *max_content_length_)
      throw RequestEntityTooLarge(kTooLarge);
    if (got == 0) body_loaded_ = true;
    return got;
  }
  const std::string& body = load_data();  // a hand-made request, or one already read
  std::size_t k = std::min(n, body.size() - std::min(body_pos_, body.size()));
  std::memcpy(buf, body.data() + body_pos_, k);
  body_pos_ += k;
  return k;
}

void Request::parse_form() {
  form_.emplace();
  files_.emplace();
  const std::string type = mimetype();
  if (type == "application/x-www-form-urlencoded") {
    form_ = parse_query(data());
  } else if (type == "multipart/form-data") {
    parse_multipart();
  }
}

// The parser's events into form_ and files_: text fields in memory (bounded by
// max_memory), files through FileStorage (spooled to disk past its threshold).
void Request::parse_multipart() {
  auto boundary = MultipartParser::boundary_of(content_type());
  if (!boundary) throw BadRequest("multipart/form-data without a valid boundary parameter");
  const FormLimits form_limits_ = form_limits();
  MultipartLimits limits;
  limits.max_parts = form_limits_.max_parts.value_or(std::size_t(-1));
  MultipartParser parser(std::move(*boundary), limits);

  MultiDict fields;
  FileMultiDict files;
  std::optional<FileStorage> file;
  std::size_t files_in_memory = 0;  // bytes of the finished file parts kept in memory
  std::string field_name, field_value;
  parser.on_part = [&](const PartHead& h) {
    if (h.filename) {
      file.emplace();
      file->name = h.name;
      file->filename = *h.filename;
      bool typed = false;
      for (const auto& [k, v] : h.headers) typed = typed || iequals(k, "Content-Type");
      file->content_type = typed ? h.content_type : "application/octet-stream";
      file->headers = h.headers;
    } else {
      field_name = h.name;
      field_value.clear();
    }
  };
  parser.on_data = [&](std::string_view piece) {
    if (file) {
      // The threshold is the request's: what earlier parts keep in memory counts.
      file->append(piece, form_limits_.spool_threshold - files_in_memory, form_limits_.temp_dir);
      return;
    }
    if (form_limits_.max_memory && field_value.size() + piece.size() > *form_limits_.max_memory)
      throw RequestEntityTooLarge("the form field '" + field_name +
                                  "' is larger than MAX_FORM_MEMORY_SIZE (" +
                                  std::to_string(*form_limits_.max_memory) + " bytes)");
    field_value.append(piece);
  };
  parser.on_part_end = [&] {
    if (file) {
      if (file->in_memory()) files_in_memory += std::size_t(file->size());
      std::string name = file->name;
      files.add(std::move(name), std::move(*file));
      file.reset();
    } else {
      fields.add(std::move(field_name), std::move(field_value));
      field_value.clear();
    }
  };
  auto fail = [&] {
    if (parser.too_large()) throw RequestEntityTooLarge(parser.error());
    throw BadRequest(parser.error());
  };

  if (!body_loaded_ && stream_) {
    std::string buf(kReadPiece, '\0');
    while (std::size_t n = read(buf.data(), buf.size()))
      if (!parser.feed(std::string_view(buf.data(), n))) fail();
  } else if (!parser.feed(data())) {
    fail();
  }
  if (!parser.finish()) fail();
  form_ = std::move(fields);
  files_ = std::move(files);
}

}  // namespace grove::web
