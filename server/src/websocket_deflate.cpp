// permessage-deflate over zlib (grove/http/detail/websocket_deflate.hpp).
#include <grove/http/detail/websocket_deflate.hpp>

#include <zlib.h>

#include <algorithm>
#include <new>
#include <stdexcept>

namespace grove::http::ws::detail {

namespace {

// The tail a sync flush ends with; RFC 7692 §7.2.1 removes it from the wire.
constexpr unsigned char kTail[4] = {0x00, 0x00, 0xFF, 0xFF};
// Output is grown by at most this much at a time, so the limit is checked often.
constexpr std::size_t kStep = 16 * 1024;

}  // namespace

// --- Inflater --------------------------------------------------------------------------------

struct Inflater::State {
  z_stream z{};
  ~State() { inflateEnd(&z); }
};

Inflater::Inflater(int window_bits, bool no_context_takeover)
    // zlib's raw inflate wants 9-15; a window larger than the sender's decodes just as well.
    : window_bits_(std::clamp(window_bits, 9, 15)), no_context_takeover_(no_context_takeover) {}
Inflater::~Inflater() = default;
Inflater::Inflater(Inflater&&) noexcept = default;
Inflater& Inflater::operator=(Inflater&&) noexcept = default;

Inflater::Result Inflater::inflate(std::string_view in, std::string& out, std::size_t limit) {
  if (!state_) {
    auto s = std::make_unique<State>();
    if (inflateInit2(&s->z, -window_bits_) != Z_OK) throw std::bad_alloc();
    state_ = std::move(s);
  }
  z_stream& z = state_->z;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  for (;;) {
    // Room for one byte past the limit: producing it is how a too-big message shows.
    std::size_t room = std::min(kStep, limit - std::min(limit, out.size()) + 1);
    std::size_t old = out.size();
    out.resize(old + room);
    z.next_out = reinterpret_cast<Bytef*>(out.data() + old);
    z.avail_out = static_cast<uInt>(room);
    int rc = ::inflate(&z, Z_SYNC_FLUSH);
    out.resize(old + (room - z.avail_out));
    if (out.size() > limit) return Result::too_big;
    if (rc == Z_STREAM_END) {
      // A final block ends zlib's stream, not the message; whatever follows starts anew.
      inflateReset(&z);
      if (z.avail_in == 0) return Result::ok;
      continue;
    }
    if (rc == Z_BUF_ERROR) return Result::ok;  // no progress possible: all input used
    if (rc != Z_OK) return Result::corrupt;
    if (z.avail_in == 0 && z.avail_out != 0) return Result::ok;
  }
}

Inflater::Result Inflater::finish(std::string& out, std::size_t limit) {
  std::string_view tail(reinterpret_cast<const char*>(kTail), sizeof kTail);
  Result r = inflate(tail, out, limit);
  if (r == Result::ok && no_context_takeover_) inflateReset(&state_->z);
  return r;
}

// --- Deflater --------------------------------------------------------------------------------

struct Deflater::State {
  z_stream z{};
  ~State() { deflateEnd(&z); }
};

Deflater::Deflater(int window_bits, bool no_context_takeover)
    : window_bits_(std::clamp(window_bits, 9, 15)), no_context_takeover_(no_context_takeover) {}
Deflater::~Deflater() = default;
Deflater::Deflater(Deflater&&) noexcept = default;
Deflater& Deflater::operator=(Deflater&&) noexcept = default;

void Deflater::compress(std::string_view message, std::string& out) {
  if (!state_) {
    auto s = std::make_unique<State>();
    if (deflateInit2(&s->z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -window_bits_, 8,
                     Z_DEFAULT_STRATEGY) != Z_OK)
      throw std::bad_alloc();
    state_ = std::move(s);
  }
  z_stream& z = state_->z;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(message.data()));
  z.avail_in = static_cast<uInt>(message.size());
  std::size_t start = out.size();
  do {
    std::size_t room = deflateBound(&z, z.avail_in) + 16;
    std::size_t old = out.size();
    out.resize(old + room);
    z.next_out = reinterpret_cast<Bytef*>(out.data() + old);
    z.avail_out = static_cast<uInt>(room);
    int rc = ::deflate(&z, Z_SYNC_FLUSH);
    out.resize(old + (room - z.avail_out));
    if (rc != Z_OK && rc != Z_BUF_ERROR) throw std::runtime_error("zlib deflate failed");
  } while (z.avail_in != 0 || z.avail_out == 0);
  // The sync flush ends with 00 00 FF FF, which the receiver puts back (§7.2.1).
  if (out.size() - start >= 4 &&
      out.compare(out.size() - 4, 4, reinterpret_cast<const char*>(kTail), 4) == 0)
    out.resize(out.size() - 4);
  if (out.size() == start) out.push_back('\0');  // an empty message: one empty block (§7.2.3.6)
  if (no_context_takeover_) deflateReset(&z);
}

}  // namespace grove::http::ws::detail
