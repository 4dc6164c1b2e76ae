#include "geo/json_scan.h"

#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <system_error>

namespace digonce::geo {
namespace {

constexpr std::string_view kMaxInt64Magnitude = "9223372036854775808";  // of INT64_MIN
constexpr std::string_view kMaxUint64 = "18446744073709551615";

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// Digit strings without leading zeros compare by length, then lexicographically.
bool digits_at_most(std::string_view digits, std::string_view limit) {
  return digits.size() < limit.size() || (digits.size() == limit.size() && digits <= limit);
}

class Scanner {
 public:
  Scanner(std::string_view text, std::size_t max_depth, std::size_t max_bad_numbers)
      : s_(text), max_depth_(max_depth), max_bad_numbers_(max_bad_numbers) {}

  JsonScan run() {
    skip_ws();
    if (at_ == s_.size()) {
      fail("no JSON value");
    } else if (value(0)) {
      skip_ws();
      if (at_ != s_.size()) fail("unexpected text after the JSON value");
    }
    return std::move(out_);
  }

 private:
  bool fail(std::string message) {
    out_.syntax = JsonSyntaxError{at_, path_, std::move(message)};
    return false;
  }
  char peek() const { return at_ < s_.size() ? s_[at_] : '\0'; }
  bool done() const { return at_ >= s_.size(); }
  void skip_ws() {
    while (at_ < s_.size() &&
           (s_[at_] == ' ' || s_[at_] == '\t' || s_[at_] == '\n' || s_[at_] == '\r'))
      ++at_;
  }

  bool value(std::size_t depth) {
    if (done()) return fail("unexpected end of input: expected a value");
    char c = peek();
    switch (c) {
      case '{':
        return object(depth + 1);
      case '[':
        return array(depth + 1);
      case '"':
        return string(nullptr);
      case 't':
        return literal("true");
      case 'f':
        return literal("false");
      case 'n':
        return literal("null");
      default:
        if (c == '-' || is_digit(c)) return number();
        return fail(std::string("unexpected character '") + printable(c) + "': expected a value");
    }
  }

  static std::string printable(char c) {
    auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f) return std::string(1, c);
    static constexpr char kHex[] = "0123456789abcdef";
    return std::string("\\x") + kHex[u >> 4] + kHex[u & 0xf];
  }

  bool object(std::size_t depth) {
    if (depth > max_depth_) return fail("nesting deeper than " + std::to_string(max_depth_));
    ++at_;  // '{'
    skip_ws();
    if (peek() == '}') {
      ++at_;
      return true;
    }
    const std::size_t base = path_.size();
    for (;;) {
      skip_ws();
      if (peek() != '"')
        return fail(done() ? "unexpected end of input: expected a member name"
                           : "expected a member name in double quotes");
      std::string key;
      if (!string(&key)) return false;
      skip_ws();
      if (peek() != ':') return fail("expected ':' after the member name");
      ++at_;
      skip_ws();
      path_.resize(base);
      if (base != 0) path_ += '.';
      path_ += key;
      if (!value(depth)) return false;
      path_.resize(base);
      const std::optional<bool> more = after_element('}');
      if (!more) return false;  // a syntax error, recorded
      if (!*more) return true;  // the object ends
    }
  }

  bool array(std::size_t depth) {
    if (depth > max_depth_) return fail("nesting deeper than " + std::to_string(max_depth_));
    ++at_;  // '['
    skip_ws();
    if (peek() == ']') {
      ++at_;
      return true;
    }
    const std::size_t base = path_.size();
    for (std::size_t index = 0;; ++index) {
      skip_ws();
      path_.resize(base);
      path_ += '[';
      path_ += std::to_string(index);
      path_ += ']';
      if (!value(depth)) return false;
      path_.resize(base);
      const std::optional<bool> more = after_element(']');
      if (!more) return false;  // a syntax error, recorded
      if (!*more) return true;  // the array ends
    }
  }

  // After a member or an element: true at ',' (another follows), false at `close` (the object
  // or array ends), nothing (a failure, recorded) otherwise.
  std::optional<bool> after_element(char close) {
    skip_ws();
    const char c = peek();
    if (c == ',' || c == close) {
      ++at_;
      return c == ',';
    }
    const std::string expected = std::string("expected ',' or '") + close + "'";
    fail(done() ? "unexpected end of input: " + expected : expected);
    return std::nullopt;
  }

  // A string literal; the raw text between the quotes goes to *key when asked (escapes kept:
  // it is only used to name paths).
  bool string(std::string* key) {
    ++at_;  // '"'
    const std::size_t begin = at_;
    while (!done()) {
      auto c = static_cast<unsigned char>(s_[at_]);
      if (c == '"') {
        if (key) key->assign(s_.substr(begin, at_ - begin));
        ++at_;
        return true;
      }
      if (c == '\\') {
        ++at_;
        if (!escape()) return false;
      } else if (c < 0x20) {
        return fail("unescaped control character in a string");
      } else if (c < 0x80) {
        ++at_;
      } else if (!utf8()) {
        return false;
      }
    }
    return fail("unexpected end of input: unterminated string");
  }

  bool escape() {
    if (done()) return fail("unexpected end of input: unterminated string");
    char c = s_[at_];
    switch (c) {
      case '"':
      case '\\':
      case '/':
      case 'b':
      case 'f':
      case 'n':
      case 'r':
      case 't':
        ++at_;
        return true;
      case 'u': {
        ++at_;
        unsigned unit = 0;
        if (!hex4(unit)) return false;
        if (unit >= 0xDC00 && unit <= 0xDFFF) return fail("lone low surrogate in a \\u escape");
        if (unit >= 0xD800 && unit <= 0xDBFF) {  // UTF-16: a high surrogate needs a low one next
          unsigned low = 0;
          if (peek() != '\\' || at_ + 1 >= s_.size() || s_[at_ + 1] != 'u')
            return fail("lone high surrogate in a \\u escape");
          at_ += 2;
          if (!hex4(low)) return false;
          if (low < 0xDC00 || low > 0xDFFF) return fail("lone high surrogate in a \\u escape");
        }
        return true;
      }
      default:
        return fail(std::string("invalid escape '\\") + printable(c) + "' in a string");
    }
  }

  bool hex4(unsigned& unit) {
    unit = 0;
    for (int i = 0; i < 4; ++i, ++at_) {
      char h = peek();
      unsigned v = 0;
      if (is_digit(h)) {
        v = static_cast<unsigned>(h - '0');
      } else if (h >= 'a' && h <= 'f') {
        v = static_cast<unsigned>(h - 'a' + 10);
      } else if (h >= 'A' && h <= 'F') {
        v = static_cast<unsigned>(h - 'A' + 10);
      } else {
        return fail("expected 4 hex digits after \\u");
      }
      unit = unit * 16 + v;
    }
    return true;
  }

  // One UTF-8 encoded code point of 2-4 bytes (RFC 3629: no overlongs, no surrogates,
  // nothing above U+10FFFF).
  bool utf8() {
    auto byte = [&](std::size_t i) -> unsigned {
      return at_ + i < s_.size() ? static_cast<unsigned char>(s_[at_ + i]) : 0u;
    };
    auto cont = [&](std::size_t i) { return (byte(i) & 0xC0u) == 0x80u; };
    unsigned b0 = byte(0);
    std::size_t n = 0;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
      n = cont(1) ? 2 : 0;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
      unsigned b1 = byte(1);
      bool ok = cont(1) && cont(2) && !(b0 == 0xE0 && b1 < 0xA0) && !(b0 == 0xED && b1 >= 0xA0);
      n = ok ? 3 : 0;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
      unsigned b1 = byte(1);
      bool ok = cont(1) && cont(2) && cont(3) && !(b0 == 0xF0 && b1 < 0x90) &&
                !(b0 == 0xF4 && b1 >= 0x90);
      n = ok ? 4 : 0;
    }
    if (n == 0) return fail("invalid UTF-8 in a string");
    at_ += n;
    return true;
  }

  bool literal(std::string_view word) {
    if (s_.substr(at_, word.size()) != word)
      return fail("unexpected character '" + printable(peek()) + "': expected a value");
    at_ += word.size();
    return true;
  }

  // RFC 8259 number grammar; then the range simdjson can hold.
  bool number() {
    const std::size_t begin = at_;
    bool negative = peek() == '-';
    if (negative) ++at_;
    const std::size_t int_begin = at_;
    if (peek() == '0') {
      ++at_;
      if (is_digit(peek())) return fail("malformed number: leading zero");
    } else if (is_digit(peek())) {
      while (is_digit(peek())) ++at_;
    } else {
      return fail("malformed number: expected a digit");
    }
    std::string_view int_digits = s_.substr(int_begin, at_ - int_begin);
    bool is_integer = true;
    std::int64_t leading_frac_zeros = 0;
    if (peek() == '.') {
      is_integer = false;
      ++at_;
      if (!is_digit(peek())) return fail("malformed number: expected a digit after '.'");
      bool seen_nonzero = false;
      while (is_digit(peek())) {
        if (s_[at_] != '0') seen_nonzero = true;
        if (!seen_nonzero) ++leading_frac_zeros;
        ++at_;
      }
    }
    std::int64_t exponent = 0;
    if (peek() == 'e' || peek() == 'E') {
      is_integer = false;
      ++at_;
      bool exp_negative = false;
      if (peek() == '+' || peek() == '-') exp_negative = s_[at_++] == '-';
      if (!is_digit(peek())) return fail("malformed number: expected a digit in the exponent");
      while (is_digit(peek())) {
        if (exponent < 1'000'000'000) exponent = exponent * 10 + (s_[at_] - '0');
        ++at_;
      }
      if (exp_negative) exponent = -exponent;
    }
    const std::size_t end = at_;
    bool in_range = true;
    if (is_integer) {
      in_range = digits_at_most(int_digits, negative ? kMaxInt64Magnitude : kMaxUint64);
    } else {
      double d = 0;
      auto r = std::from_chars(s_.data() + begin, s_.data() + end, d);
      if (r.ec == std::errc::result_out_of_range) {
        // Out of range either way: too big (simdjson rejects it) or too small (simdjson reads 0).
        std::int64_t magnitude =
            int_digits == "0" ? -leading_frac_zeros : static_cast<std::int64_t>(int_digits.size());
        in_range = magnitude + exponent <= 0;
      }
    }
    if (!in_range) {
      if (out_.bad_numbers.size() < max_bad_numbers_) {
        out_.bad_numbers.push_back(JsonBadNumber{begin, end - begin, path_});
      } else {
        out_.more_bad_numbers = true;
      }
    }
    return true;
  }

  std::string_view s_;
  std::size_t max_depth_;
  std::size_t max_bad_numbers_;
  std::size_t at_ = 0;
  std::string path_;
  JsonScan out_;
};

}  // namespace

JsonScan scan_json(std::string_view text, std::size_t max_depth, std::size_t max_bad_numbers) {
  return Scanner(text, max_depth, max_bad_numbers).run();
}

}  // namespace digonce::geo
