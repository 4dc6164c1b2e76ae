// Order-preserving key encodings: big-endian integers so that byte order is numeric order.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace digonce::store {

inline void put_u64_be(std::string& out, std::uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((v >> shift) & 0xff));
}
inline void put_u32_be(std::string& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((v >> shift) & 0xff));
}
/// Signed integers with the sign bit flipped, so that negative values sort first.
inline void put_i64_be(std::string& out, std::int64_t v) {
  put_u64_be(out, static_cast<std::uint64_t>(v) ^ (std::uint64_t{1} << 63));
}
inline std::uint64_t get_u64_be(std::string_view in, std::size_t at = 0) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(in[at + i]);
  return v;
}
inline std::uint32_t get_u32_be(std::string_view in, std::size_t at = 0) {
  std::uint32_t v = 0;
  for (std::size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(in[at + i]);
  return v;
}
inline std::int64_t get_i64_be(std::string_view in, std::size_t at = 0) {
  return static_cast<std::int64_t>(get_u64_be(in, at) ^ (std::uint64_t{1} << 63));
}

/// The smallest key greater than every key that starts with prefix ("" when there is none).
inline std::string prefix_end(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    auto& c = reinterpret_cast<unsigned char&>(end.back());
    if (c != 0xff) {
      ++c;
      return end;
    }
    end.pop_back();
  }
  return end;
}

}  // namespace digonce::store
