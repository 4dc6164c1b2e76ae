// libFuzzer target: Street Manager notifications, bare or in their SNS envelope
// (parse_submission, Format::StreetManager).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "geo/parse.h"
#include "invariants.h"

using namespace digonce;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  geo::ParseLimits limits;
  limits.max_vertices = 1000;
  geo::Parsed p = geo::parse_submission(input, limits, geo::Format::StreetManager);
  fuzz::check_parsed(p, limits);
  fuzz::require(p.works.size() + p.errors.size() == 1);
  for (const auto& w : p.works) fuzz::require(w.version.has_value());
  return 0;
}
