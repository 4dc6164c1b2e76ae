// LEB128 varints and little-endian doubles for the compact binary encodings.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace digonce {

inline void put_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}
inline bool get_varint(std::string_view in, std::size_t& at, std::uint64_t& v) {
  v = 0;
  for (int shift = 0; shift < 64 && at < in.size(); shift += 7) {
    auto b = static_cast<unsigned char>(in[at++]);
    v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) return true;
  }
  return false;
}
/// Zig-zag for signed values.
inline void put_svarint(std::string& out, std::int64_t v) {
  put_varint(out, (static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63));
}
inline bool get_svarint(std::string_view in, std::size_t& at, std::int64_t& v) {
  std::uint64_t u = 0;
  if (!get_varint(in, at, u)) return false;
  v = static_cast<std::int64_t>((u >> 1) ^ (~(u & 1) + 1));
  return true;
}
inline void put_double(std::string& out, double d) {
  static_assert(std::endian::native == std::endian::little);
  char b[8];
  std::memcpy(b, &d, 8);
  out.append(b, 8);
}
inline bool get_double(std::string_view in, std::size_t& at, double& d) {
  if (in.size() - at < 8 || at > in.size()) return false;
  std::memcpy(&d, in.data() + at, 8);
  at += 8;
  return true;
}
inline void put_string(std::string& out, std::string_view s) {
  put_varint(out, s.size());
  out.append(s);
}
inline bool get_string(std::string_view in, std::size_t& at, std::string& s) {
  std::uint64_t n = 0;
  if (!get_varint(in, at, n) || n > in.size() - at) return false;
  s.assign(in.substr(at, n));
  at += n;
  return true;
}

}  // namespace digonce
