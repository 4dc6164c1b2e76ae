// libFuzzer target: contract work JSON (parse_submission, Format::WorkJson). A work that parses
// must come back the same through work_to_json, the form it is stored and forwarded in.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "geo/parse.h"
#include "invariants.h"

using namespace digonce;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  geo::ParseLimits limits;
  limits.max_vertices = 1000;  // small limits, so the fuzzer reaches them
  limits.max_string = 256;
  geo::Parsed p = geo::parse_submission(input, limits, geo::Format::WorkJson);
  fuzz::check_parsed(p, limits);
  fuzz::require(p.works.size() + p.errors.size() == 1);
  for (const auto& w : p.works) {
    geo::Parsed again = geo::parse_submission(geo::work_to_json(w), limits, geo::Format::WorkJson);
    fuzz::require(again.errors.empty() && again.works.size() == 1);
    const auto& v = again.works[0];
    fuzz::require(v.work_ref == w.work_ref && v.promoter == w.promoter && v.event == w.event &&
                  v.version == w.version);
    if (w.event == geo::EventType::Cancel) continue;
    fuzz::require(v.geometry == w.geometry && v.crs == w.crs && v.start == w.start &&
                  v.end == w.end && v.kind == w.kind && v.category == w.category &&
                  v.status == w.status && v.usrn == w.usrn && v.description == w.description);
  }
  return 0;
}
