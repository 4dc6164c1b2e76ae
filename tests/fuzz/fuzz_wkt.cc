// libFuzzer target: WKT (parse_ewkt). A geometry that parses must read back the same from the
// WKT that to_wkt writes for it.
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
  auto g = geo::parse_ewkt(input, limits);
  if (!g.ok()) {
    fuzz::require(!g.error().message.empty());
    return 0;
  }
  fuzz::check_shape(g->shape, limits);
  auto again = geo::parse_wkt(geo::to_wkt(g->shape, 17), limits);
  fuzz::require(again.ok() && *again == g->shape);
  return 0;
}
