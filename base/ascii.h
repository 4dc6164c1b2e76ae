// ASCII text helpers (HTTP schemes, header values, codes), without a locale: case-insensitive
// comparisons, where bytes outside A-Z compare as they are, and trimming of spaces and tabs.
#pragma once

#include <algorithm>
#include <string_view>

namespace digonce {

inline char ascii_lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

/// Whether a and b are the same text but for the case of ASCII letters.
inline bool ascii_iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char p, char q) {
           return ascii_lower(p) == ascii_lower(q);
         });
}

/// Whether text starts with prefix but for the case of ASCII letters.
inline bool ascii_istarts_with(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && ascii_iequals(text.substr(0, prefix.size()), prefix);
}

/// text without its leading and trailing spaces and tabs (HTTP's optional whitespace, OWS).
inline std::string_view ascii_trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

}  // namespace digonce
