// Helpers for the WebSocket tests: what a client sends, made independently of grove's own
// Deflater (zlib called directly).
#pragma once

#include <zlib.h>
#include <catch2/catch.hpp>

#include <string>
#include <string_view>

namespace grove::http::test {

// Raw DEFLATE of `data` with a sync flush and its 00 00 FF FF tail removed: a
// permessage-deflate payload as a client compresses it.
inline std::string raw_deflate(std::string_view data) {
  z_stream z{};
  REQUIRE(deflateInit2(&z, 9, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY) == Z_OK);
  std::string out(deflateBound(&z, data.size()) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  REQUIRE(deflate(&z, Z_SYNC_FLUSH) == Z_OK);
  out.resize(out.size() - z.avail_out);
  deflateEnd(&z);
  REQUIRE(out.size() >= 4);
  out.resize(out.size() - 4);
  return out;
}

}  // namespace grove::http::test
