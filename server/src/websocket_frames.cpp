// WebSocket frames without I/O (grove/http/detail/websocket_frames.hpp): the writer, the
// Close payload, and the reader's state machine (RFC 6455 §5, RFC 7692 §6).
#include <grove/http/detail/websocket_frames.hpp>
#include <grove/http/websocket.hpp>

#include <algorithm>

namespace grove::http::ws::detail {

// --- writing -----------------------------------------------------------------------------------

void write_frame(std::string& out, Opcode op, std::string_view payload, bool fin, bool rsv1,
                 std::optional<std::uint32_t> mask) {
  std::uint8_t b0 = std::uint8_t(op) | (fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0);
  std::uint8_t mask_bit = mask ? 0x80 : 0;
  out.push_back(char(b0));
  std::uint64_t n = payload.size();
  if (n < 126) {
    out.push_back(char(mask_bit | n));
  } else if (n <= 0xFFFF) {
    out.push_back(char(mask_bit | 126));
    out.push_back(char(n >> 8));
    out.push_back(char(n));
  } else {
    out.push_back(char(mask_bit | 127));
    for (int shift = 56; shift >= 0; shift -= 8) out.push_back(char(n >> shift));
  }
  if (!mask) {
    out.append(payload);
    return;
  }
  char key[4] = {char(*mask >> 24), char(*mask >> 16), char(*mask >> 8), char(*mask)};
  out.append(key, 4);
  std::size_t start = out.size();
  out.append(payload);
  for (std::size_t i = 0; i < payload.size(); ++i) out[start + i] ^= key[i & 3];
}

std::string close_payload(std::uint16_t code, std::string_view reason) {
  if (code == close_code::no_status) return {};
  std::size_t n = std::min(reason.size(), kMaxControlPayload - 2);
  // Cut before a continuation byte's lead, so the reason stays valid UTF-8.
  if (n < reason.size())
    while (n > 0 && (static_cast<unsigned char>(reason[n]) & 0xC0) == 0x80) --n;
  std::string p;
  p.push_back(char(code >> 8));
  p.push_back(char(code));
  p.append(reason.substr(0, n));
  return p;
}

// --- reading -----------------------------------------------------------------------------------

WsReader::WsReader(const Config& cfg) : cfg_(cfg) {}

void WsReader::shrink() noexcept {
  if (in_message_) return;
  std::string().swap(message_);
  std::string().swap(scratch_);
}

WsReader::Event WsReader::fail(std::uint16_t code, const char* reason, std::size_t pos) {
  ended_ = true;
  end_reason_ = reason;
  end_ = Event{Kind::error, pos, end_reason_, code};
  return end_;
}

WsReader::HeaderStep WsReader::read_header(std::string_view in, std::size_t& pos) {
  auto byte = [&](std::size_t i) { return static_cast<std::uint8_t>(in[pos + i]); };
  std::size_t avail = in.size() - pos;
  if (avail < 2) return HeaderStep::need_more;
  // The first two bytes are checked before the rest arrives: a fault fails fast.
  std::uint8_t b0 = byte(0), b1 = byte(1);
  fin_ = b0 & 0x80;
  bool rsv1 = b0 & 0x40;
  op_ = Opcode(b0 & 0x0F);
  masked_ = b1 & 0x80;
  std::uint8_t len7 = b1 & 0x7F;
  const char* fault = nullptr;
  if (b0 & 0x30) fault = "reserved bits RSV2/RSV3 set";
  else if (op_ != Opcode::continuation && op_ != Opcode::text && op_ != Opcode::binary &&
           op_ != Opcode::close && op_ != Opcode::ping && op_ != Opcode::pong)
    fault = "reserved opcode";
  else if (masked_ != cfg_.expect_masked)
    fault = cfg_.expect_masked ? "client frame not masked" : "server frame masked";
  else if (is_control(op_) && !fin_) fault = "fragmented control frame";
  else if (is_control(op_) && len7 > kMaxControlPayload) fault = "control frame over 125 bytes";
  else if (rsv1 && (!cfg_.deflate || op_ == Opcode::continuation || is_control(op_)))
    fault = "RSV1 set outside the first frame of a compressed message";
  else if (op_ == Opcode::continuation && !in_message_)
    fault = "continuation frame with no message";
  else if ((op_ == Opcode::text || op_ == Opcode::binary) && in_message_)
    fault = "new data frame inside a fragmented message";
  if (fault) {
    fail(close_code::protocol_error, fault, pos);
    return HeaderStep::fault;
  }
  std::size_t ext = len7 == 126 ? 2 : len7 == 127 ? 8 : 0;
  std::size_t size = 2 + ext + (masked_ ? 4 : 0);
  if (avail < size) return HeaderStep::need_more;
  std::uint64_t len = len7;
  if (ext) {
    len = 0;
    for (std::size_t i = 0; i < ext; ++i) len = (len << 8) | byte(2 + i);
    if (ext == 8 && (len >> 63)) {
      fail(close_code::protocol_error, "64-bit payload length with the top bit set", pos);
      return HeaderStep::fault;
    }
  }
  if (len > cfg_.max_frame) {
    fail(close_code::too_big, "frame over the size limit", pos);
    return HeaderStep::fault;
  }
  bool starts = op_ == Opcode::text || op_ == Opcode::binary;
  bool compressed = starts ? rsv1 : compressed_;
  if (!is_control(op_) && !compressed &&
      len > cfg_.max_message - std::min(cfg_.max_message, starts ? 0 : message_.size())) {
    fail(close_code::too_big, "message over the size limit", pos);
    return HeaderStep::fault;
  }
  if (masked_)
    for (std::size_t i = 0; i < 4; ++i) mask_[i] = byte(2 + ext + i);
  pos += size;
  remaining_ = len;
  mask_pos_ = 0;
  in_payload_ = true;
  if (is_control(op_)) {
    control_.clear();
  } else if (starts) {
    in_message_ = true;
    text_ = op_ == Opcode::text;
    compressed_ = rsv1;
    message_.clear();
    utf8_.reset();
  }
  return HeaderStep::ready;
}

// Unmasks a payload piece and adds it to the control payload or the message (inflating
// and checking UTF-8 as it goes). False when the message broke a rule (the reader failed).
bool WsReader::take_payload(std::string_view chunk) {
  auto unmask_into = [&](std::string& dst) {
    std::size_t start = dst.size();
    dst.append(chunk);
    if (masked_)
      for (std::size_t i = start; i < dst.size(); ++i) dst[i] ^= char(mask_[mask_pos_++ & 3]);
  };
  if (is_control(op_)) {
    unmask_into(control_);
    return true;
  }
  std::size_t old = message_.size();
  if (compressed_) {
    scratch_.clear();
    unmask_into(scratch_);
    if (!inflater_) inflater_.emplace(cfg_.peer_window_bits, cfg_.peer_no_context_takeover);
    auto r = inflater_->inflate(scratch_, message_, cfg_.max_message);
    return inflated(r, old, 0).kind != Kind::error;
  }
  unmask_into(message_);
  if (text_ && !utf8_.feed(std::string_view(message_).substr(old))) {
    fail(close_code::invalid_data, "text message is not valid UTF-8", 0);
    return false;
  }
  return true;
}

// After inflating onto the message from `old` on: the output is checked as UTF-8 before
// the inflater's verdict, so the fault reported is the first one in the message whatever
// pieces the payload arrived in (zlib writes out what it decoded before a corrupt spot).
WsReader::Event WsReader::inflated(Inflater::Result r, std::size_t old, std::size_t pos) {
  if (text_ && !utf8_.feed(std::string_view(message_).substr(old)))
    return fail(close_code::invalid_data, "text message is not valid UTF-8", pos);
  if (r == Inflater::Result::too_big)
    return fail(close_code::too_big, "message over the size limit once decompressed", pos);
  if (r == Inflater::Result::corrupt)
    return fail(close_code::protocol_error, "invalid compressed data", pos);
  return Event{Kind::need_more, pos, {}, 0};
}

WsReader::Event WsReader::next(std::string_view in) {
  if (ended_) return Event{end_.kind, 0, end_.data, end_.code};
  std::size_t pos = 0;
  for (;;) {
    if (!in_payload_) {
      switch (read_header(in, pos)) {
        case HeaderStep::need_more: return Event{Kind::need_more, pos, {}, 0};
        case HeaderStep::fault: return end_;
        case HeaderStep::ready: break;
      }
    }
    std::size_t take = std::size_t(std::min<std::uint64_t>(remaining_, in.size() - pos));
    if (take && !take_payload(in.substr(pos, take))) {
      end_.consumed = pos + take;
      return end_;
    }
    pos += take;
    remaining_ -= take;
    if (remaining_ > 0) return Event{Kind::need_more, pos, {}, 0};
    in_payload_ = false;
    if (is_control(op_) || fin_) return frame_done(pos);
  }
}

WsReader::Event WsReader::frame_done(std::size_t pos) {
  switch (op_) {
    case Opcode::ping: return Event{Kind::ping, pos, control_, 0};
    case Opcode::pong: return Event{Kind::pong, pos, control_, 0};
    case Opcode::close: return close_event(pos);
    default: return finish_message(pos);
  }
}

WsReader::Event WsReader::finish_message(std::size_t pos) {
  in_message_ = false;
  if (compressed_) {
    std::size_t old = message_.size();
    if (!inflater_) inflater_.emplace(cfg_.peer_window_bits, cfg_.peer_no_context_takeover);
    auto r = inflater_->finish(message_, cfg_.max_message);
    if (auto ev = inflated(r, old, pos); ev.kind == Kind::error) return ev;
  }
  if (text_ && !utf8_.complete())
    return fail(close_code::invalid_data, "text message is not valid UTF-8", pos);
  return Event{text_ ? Kind::text : Kind::binary, pos, message_, 0};
}

WsReader::Event WsReader::close_event(std::size_t pos) {
  if (control_.size() == 1)
    return fail(close_code::protocol_error, "close payload of one byte", pos);
  std::uint16_t code = close_code::no_status;
  std::string_view reason;
  if (control_.size() >= 2) {
    code = std::uint16_t((static_cast<std::uint8_t>(control_[0]) << 8) |
                         static_cast<std::uint8_t>(control_[1]));
    if (!valid_close_code(code)) return fail(close_code::protocol_error, "invalid close code", pos);
    reason = std::string_view(control_).substr(2);
    if (!http::detail::valid_utf8(reason))
      return fail(close_code::invalid_data, "close reason is not valid UTF-8", pos);
  }
  ended_ = true;
  end_reason_.assign(reason);
  end_ = Event{Kind::close, pos, end_reason_, code};
  return end_;
}

}  // namespace grove::http::ws::detail
