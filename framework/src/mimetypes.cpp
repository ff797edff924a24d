// Content-Type from a file name: Debian's /etc/mime.types (media-types), read once, with a
// built-in table for the types a web app serves most when the file is missing.
#include <grove/web/files.hpp>

#include <cctype>
#include <fstream>
#include <sstream>
#include <string>
#include <unordered_map>

namespace grove::web {
namespace {

using TypeMap = std::unordered_map<std::string, std::string>;

const char* const kBuiltin[][2] = {
    {"html", "text/html"},        {"htm", "text/html"},
    {"css", "text/css"},          {"js", "text/javascript"},
    {"mjs", "text/javascript"},   {"json", "application/json"},
    {"txt", "text/plain"},        {"csv", "text/csv"},
    {"xml", "application/xml"},   {"svg", "image/svg+xml"},
    {"png", "image/png"},         {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},       {"gif", "image/gif"},
    {"webp", "image/webp"},       {"ico", "image/vnd.microsoft.icon"},
    {"avif", "image/avif"},       {"woff", "font/woff"},
    {"woff2", "font/woff2"},      {"ttf", "font/ttf"},
    {"otf", "font/otf"},          {"pdf", "application/pdf"},
    {"zip", "application/zip"},   {"gz", "application/gzip"},
    {"wasm", "application/wasm"}, {"mp4", "video/mp4"},
    {"webm", "video/webm"},       {"mp3", "audio/mpeg"},
    {"ogg", "audio/ogg"},         {"wav", "audio/wav"},
    {"md", "text/markdown"},      {"map", "application/json"},
    {"tar", "application/x-tar"},
};

// "type ext ext ..." lines; '#' starts a comment.
void read_mime_types(const char* path, TypeMap& map) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (auto hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    std::istringstream words(line);
    std::string type, ext;
    if (!(words >> type)) continue;
    while (words >> ext) map.emplace(ext, type);  // the first mention wins
  }
}

const TypeMap& types() {
  static const TypeMap map = [] {
    TypeMap m;
    read_mime_types("/etc/mime.types", m);
    for (const auto& [ext, type] : kBuiltin) m.emplace(ext, type);
    return m;
  }();
  return map;
}

// werkzeug's get_content_type: text types carry the charset.
bool wants_charset(std::string_view type) {
  return type.starts_with("text/") || type.ends_with("+xml") || type == "application/javascript" ||
         type == "application/ecmascript" || type == "application/xml" ||
         type == "application/sql" || type == "application/xml-dtd";
}

}  // namespace

std::string guess_mimetype(std::string_view filename) {
  std::string_view base = filename.substr(filename.rfind('/') + 1);
  std::size_t dot = base.rfind('.');
  if (dot == std::string_view::npos || dot + 1 == base.size()) return "application/octet-stream";
  std::string ext(base.substr(dot + 1));
  for (char& c : ext) c = char(std::tolower(static_cast<unsigned char>(c)));
  auto it = types().find(ext);
  if (it == types().end()) return "application/octet-stream";
  return wants_charset(it->second) ? it->second + "; charset=utf-8" : it->second;
}

}  // namespace grove::web
