// API keys and what each one may do (the contract, section 4): a key belongs to one organisation
// and has one role.
//   promoter   submits and cancels its own works (work.promoter == org); reads its own works and
//              the alerts that involve one of them
//   authority  reads the works in its area and the alerts whose highway_authorities hold org
//              or one of whose works names it (its highway_authority); a work is in its area when
//              its highway_authority is org, or when its geometry meets the authority's area
//              (ingest's highway_authority_areas in works.current), or, for a record without those
//              (written before them, or by an ingest without boundaries) that names no authority,
//              when its envelope meets the envelope of the authority's area (when the gateway has
//              the boundaries)
//   ops        everything
// The decisions are pure functions of the key and the item's owners, so the HTTP gateway, the
// live stream and the tests share them.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "geo/shape.h"

namespace digonce::services {

/// promoter: submits and cancels its own works; authority: reads alerts and works in its area;
/// ops: everything; feed: only posts to a feed endpoint (the Street Manager SNS subscription).
enum class Role { Promoter, Authority, Ops, Feed };
const char* role_name(Role r);
std::optional<Role> parse_role(std::string_view s);

struct ApiKey {
  std::string key;
  std::string org;
  Role role = Role::Promoter;
  /// Authority keys: the EPSG:4326 envelope of the authority's area, when known.
  std::optional<geo::Envelope> area;
};

/// The keys of one key file. Lookups are by the whole key.
class ApiKeys {
 public:
  /// Reads a key file: `keys: [{key: "...", org: "STPR", role: promoter}]`, optionally
  /// `development: true` (a file of well-known keys that must never guard real data). Every
  /// error names the file and the entry ("keys.yaml: keys[2].role: ...").
  static Result<ApiKeys> load(const std::string& path);
  /// The same from YAML text; `source` names it in errors.
  static Result<ApiKeys> parse(const std::string& yaml, const std::string& source);

  /// The key, or null when it is unknown.
  const ApiKey* find(std::string_view key) const;
  /// Sets the area of every authority key whose org `area_of` knows; returns the orgs of the
  /// authority keys it does not know (sorted, each once), for a warning: such a key sees only
  /// what names its org (a typo in an org code would leave an authority an empty dashboard).
  std::vector<std::string> set_areas(
      const std::function<std::optional<geo::Envelope>(const std::string& org)>& area_of);
  std::size_t size() const { return keys_.size(); }
  /// The file says `development: true`.
  bool development() const { return development_; }

 private:
  std::map<std::string, ApiKey, std::less<>> keys_;
  bool development_ = false;
};

/// The key from an `Authorization: Bearer KEY` header value, or nullopt when it is not one.
std::optional<std::string_view> bearer_token(std::string_view authorization);
/// The key of an `Authorization: Basic base64(user:KEY)` header (the password is the key; the
/// user is ignored), for senders that can only put credentials in a URL, such as Amazon SNS.
std::optional<std::string> basic_password(std::string_view authorization);

// Authorization decisions.

/// May submit (upsert) a work of `promoter`.
bool may_submit(const ApiKey& k, std::string_view promoter);
/// May cancel a work whose current promoter is `promoter`.
bool may_cancel(const ApiKey& k, std::string_view promoter);
/// May read a work of `promoter` in the area of `authority` ("" when unknown) whose EPSG:4326
/// envelope is `envelope`, and whose geometry meets the areas of `areas` (null when not known).
bool may_read_work(const ApiKey& k, std::string_view promoter, std::string_view authority,
                   const geo::Envelope& envelope = {},
                   const std::vector<std::string>* areas = nullptr);
/// May read an alert about works of `promoters` in the areas of `authorities`.
bool may_read_alert(const ApiKey& k, const std::vector<std::string>& promoters,
                    const std::vector<std::string>& authorities);

}  // namespace digonce::services
