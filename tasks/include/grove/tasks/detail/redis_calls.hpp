// Small helpers for the stream replies of XREAD, XREADGROUP and XAUTOCLAIM.
#pragma once

#include <grove/loop.hpp>
#include <grove/redis/reply.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace grove::tasks::detail {

inline std::int64_t ms(Duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

struct Entry {
  std::string id;
  // The entry's fields; empty for an entry deleted while pending.
  std::vector<std::pair<std::string, std::string>> fields;
  const std::string* field(std::string_view name) const {
    for (const auto& [k, v] : fields)
      if (k == name) return &v;
    return nullptr;
  }
};

// [[id, [field, value, ...]], ...]; a nil field list (deleted entry) gives empty fields.
inline std::vector<Entry> entries_of(const redis::Reply& list) {
  std::vector<Entry> out;
  if (list.is_nil()) return out;
  for (const redis::Reply& e : list.elements()) {
    if (e.is_nil()) continue;
    Entry entry{e.elements().at(0).as_string(), {}};
    const redis::Reply& f = e.elements().at(1);
    if (!f.is_nil()) entry.fields = f.as_pairs();
    out.push_back(std::move(entry));
  }
  return out;
}

// XREAD / XREADGROUP: (stream, entries) per stream, RESP2 (array of pairs) or RESP3 (map).
inline std::vector<std::pair<std::string, std::vector<Entry>>> streams_of(const redis::Reply& r) {
  std::vector<std::pair<std::string, std::vector<Entry>>> out;
  if (r.is_nil()) return out;
  const auto& e = r.elements();
  if (r.type() == redis::ReplyType::map) {
    for (std::size_t i = 0; i + 1 < e.size(); i += 2)
      out.emplace_back(e[i].as_string(), entries_of(e[i + 1]));
  } else {
    for (const redis::Reply& s : e)
      out.emplace_back(s.elements().at(0).as_string(), entries_of(s.elements().at(1)));
  }
  return out;
}

}  // namespace grove::tasks::detail
