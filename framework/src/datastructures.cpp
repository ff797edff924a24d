#include <grove/web/datastructures.hpp>
#include <grove/web/exceptions.hpp>

#include <algorithm>

namespace grove::web {

// --- MultiDict -------------------------------------------------------------------------

void MultiDict::set(std::string_view key, std::string value) {
  remove(key);
  items_.emplace_back(std::string(key), std::move(value));
}

void MultiDict::remove(std::string_view key) {
  std::erase_if(items_, [&](const Item& i) { return i.first == key; });
}

std::optional<std::string> MultiDict::get(std::string_view key) const {
  for (const auto& [k, v] : items_)
    if (k == key) return v;
  return std::nullopt;
}

std::string MultiDict::get(std::string_view key, std::string_view fallback) const {
  for (const auto& [k, v] : items_)
    if (k == key) return v;
  return std::string(fallback);
}

std::vector<std::string> MultiDict::get_all(std::string_view key) const {
  std::vector<std::string> out;
  for (const auto& [k, v] : items_)
    if (k == key) out.push_back(v);
  return out;
}

const std::string& MultiDict::operator[](std::string_view key) const {
  for (const auto& [k, v] : items_)
    if (k == key) return v;
  throw BadRequest(
      "The browser (or proxy) sent a request that this server could not understand: "
      "missing key '" +
      std::string(key) + "'.");
}

}  // namespace grove::web
