// The engine's input parsers: contract work JSON (contract section 1), GeoJSON Feature and
// FeatureCollection, Street Manager notifications (bare or in their SNS envelope), and WKT.
//
// Parsing checks syntax and everything that needs no CRS: the geometry stays in the CRS it came in
// (only the CRS's name is normalised); reprojection, the CRS area-of-use check and geometry
// validity are left to normalisation. Nothing throws: every problem is an Error whose `field` is
// the path of the culprit inside the submission ("features[2].properties.start",
// "Message.object_data.works_location_coordinates").
//
// parse_submission keeps one simdjson parser per thread (simdjson wants its buffers reused), so
// it can be called from any number of threads at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "geo/shape.h"
#include "geo/work.h"

namespace digonce::geo {

struct ParseLimits {
  std::size_t max_bytes = 8u << 20;    // one submission (request body, Kafka message, NDJSON line)
  std::size_t max_vertices = 100'000;  // per geometry; configurable (detection.max_vertices)
  std::size_t max_features = 10'000;   // per FeatureCollection
  std::size_t max_string = 4'096;      // any string field
};

/// What one submission held: the works it carried and one error per rejected item.
struct Parsed {
  std::vector<WorkEvent> works;
  /// Error::field locates the item and field: "features[2].properties.start"
  std::vector<Error> errors;
  /// A GeoJSON submission's works, by where their members are: a Feature's in "properties", a
  /// FeatureCollection's in "features[i].properties" (features[i] of works[j] is
  /// feature_index[j]: a bad feature gives no work).
  enum class Layout { Work, Feature, Collection, StreetManager } layout = Layout::Work;
  std::vector<std::size_t> feature_index;
  /// Where each work's CRS was given, for a GeoJSON submission's works (field() says it as a
  /// path): its properties' crs, its feature's legacy crs member, the collection's, or none
  /// (EPSG:4326).
  enum class CrsGiven : std::uint8_t { None, Properties, Feature, Collection };
  std::vector<CrsGiven> crs_given;
  /// A Street Manager notification's: "Message." in an SNS envelope, and its object_type
  /// (PERMIT, ACTIVITY, SECTION_58), whose members carry the work.
  std::string notification_prefix;
  std::string object_type;

  /// Where the contract's member `name` (work_ref, promoter, kind, geometry or version) of
  /// works[i] is in the submission, for an Error::field: "promoter", "properties.promoter",
  /// "features[2].properties.promoter", "features[2].geometry",
  /// "Message.object_data.works_location_coordinates"; and where its CRS was given ("crs":
  /// "features[2].properties.crs", the collection's legacy "crs", a notification's WKT, whose
  /// SRID says it). Any other name comes back as it is.
  std::string field(std::size_t i, std::string_view name) const;
};

enum class Format { Auto, WorkJson, GeoJson, StreetManager };

/// Parses one submission. Auto detects: SNS envelope
/// ("Type":"Notification"/"SubscriptionConfirmation"), Street Manager message (object_type +
/// object_data), GeoJSON Feature/FeatureCollection, else contract work JSON. After the SNS
/// envelope (always one: only its signed Message is read), an object with a top-level work_ref
/// is contract work JSON unless it is a Feature with properties or a FeatureCollection with
/// features (the contract's unknown fields are ignored).
Parsed parse_submission(std::string_view bytes, const ParseLimits& limits = {},
                        Format format = Format::Auto);

/// One feature of a FeatureCollection as a JSON document of its own (for_each_feature_document).
struct FeatureDocument {
  std::string_view json;  // the feature's bytes as sent, or a collection of it alone
  std::size_t index = 0;  // 0-based, in the collection
  std::size_t count = 0;  // features in the collection
  bool wrapped = false;   // json is a one-feature collection: its errors say features[0].
};

/// Passes each feature of a GeoJSON FeatureCollection to `each`, in order, as a JSON document
/// of its own, for a record per feature: the feature's bytes as sent or, when the collection
/// has a legacy `crs` member, a FeatureCollection of that one feature with the collection's
/// `crs` (so that it parses exactly as it did in the collection). Returns false, passing
/// nothing, when `bytes` is not a JSON FeatureCollection with a `features` array. Nothing is
/// validated beyond that: parse_submission of each document does it.
bool for_each_feature_document(std::string_view bytes,
                               const std::function<void(const FeatureDocument&)>& each);
/// The same, collected.
std::optional<std::vector<std::string>> feature_documents(std::string_view bytes);

/// WKT (POINT, LINESTRING, POLYGON, MULTI*; case-insensitive; Z/M dims dropped; EMPTY is an error).
/// An EWKT "SRID=n;" prefix is accepted and ignored here (parse_ewkt returns it). Errors carry no
/// field (the caller locates them) and give the character offset where the text went wrong.
Result<Shape> parse_wkt(std::string_view wkt, const ParseLimits& limits = {});

/// A WKT geometry with the SRID of its EWKT prefix, if it had one.
struct WktGeometry {
  Shape shape;
  std::optional<std::int32_t> srid;
};
/// parse_wkt, keeping the SRID of an EWKT prefix ("SRID=27700;LINESTRING(...)").
Result<WktGeometry> parse_ewkt(std::string_view wkt, const ParseLimits& limits = {});

/// Normalises a CRS name to "EPSG:<n>": "EPSG:27700" (any case), "EPSG::27700",
/// "urn:ogc:def:crs:EPSG::27700", "urn:ogc:def:crs:EPSG:9.8.15:27700",
/// "http://www.opengis.net/def/crs/EPSG/0/27700"; CRS84 in its OGC spellings ("OGC:CRS84",
/// "urn:ogc:def:crs:OGC:1.3:CRS84", "CRS84", the opengis.net URI) is EPSG:4326 (longitude first,
/// which is how the contract reads EPSG:4326). Whether PROJ knows the code is checked later.
Result<std::string> normalize_crs(std::string_view name);

}  // namespace digonce::geo
