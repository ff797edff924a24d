// grove::http::Headers — an ordered, case-insensitive multimap of header fields: the one
// header type of grove, for the server's requests and responses and the framework's
// (grove::web::Headers is this type; werkzeug's Headers is the model).
//
//   http::Headers h{{"Content-Type", "text/plain"}};
//   h.add("Set-Cookie", "a=1");
//   h.add("set-cookie", "b=2");            // several values per name, order kept
//   h.get("content-type");                 // optional<string_view>: "text/plain"
//   std::string v = h.get("X-Missing", "none");   // an owned copy, with a fallback
//   for (auto [name, value] : h) { ... }  // every field, in order
//
// Names compare case-insensitively (ASCII), values are kept byte for byte, and the order
// of insertion is kept (it matters for Set-Cookie and for repeated fields a server joins
// with commas). All the bytes live in one buffer, so a request's headers cost one
// allocation however many fields it has; clear() keeps the capacity for the next request.
//
// Views returned by the accessors stay valid until the next non-const call.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace grove::http {

// ASCII case-insensitive equality, the comparison HTTP uses for field names and tokens.
bool iequals(std::string_view a, std::string_view b) noexcept;

class Headers {
 public:
  struct Field {
    std::string_view name;
    std::string_view value;
  };

  Headers() = default;
  Headers(std::initializer_list<std::pair<std::string_view, std::string_view>> fields);

  // Appends a field (keeps any existing one of the same name). The arguments may view
  // this object's own fields.
  void add(std::string_view name, std::string_view value);
  // Replaces every field named `name` with one field (appended if there was none).
  void set(std::string_view name, std::string_view value);
  // Adds the field only when no field has this name.
  void setdefault(std::string_view name, std::string_view value) {
    if (!contains(name)) add(name, value);
  }
  // Removes every field named `name`; returns how many there were.
  std::size_t erase(std::string_view name);
  std::size_t remove(std::string_view name) { return erase(name); }
  void clear() noexcept;
  // Room for `fields` fields of `bytes` bytes in all, so adding them does not reallocate.
  void reserve(std::size_t fields, std::size_t bytes = 0) {
    entries_.reserve(fields);
    if (bytes) buffer_.reserve(bytes);
  }

  // The first value of `name`, or nullopt.
  std::optional<std::string_view> get(std::string_view name) const;
  // The first value of `name` as an owned string, or `fallback` (werkzeug's get(key, default)).
  std::string get(std::string_view name, std::string_view fallback) const {
    auto v = get(name);
    return std::string(v ? *v : fallback);
  }
  std::string_view get_or(std::string_view name, std::string_view fallback) const;
  bool contains(std::string_view name) const { return find(name) != npos; }
  // Every value of `name`, in order.
  std::vector<std::string_view> get_all(std::string_view name) const;
  // Every value of `name` joined with ", " (the list form RFC 9110 §5.3 allows).
  std::string get_joined(std::string_view name) const;
  std::size_t count(std::string_view name) const;

  std::size_t size() const noexcept { return entries_.size(); }
  bool empty() const noexcept { return entries_.empty(); }
  Field operator[](std::size_t i) const { return field(entries_[i]); }

  class const_iterator {
   public:
    using iterator_category = std::random_access_iterator_tag;
    using value_type = Field;
    using difference_type = std::ptrdiff_t;
    using pointer = void;
    using reference = Field;
    const_iterator() = default;
    const_iterator(const Headers* h, std::size_t i) : h_(h), i_(i) {}
    Field operator*() const { return (*h_)[i_]; }
    const_iterator& operator++() {
      ++i_;
      return *this;
    }
    const_iterator operator++(int) {
      auto t = *this;
      ++i_;
      return t;
    }
    bool operator==(const const_iterator& o) const { return i_ == o.i_; }
    bool operator!=(const const_iterator& o) const { return i_ != o.i_; }

   private:
    const Headers* h_ = nullptr;
    std::size_t i_ = 0;
  };
  const_iterator begin() const { return {this, 0}; }
  const_iterator end() const { return {this, entries_.size()}; }

  // For the parser: adopts `raw` as the byte buffer and indexes fields by offset into it,
  // so parsing a request copies its head once. Fields added later are appended.
  void assign_raw(std::string_view raw);
  void add_raw(std::uint32_t name_off, std::uint32_t name_len, std::uint32_t value_off,
               std::uint32_t value_len);
  std::size_t bytes() const noexcept { return buffer_.size(); }

 private:
  struct Entry {
    std::uint32_t name_off, name_len, value_off, value_len;
  };
  static constexpr std::size_t npos = std::size_t(-1);
  Field field(const Entry& e) const {
    return {std::string_view(buffer_.data() + e.name_off, e.name_len),
            std::string_view(buffer_.data() + e.value_off, e.value_len)};
  }
  std::size_t find(std::string_view name) const;
  bool aliases(std::string_view s) const noexcept {
    std::less<const char*> lt;  // a total order, also across unrelated buffers
    return !s.empty() && !lt(s.data(), buffer_.data()) &&
           lt(s.data(), buffer_.data() + buffer_.capacity());
  }

  std::string buffer_;
  std::vector<Entry> entries_;
};

}  // namespace grove::http
