// Errors as values at every module boundary (see docs/ARCHITECTURE.md, "Errors").
//
// std::expected would do, but clang 14 (used for the libFuzzer build) cannot compile
// libstdc++ 12's <expected>, so this is the small subset the project needs.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace digonce {

/// What went wrong, and where: `field` names the input field at fault ("geometry.coordinates[3]",
/// "start") or is empty when the error is not about one field.
struct Error {
  std::string field;
  std::string message;
  /// Whether trying again cannot mend it (a setting the stored state refuses): a stream task
  /// stops at once instead of starting over with new clients.
  bool permanent = false;

  /// "field: message", or just the message.
  std::string what() const { return field.empty() ? message : field + ": " + message; }
  /// The same error, located under a parent field ("properties" + "start" -> "properties.start").
  Error within(const std::string& parent) const {
    if (parent.empty()) return *this;
    if (field.empty()) return Error{parent, message, permanent};
    return Error{field.front() == '[' ? parent + field : parent + "." + field, message, permanent};
  }
};

inline Error error(std::string message) {
  return Error{{}, std::move(message)};
}
inline Error field_error(std::string field, std::string message) {
  return Error{std::move(field), std::move(message)};
}

/// A value or an Error. [[nodiscard]]: a Result that is never looked at is a bug.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(Error e) : v_(std::in_place_index<1>, std::move(e)) {}      // NOLINT: implicit by design

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & {
    assert(ok());
    return std::get<0>(v_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(v_));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const& {
    assert(!ok());
    return std::get<1>(v_);
  }
  Error&& error() && {
    assert(!ok());
    return std::get<1>(std::move(v_));
  }

 private:
  std::variant<T, Error> v_;
};

/// Success or an Error.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error e) : error_(std::move(e)), failed_(true) {}  // NOLINT: implicit by design
  static Status Ok() { return {}; }

  bool ok() const { return !failed_; }
  explicit operator bool() const { return ok(); }
  const Error& error() const {
    assert(failed_);
    return error_;
  }
  /// For the rare error that is dropped on purpose; says so where it happens.
  void ignore_error() const {}

 private:
  Error error_;
  bool failed_ = false;
};

}  // namespace digonce

/// Return early with the error of a failed Status or Result.
#define DIGONCE_TRY(expr)                                              \
  do {                                                                 \
    auto&& digonce_try_result_ = (expr);                               \
    if (!digonce_try_result_.ok()) return digonce_try_result_.error(); \
  } while (0)
