// libFuzzer target: GeoJSON Feature and FeatureCollection (parse_submission, Format::GeoJson).
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
  limits.max_features = 50;
  geo::Parsed p = geo::parse_submission(input, limits, geo::Format::GeoJson);
  fuzz::check_parsed(p, limits);
  fuzz::require(p.works.size() <= limits.max_features);
  return 0;
}
