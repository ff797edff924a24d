// Query results: rows with typed access by column name or index; NULL as std::optional.
//
//   pg::Result r = co_await conn.query("SELECT id, name, email FROM users WHERE id = $1", 7);
//   for (pg::Row row : r) {
//     int64_t id = row.get<int64_t>("id");
//     std::string name = row.get<std::string>("name");
//     std::optional<std::string> email = row.get<std::optional<std::string>>("email");
//   }
//
// Values arrive in PostgreSQL's text format and are converted on get<T>(): integers,
// floating point, bool, std::string (any column), std::string_view (valid while the Result
// lives). A value that does not convert, and a NULL read into a type that is not
// std::optional, throw pg::TypeError naming the column.
#pragma once

#include <grove/pg/errors.hpp>

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace grove::pg {

class Result;

namespace detail {
template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};

template <class T>
constexpr const char* type_name() {
  if constexpr (std::is_same_v<T, bool>) return "bool";
  else if constexpr (std::is_floating_point_v<T>) return "floating-point number";
  else if constexpr (std::is_integral_v<T>) return "integer in range";
  else return "string";
}

// Converts one text-format value; throws TypeError naming `column`.
template <class T>
T convert(std::string_view text, std::string_view column) {
  auto bad = [&]() -> TypeError {
    return TypeError("grove::pg: column \"" + std::string(column) + "\" holds \"" +
                     std::string(text.substr(0, 64)) + "\", which is not a " + type_name<T>());
  };
  if constexpr (std::is_same_v<T, std::string>) {
    return std::string(text);
  } else if constexpr (std::is_same_v<T, std::string_view>) {
    return text;
  } else if constexpr (std::is_same_v<T, bool>) {
    if (text == "t" || text == "true") return true;
    if (text == "f" || text == "false") return false;
    throw bad();
  } else if constexpr (std::is_arithmetic_v<T>) {
    T v{};
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size()) throw bad();
    return v;
  } else {
    static_assert(sizeof(T) == 0,
                  "grove::pg: get<T>() supports integers, floating point, bool, "
                  "std::string, std::string_view and std::optional of those");
  }
}
}  // namespace detail

// One row of a Result (a light view: valid while the Result lives).
class Row {
 public:
  Row(const Result& result, std::size_t index) noexcept : result_(&result), index_(index) {}

  // The value of `column` as T; T = std::optional<U> gives nullopt for NULL.
  template <class T>
  T get(std::string_view column) const {
    return get<T>(column_index(column));
  }
  template <class T>
  T get(std::size_t column) const;
  bool is_null(std::string_view column) const { return !cell(column_index(column)); }
  std::size_t size() const noexcept;

 private:
  std::size_t column_index(std::string_view name) const;
  const std::optional<std::string>& cell(std::size_t column) const;
  const Result* result_;
  std::size_t index_;
};

// The rows of one statement, with its column names and command tag ("INSERT 0 3").
class Result {
 public:
  std::size_t size() const noexcept {
    return columns_.empty() ? 0 : cells_.size() / columns_.size();
  }
  bool empty() const noexcept { return size() == 0; }
  Row operator[](std::size_t row) const;
  const std::vector<std::string>& columns() const noexcept { return columns_; }
  // Rows changed by INSERT/UPDATE/DELETE (or returned by SELECT): the command tag's count.
  std::int64_t affected_rows() const noexcept { return affected_; }
  const std::string& command_tag() const noexcept { return tag_; }

  class iterator {
   public:
    using value_type = Row;
    using difference_type = std::ptrdiff_t;
    iterator(const Result* r, std::size_t i) : r_(r), i_(i) {}
    Row operator*() const { return Row(*r_, i_); }
    iterator& operator++() {
      ++i_;
      return *this;
    }
    iterator operator++(int) {
      auto t = *this;
      ++i_;
      return t;
    }
    bool operator==(const iterator& o) const { return i_ == o.i_; }

   private:
    const Result* r_;
    std::size_t i_;
  };
  iterator begin() const { return iterator(this, 0); }
  iterator end() const { return iterator(this, size()); }

  // Filled by the connection while the result streams in.
  struct Builder;

 private:
  friend class Row;
  friend struct Builder;
  std::vector<std::string> columns_;
  std::vector<std::optional<std::string>> cells_;  // row-major
  std::string tag_;
  std::int64_t affected_ = 0;
};

template <class T>
T Row::get(std::size_t column) const {
  const std::optional<std::string>& v = cell(column);
  if constexpr (detail::is_optional<T>::value) {
    if (!v) return std::nullopt;
    return detail::convert<typename T::value_type>(*v, result_->columns_[column]);
  } else {
    if (!v)
      throw TypeError("grove::pg: column \"" + result_->columns_[column] +
                      "\" is NULL; read it as std::optional<T>");
    return detail::convert<T>(*v, result_->columns_[column]);
  }
}

}  // namespace grove::pg
