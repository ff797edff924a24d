#include <grove/http/headers.hpp>

#include <stdexcept>

namespace grove::http {

namespace {
inline unsigned char lower(unsigned char c) { return (c >= 'A' && c <= 'Z') ? c | 0x20 : c; }
}  // namespace

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(static_cast<unsigned char>(a[i])) != lower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

Headers::Headers(std::initializer_list<std::pair<std::string_view, std::string_view>> fields) {
  for (const auto& [name, value] : fields) add(name, value);
}

void Headers::add(std::string_view name, std::string_view value) {
  if (buffer_.size() + name.size() + value.size() > 0xffffffffu)
    throw std::length_error("grove::http::Headers: more than 4 GiB of header bytes");
  if (aliases(name) || aliases(value)) {  // appending may move the bytes they view
    std::string copy = std::string(name) + std::string(value);
    add(std::string_view(copy).substr(0, name.size()), std::string_view(copy).substr(name.size()));
    return;
  }
  Entry e;
  e.name_off = std::uint32_t(buffer_.size());
  e.name_len = std::uint32_t(name.size());
  buffer_.append(name);
  e.value_off = std::uint32_t(buffer_.size());
  e.value_len = std::uint32_t(value.size());
  buffer_.append(value);
  entries_.push_back(e);
}

void Headers::set(std::string_view name, std::string_view value) {
  std::size_t at = find(name);
  if (at == npos || aliases(name) || aliases(value)) {
    if (at != npos) {
      std::string copy = std::string(name) + std::string(value);
      set(std::string_view(copy).substr(0, name.size()),
          std::string_view(copy).substr(name.size()));
      return;
    }
    add(name, value);
    return;
  }
  // Keep the first field's position; drop the others.
  Entry e;
  e.name_off = std::uint32_t(buffer_.size());
  e.name_len = std::uint32_t(name.size());
  buffer_.append(name);
  e.value_off = std::uint32_t(buffer_.size());
  e.value_len = std::uint32_t(value.size());
  buffer_.append(value);
  entries_[at] = e;
  for (std::size_t i = entries_.size(); i-- > at + 1;)
    if (iequals(field(entries_[i]).name, name))
      entries_.erase(entries_.begin() + std::ptrdiff_t(i));
}

std::size_t Headers::erase(std::string_view name) {
  std::size_t before = entries_.size();
  std::erase_if(entries_, [&](const Entry& e) { return iequals(field(e).name, name); });
  return before - entries_.size();
}

void Headers::clear() noexcept {
  buffer_.clear();
  entries_.clear();
}

std::size_t Headers::find(std::string_view name) const {
  for (std::size_t i = 0; i < entries_.size(); ++i)
    if (entries_[i].name_len == name.size() && iequals(field(entries_[i]).name, name)) return i;
  return npos;
}

std::optional<std::string_view> Headers::get(std::string_view name) const {
  std::size_t i = find(name);
  if (i == npos) return std::nullopt;
  return field(entries_[i]).value;
}

std::string_view Headers::get_or(std::string_view name, std::string_view fallback) const {
  auto v = get(name);
  return v ? *v : fallback;
}

std::vector<std::string_view> Headers::get_all(std::string_view name) const {
  std::vector<std::string_view> out;
  for (const auto& e : entries_) {
    Field f = field(e);
    if (iequals(f.name, name)) out.push_back(f.value);
  }
  return out;
}

std::string Headers::get_joined(std::string_view name) const {
  std::string out;
  for (const auto& e : entries_) {
    Field f = field(e);
    if (!iequals(f.name, name)) continue;
    if (!out.empty()) out += ", ";
    out += f.value;
  }
  return out;
}

std::size_t Headers::count(std::string_view name) const {
  std::size_t n = 0;
  for (const auto& e : entries_)
    if (iequals(field(e).name, name)) ++n;
  return n;
}

void Headers::assign_raw(std::string_view raw) {
  buffer_.assign(raw);
  entries_.clear();
}

void Headers::add_raw(std::uint32_t name_off, std::uint32_t name_len, std::uint32_t value_off,
                      std::uint32_t value_len) {
  entries_.push_back({name_off, name_len, value_off, value_len});
}

}  // namespace grove::http
