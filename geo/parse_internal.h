// How the parsers of parse.h share their work (not for use outside geo/parse_*.cc):
//   parse_submission.cc        size limits, format detection, dispatch
//   parse_json.cc              contract work JSON, GeoJSON Feature and FeatureCollection
//   parse_geojson_geometry.cc  GeoJSON geometry objects
//   parse_streetmanager.cc     Street Manager notifications and their SNS envelope
//   parse_wkt.cc               WKT
//   parse_crs.cc               CRS names, structural rules shared by the geometry parsers
#pragma once

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include "geo/json_reader.h"
#include "geo/parse.h"

/// Declares `var` as the value of a Result-returning expression, or returns its Error.
// `var` names a declaration, so it cannot be parenthesised.
// NOLINTBEGIN(bugprone-macro-parentheses)
#define DIGONCE_PARSE_ASSIGN(var, expr)                             \
  auto var##_result_ = (expr);                                      \
  if (!var##_result_.ok()) return std::move(var##_result_).error(); \
  auto var = std::move(var##_result_).value()
// NOLINTEND(bugprone-macro-parentheses)

namespace digonce::geo::detail {

// --- The members whose numbers a parser reads -----------------------------------------------
// A number too large for simdjson (JsonReader::parse reads it as 0) is an error only in these;
// anywhere else (an unknown field, a bbox, the SNS envelope) it is kept and ignored.

/// Contract JSON: the version, the USRN, the geometry's coordinates, a legacy crs object.
inline const std::initializer_list<std::string_view> kWorkNumbers = {"version", "usrn", "geometry",
                                                                     "crs"};
/// A GeoJSON Feature (its properties are the contract's fields).
inline const std::initializer_list<std::string_view> kFeatureNumbers = {
    "geometry", "crs", "properties.version", "properties.usrn", "properties.crs"};
/// A Street Manager notification: its event_reference (the version), the USRN and the SWA codes
/// (which may be written as numbers).
inline const std::initializer_list<std::string_view> kNotificationNumbers = {
    "event_reference", "object_data.usrn", "object_data.promoter_swa_code",
    "object_data.highway_authority_swa_code"};

// --- Identity rules shared by the JSON and Street Manager parsers --------------------------

/// The message when a work reference breaks the contract (1-64 of A-Z a-z 0-9 _ . / -).
std::optional<std::string> check_work_ref(std::string_view ref);
/// The message when a promoter code is not 1-64 printable characters.
std::optional<std::string> check_promoter(std::string_view promoter);

// --- Geometry rules shared by the GeoJSON and WKT parsers -------------------------------------

/// The message when a LineString (or a MultiLineString part) has too few positions.
std::optional<std::string> check_line(std::size_t positions);
/// The message when a polygon ring is too short or not closed; xy holds its 2 * n ordinates.
std::optional<std::string> check_ring(const double* xy, std::size_t positions);
/// The message when a geometry has more vertices than the limit.
std::optional<std::string> check_vertex_count(std::size_t vertices, const ParseLimits& limits);

// --- JSON -------------------------------------------------------------------------------------

/// A GeoJSON geometry object; errors are relative to it ("type", "coordinates[0][3]").
Result<Shape> parse_geojson_geometry(const json::element& geometry, const ParseLimits& limits);

/// A CRS member: a name ("EPSG:27700") or a GeoJSON 2008 named CRS object
/// ({"type":"name","properties":{"name":"urn:ogc:def:crs:EPSG::27700"}}); errors relative to it.
Result<std::string> parse_crs_member(const json::element& crs);

/// Where the fields of one work are. Contract JSON has them all in one object; a GeoJSON Feature
/// has the contract fields in `properties` and the geometry beside them.
struct WorkSource {
  json::object fields;
  std::string fields_at;                  // path of `fields` in the item: "" or "properties"
  std::optional<json::element> geometry;  // absent or null: none
  std::string geometry_at;                // path of the geometry: "geometry"
  std::optional<std::string> crs;         // inherited (a legacy GeoJSON crs member), normalised
};

/// The contract fields of one work (contract section 1); errors located in the item.
Result<WorkEvent> parse_work(const WorkSource& source, const ParseLimits& limits);

/// A contract work object.
Result<WorkEvent> parse_work_object(const json::object& o, const ParseLimits& limits);

/// A GeoJSON Feature or FeatureCollection (the root object); bad numbers are checked per feature.
void parse_geojson(const json::object& root, const json::JsonReader& reader,
                   const ParseLimits& limits, Parsed& out);

/// A Street Manager notification, bare or in its SNS envelope. The reader is reused to parse the
/// envelope's Message, so `root` is dead once this returns.
void parse_streetmanager(const json::object& root, json::JsonReader& reader,
                         const ParseLimits& limits, Parsed& out);

/// Street Manager's notification (the object that SNS carries in Message); errors relative to it.
Result<WorkEvent> parse_notification(const json::object& message, const ParseLimits& limits);

}  // namespace digonce::geo::detail
