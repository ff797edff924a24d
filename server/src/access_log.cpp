// The access log, in the Combined Log Format.
#include "server_impl.hpp"

namespace grove::http {

namespace {

// Escapes a value for the access log the way nginx does: quotes, backslashes and
// non-printable bytes become \xHH.
void append_escaped(std::string& line, std::string_view s) {
  static const char* hex = "0123456789ABCDEF";
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f || c == '"' || c == '\\') {
      line += "\\x";
      line += hex[u >> 4];
      line += hex[u & 15];
    } else {
      line += c;
    }
  }
}

}  // namespace

void Server::Impl::access_log(Connection* c, const Request* req, int status, std::uint64_t bytes) {
  std::string line;
  line.reserve(256);
  line += c->peer;
  line += " - - [";
  line += detail::log_date();
  line += "] \"";
  if (req) {
    append_escaped(line, req->method());
    line += ' ';
    append_escaped(line, req->target());
    line += ' ';
    line += req->version_string();
  } else {
    line += '-';
  }
  line += "\" ";
  line += std::to_string(status);
  line += ' ';
  if (bytes) line += std::to_string(bytes);
  else line += '-';
  line += " \"";
  auto referer = req ? req->header("referer") : std::nullopt;
  if (referer) append_escaped(line, *referer);
  else line += '-';
  line += "\" \"";
  auto agent = req ? req->header("user-agent") : std::nullopt;
  if (agent) append_escaped(line, *agent);
  else line += '-';
  line += "\"\n";
  Log::access(line);
}

}  // namespace grove::http
