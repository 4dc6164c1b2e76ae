// A small streaming JSON writer: output is built by hand on the hot paths (alerts, works) because
// it is several times faster than building a DOM first.
#pragma once

#include <charconv>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>

namespace digonce {

/// Appends s as a JSON string literal (quotes included), escaping what RFC 8259 requires.
inline void append_json_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 0xf]);
        } else {
          out.push_back(ch);
        }
    }
  }
  out.push_back('"');
}

/// Appends the shortest decimal that reads back as d (null for NaN and infinities, which JSON
/// cannot hold). From 1e15 on, always with an exponent: the shortest form of a big whole double
/// can be a plain integer ("184467440737095516160"), which JSON readers take for an integer and
/// refuse beyond 64 bits, where "1.844674407370955e+20" reads back as the same double.
inline void append_json_number(std::string& out, double d) {
  if (!std::isfinite(d)) {
    out += "null";
    return;
  }
  char buf[32];
  auto r = std::fabs(d) >= 1e15
               ? std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific)
               : std::to_chars(buf, buf + sizeof buf, d);
  out.append(buf, r.ptr);
}

/// Appends d rounded to `decimals` places, without trailing zeros ("12.5", "3").
inline void append_json_fixed(std::string& out, double d, int decimals) {
  if (!std::isfinite(d)) {
    out += "null";
    return;
  }
  double scale = std::pow(10.0, decimals);
  double r = std::round(d * scale) / scale;
  if (r == 0) r = 0;  // no "-0"
  char buf[48];
  auto res = std::to_chars(buf, buf + sizeof buf, r, std::chars_format::fixed, decimals);
  std::string_view s(buf, static_cast<std::size_t>(res.ptr - buf));
  if (s.find('.') != std::string_view::npos) {
    while (s.back() == '0') s.remove_suffix(1);
    if (s.back() == '.') s.remove_suffix(1);
  }
  out += s;
}

inline void append_json_int(std::string& out, std::int64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

/// Writes one JSON object's members: {"a":1,"b":"x"}. Keys must not need escaping.
class JsonObject {
 public:
  explicit JsonObject(std::string& out) : out_(out) { out_.push_back('{'); }
  ~JsonObject() { out_.push_back('}'); }
  JsonObject(const JsonObject&) = delete;
  JsonObject& operator=(const JsonObject&) = delete;

  std::string& key(std::string_view k) {
    if (!first_) out_.push_back(',');
    first_ = false;
    out_.push_back('"');
    out_ += k;
    out_ += "\":";
    return out_;
  }
  void str(std::string_view k, std::string_view v) { append_json_string(key(k), v); }
  void num(std::string_view k, double v) { append_json_number(key(k), v); }
  void fixed(std::string_view k, double v, int decimals) { append_json_fixed(key(k), v, decimals); }
  void integer(std::string_view k, std::int64_t v) { append_json_int(key(k), v); }
  void boolean(std::string_view k, bool v) { key(k) += v ? "true" : "false"; }
  void raw(std::string_view k, std::string_view json) { key(k) += json; }
  /// A string member only when v is not empty.
  void str_if(std::string_view k, std::string_view v) {
    if (!v.empty()) str(k, v);
  }

 private:
  std::string& out_;
  bool first_ = true;
};

}  // namespace digonce
