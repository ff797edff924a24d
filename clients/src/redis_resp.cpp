// grove::redis::Parser and the command encoder: RESP2/RESP3 over a byte buffer, resumable
// between feeds (a stack of the aggregates still open; a scalar is consumed whole or not
// at all).
#include <grove/redis/resp.hpp>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <stdexcept>

namespace grove::redis {

namespace {

bool is_aggregate_type(char t) { return t == '*' || t == '%' || t == '~' || t == '>' || t == '|'; }

ReplyType aggregate_type(char t) {
  switch (t) {
    case '%': return ReplyType::map;
    case '~': return ReplyType::set;
    case '>': return ReplyType::push;
    default: return ReplyType::array;
  }
}

std::string printable(char c) {
  if (c >= 0x21 && c < 0x7f) return std::string("'") + c + "'";
  static const char hex[] = "0123456789abcdef";
  unsigned char u = static_cast<unsigned char>(c);
  return std::string("0x") + hex[u >> 4] + hex[u & 15];
}

bool valid_double(std::string_view s) {
  if (s == "inf" || s == "-inf" || s == "nan") return true;
  if (s.empty() || s.size() > 400) return false;
  if (s.find_first_not_of("0123456789+-.eE") != std::string_view::npos) return false;
  std::string copy(s);
  char* end = nullptr;
  std::strtod(copy.c_str(), &end);
  return end == copy.c_str() + copy.size();
}

bool valid_big_number(std::string_view s) {
  if (!s.empty() && s[0] == '-') s.remove_prefix(1);
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

Parser::Parser(Limits limits) : limits_(limits) {}

void Parser::feed(std::string_view bytes) {
  compact();
  buffer_.append(bytes);
}

void Parser::compact() {
  if (pos_ == 0) return;
  if (pos_ == buffer_.size()) {
    consumed_ += pos_;
    buffer_.clear();
    pos_ = 0;
  } else if (pos_ * 2 >
             buffer_.size()) {  // amortised: each byte is moved a bounded number of times
    consumed_ += pos_;
    buffer_.erase(0, pos_);
    pos_ = 0;
  }
}

void Parser::malformed(const std::string& what) {
  failed_ = true;
  throw ProtocolError("grove::redis: malformed reply at byte " + std::to_string(consumed_ + pos_) +
                      " of the stream: " + what +
                      " (is this a Redis server? the connection is discarded)");
}

void Parser::too_large(const std::string& what) {
  failed_ = true;
  throw ReplyTooLarge("grove::redis: reply refused: " + what +
                      " (raise redis::Limits in ConnectionOptions if it is expected; the "
                      "connection is discarded)");
}

void Parser::count(std::size_t bytes) {
  reply_bytes_ += bytes;
  if (reply_bytes_ > limits_.max_reply_bytes)
    too_large("the reply is larger than max_reply_bytes = " +
              std::to_string(limits_.max_reply_bytes));
}

// The line at pos_ (type byte included, CRLF excluded); sets line_end to after its LF.
std::optional<std::string_view> Parser::line() {
  std::string_view rest(buffer_.data() + pos_, buffer_.size() - pos_);
  std::size_t cr = rest.find_first_of("\r\n");
  // The same verdict however the bytes were split: the length first, then the line end.
  if (std::min(cr, rest.size()) > limits_.max_line_bytes + 1)
    malformed("no line end within max_line_bytes = " + std::to_string(limits_.max_line_bytes));
  if (cr == std::string_view::npos) return std::nullopt;
  if (rest[cr] == '\n') malformed("a line ends in LF without CR");
  if (cr + 1 >= rest.size()) return std::nullopt;
  if (rest[cr + 1] != '\n') malformed("CR not followed by LF");
  line_end_ = pos_ + cr + 2;
  return rest.substr(0, cr);
}

std::int64_t Parser::parse_length(std::string_view text, char type) {
  std::int64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || (n < 0 && n != -1))
    malformed("the length of a " + printable(type) + " is \"" + std::string(text.substr(0, 32)) +
              "\", not a count");
  return n;
}

Parser::Step Parser::parse_one(Reply& out) {
  std::optional<std::string_view> l = line();
  if (!l) return Step::incomplete;
  if (l->empty()) malformed("an empty line where a type byte was expected");
  const char type = (*l)[0];
  const std::string_view body = l->substr(1);
  const std::size_t after = line_end_;
  auto commit = [&](std::size_t to) {
    count(to - pos_);
    pos_ = to;
  };

  switch (type) {
    case '+':
    case '-':
      out = Reply::scalar(type == '+' ? ReplyType::simple_string : ReplyType::error,
                          std::string(body));
      commit(after);
      return Step::value;
    case ':': {
      std::int64_t v = 0;
      auto [end, ec] = std::from_chars(body.data(), body.data() + body.size(), v);
      if (body.empty() || ec != std::errc() || end != body.data() + body.size())
        malformed("the integer \"" + std::string(body.substr(0, 32)) +
                  "\" is not a 64-bit integer");
      out = Reply::of_integer(v);
      commit(after);
      return Step::value;
    }
    case '_':
      if (!body.empty()) malformed("a RESP3 null with a value");
      out = Reply();
      commit(after);
      return Step::value;
    case '#':
      if (body != "t" && body != "f") malformed("a boolean that is not t or f");
      out = Reply::of_boolean(body == "t");
      commit(after);
      return Step::value;
    case ',':
      if (!valid_double(body))
        malformed("the double \"" + std::string(body.substr(0, 32)) + "\" is not a number");
      out = Reply::scalar(ReplyType::double_value, std::string(body));
      commit(after);
      return Step::value;
    case '(':
      if (!valid_big_number(body))
        malformed("the big number \"" + std::string(body.substr(0, 32)) + "\" is not digits");
      out = Reply::scalar(ReplyType::big_number, std::string(body));
      commit(after);
      return Step::value;
    case '$':
    case '!':
    case '=': {
      std::int64_t n = parse_length(body, type);
      if (n == -1) {
        if (type != '$') malformed("a null " + printable(type) + " (only $-1 and *-1 are nulls)");
        out = Reply();
        commit(after);
        return Step::value;
      }
      std::size_t len = static_cast<std::size_t>(n);
      if (len > limits_.max_bulk_bytes)
        too_large(
            "a bulk string of " + std::to_string(len) +
            " bytes is larger than max_bulk_bytes = " + std::to_string(limits_.max_bulk_bytes));
      if (reply_bytes_ + (after - pos_) + len + 2 > limits_.max_reply_bytes)
        too_large("the reply is larger than max_reply_bytes = " +
                  std::to_string(limits_.max_reply_bytes));
      if (buffer_.size() - after < len + 2) {
        buffer_.reserve(after + len + 2);  // one allocation for a big value arriving in pieces
        return Step::incomplete;
      }
      if (buffer_[after + len] != '\r' || buffer_[after + len + 1] != '\n')
        malformed("a bulk string of " + std::to_string(len) + " bytes is not followed by CRLF");
      std::string_view data(buffer_.data() + after, len);
      if (type == '=') {
        if (len < 4 || data[3] != ':')
          malformed("a verbatim string without its 3-letter format and ':'");
        data.remove_prefix(4);
      }
      out =
          Reply::scalar(type == '!' ? ReplyType::error : ReplyType::bulk_string, std::string(data));
      commit(after + len + 2);
      return Step::value;
    }
    default: break;
  }
  if (!is_aggregate_type(type)) malformed("unknown type byte " + printable(type));

  std::int64_t n = parse_length(body, type);
  if (n == -1) {
    if (type != '*') malformed("a null " + printable(type) + " (only $-1 and *-1 are nulls)");
    out = Reply();
    commit(after);
    return Step::value;
  }
  std::size_t elements = static_cast<std::size_t>(n);
  if (elements > limits_.max_elements)
    too_large("an aggregate of " + std::to_string(elements) +
              " elements is larger than max_elements = " + std::to_string(limits_.max_elements));
  if (type == '%' || type == '|') elements *= 2;  // key, value
  if (stack_.size() >= limits_.max_depth)
    too_large("aggregates nested deeper than max_depth = " + std::to_string(limits_.max_depth));
  commit(after);
  if (elements == 0) {
    if (type == '|') return Step::pushed;  // an empty attribute: nothing to deliver
    out = Reply::aggregate(aggregate_type(type), {});
    return Step::value;
  }
  std::vector<Reply> items;
  items.reserve(std::min<std::size_t>(elements, 1024));  // the count is the server's word only
  stack_.push_back(
      Frame{Reply::aggregate(aggregate_type(type), std::move(items)), elements, type == '|'});
  return Step::pushed;
}

std::optional<Reply> Parser::next() {
  if (failed_)
    throw ProtocolError(
        "grove::redis: this parser already failed on malformed or oversized "
        "input; discard the connection");
  for (;;) {
    Reply value;
    Step step = parse_one(value);
    if (step == Step::incomplete) return std::nullopt;
    if (step == Step::pushed) continue;
    // A value is complete: attach it, closing every aggregate it completes.
    for (;;) {
      if (stack_.empty()) {
        reply_bytes_ = 0;
        return value;
      }
      Frame& top = stack_.back();
      top.reply.elements().push_back(std::move(value));
      if (--top.remaining > 0) break;
      Frame done = std::move(top);
      stack_.pop_back();
      if (done.attribute) break;  // attributes describe the next value; they are dropped
      value = std::move(done.reply);
    }
  }
}

namespace {
void append_bulk(std::string& out, std::string_view arg) {
  out += '$';
  out += std::to_string(arg.size());
  out += "\r\n";
  out.append(arg);
  out += "\r\n";
}
}  // namespace

void encode_command(std::string& out, const std::vector<std::string>& args) {
  if (args.empty()) throw std::invalid_argument("grove::redis: a command needs at least its name");
  out += '*';
  out += std::to_string(args.size());
  out += "\r\n";
  for (const std::string& a : args) append_bulk(out, a);
}

void encode_command(std::string& out, std::initializer_list<std::string_view> args) {
  if (args.size() == 0)
    throw std::invalid_argument("grove::redis: a command needs at least its name");
  out += '*';
  out += std::to_string(args.size());
  out += "\r\n";
  for (std::string_view a : args) append_bulk(out, a);
}

}  // namespace grove::redis
