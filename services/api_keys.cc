#include "services/api_keys.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string_view>

#include "base/ascii.h"
#include "base/yaml_keys.h"

namespace digonce::services {

const char* role_name(Role r) {
  switch (r) {
    case Role::Promoter:
      return "promoter";
    case Role::Authority:
      return "authority";
    case Role::Ops:
      return "ops";
    case Role::Feed:
      return "feed";
  }
  return "?";
}

std::optional<Role> parse_role(std::string_view s) {
  if (s == "promoter") return Role::Promoter;
  if (s == "authority") return Role::Authority;
  if (s == "ops") return Role::Ops;
  if (s == "feed") return Role::Feed;
  return std::nullopt;
}

Result<ApiKeys> ApiKeys::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return error("API key file " + path + ": cannot be read");
  std::ostringstream text;
  text << in.rdbuf();
  return parse(text.str(), path);
}

Result<ApiKeys> ApiKeys::parse(const std::string& yaml, const std::string& source) {
  auto fail = [&](const std::string& where, const std::string& what) -> Error {
    return error("API key file " + source + ": " + (where.empty() ? "" : where + ": ") + what);
  };
  ApiKeys out;
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::Exception& e) {
    return fail("", std::string("not YAML: ") + e.what());
  }
  if (!root.IsMap()) return fail("", "must be a map with a `keys` list");
  // A misspelt key would be ignored without a word, and of two equal keys YAML keeps the first
  // and drops the second: `role: promoter, role: ops` gave a promoter.
  auto check_keys = [&](const YAML::Node& map, const std::string& where,
                        const std::vector<std::string_view>& known) -> Status {
    // A key that is a list or a map (a typo) must be refused here, not throw out of a SIGHUP.
    if (auto bad = yaml_key_problem(map, known, where.empty() ? "the file" : where))
      return error("API key file " + source + ": " + bad->message(where));
    return {};
  };
  DIGONCE_TRY(check_keys(root, "", {"development", "keys"}));
  try {
    if (auto dev = root["development"]) out.development_ = dev.as<bool>();
  } catch (const YAML::Exception&) {
    return fail("development", "must be true or false");
  }
  auto keys = root["keys"];
  if (!keys || !keys.IsSequence()) return fail("keys", "must be a list of {key, org, role}");
  if (keys.size() == 0) return fail("keys", "is empty: no one could use the API");
  for (std::size_t i = 0; i < keys.size(); ++i) {
    std::string where = "keys[" + std::to_string(i) + "]";
    const auto& entry = keys[i];
    if (!entry.IsMap()) return fail(where, "must be a map {key, org, role}");
    DIGONCE_TRY(check_keys(entry, where, {"key", "org", "role"}));
    auto text = [&](const char* name) -> Result<std::string> {
      auto n = entry[name];
      if (!n || n.IsNull()) return fail(where + "." + name, "is required");
      if (!n.IsScalar()) return fail(where + "." + name, "must be a string");
      auto s = n.as<std::string>();
      if (s.empty()) return fail(where + "." + name, "must not be empty");
      return s;
    };
    auto key = text("key");
    if (!key) return key.error();
    auto org = text("org");
    if (!org) return org.error();
    auto role = text("role");
    if (!role) return role.error();
    auto r = parse_role(*role);
    if (!r)
      return fail(where + ".role", "must be promoter, authority, ops or feed, not '" + *role + "'");
    if (key->size() < 8) return fail(where + ".key", "is too short (8 characters at least)");
    if (std::any_of(key->begin(), key->end(), [](char c) {
          return static_cast<unsigned char>(c) <= ' ' || static_cast<unsigned char>(c) >= 0x7f;
        }))
      return fail(where + ".key", "must be printable ASCII without spaces");
    if (out.keys_.count(*key)) return fail(where + ".key", "appears twice");
    out.keys_.emplace(*key, ApiKey{*key, *org, *r});
  }
  return out;
}

const ApiKey* ApiKeys::find(std::string_view key) const {
  auto it = keys_.find(key);
  return it == keys_.end() ? nullptr : &it->second;
}

std::vector<std::string> ApiKeys::set_areas(
    const std::function<std::optional<geo::Envelope>(const std::string& org)>& area_of) {
  std::vector<std::string> unknown;
  for (auto& [text, key] : keys_) {
    if (key.role != Role::Authority) continue;
    key.area = area_of(key.org);
    if (!key.area) unknown.push_back(key.org);
  }
  std::sort(unknown.begin(), unknown.end());
  unknown.erase(std::unique(unknown.begin(), unknown.end()), unknown.end());
  return unknown;
}

std::optional<std::string_view> bearer_token(std::string_view authorization) {
  constexpr std::string_view kScheme = "bearer ";
  // The scheme is case-insensitive (RFC 7235).
  if (authorization.size() <= kScheme.size() || !ascii_istarts_with(authorization, kScheme))
    return std::nullopt;
  const auto token = ascii_trim(authorization.substr(kScheme.size()));
  if (token.empty()) return std::nullopt;
  return token;
}

std::optional<std::string> basic_password(std::string_view authorization) {
  constexpr std::string_view kScheme = "basic ";
  if (authorization.size() <= kScheme.size() || !ascii_istarts_with(authorization, kScheme))
    return std::nullopt;
  const auto b64 = ascii_trim(authorization.substr(kScheme.size()));
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string decoded;
  unsigned bits = 0;
  int nbits = 0;
  for (char c : b64) {
    if (c == '=') break;
    int v = value(c);
    if (v < 0) return std::nullopt;
    bits = (bits << 6) | static_cast<unsigned>(v);
    nbits += 6;
    if (nbits >= 8) {
      nbits -= 8;
      decoded.push_back(static_cast<char>((bits >> nbits) & 0xff));
    }
  }
  auto colon = decoded.find(':');
  if (colon == std::string::npos || colon + 1 == decoded.size()) return std::nullopt;
  return decoded.substr(colon + 1);
}

bool may_submit(const ApiKey& k, std::string_view promoter) {
  return k.role == Role::Ops || (k.role == Role::Promoter && k.org == promoter);
}

bool may_cancel(const ApiKey& k, std::string_view promoter) {
  return may_submit(k, promoter);
}

bool may_read_work(const ApiKey& k, std::string_view promoter, std::string_view authority,
                   const geo::Envelope& envelope, const std::vector<std::string>* areas) {
  switch (k.role) {
    case Role::Ops:
      return true;
    case Role::Promoter:
      return k.org == promoter;
    case Role::Authority:
      if (k.org == authority) return true;
      if (areas) return std::find(areas->begin(), areas->end(), k.org) != areas->end();
      return authority.empty() && k.area && !envelope.empty() && k.area->intersects(envelope);
    case Role::Feed:
      return false;
  }
  return false;
}

bool may_read_alert(const ApiKey& k, const std::vector<std::string>& promoters,
                    const std::vector<std::string>& authorities) {
  switch (k.role) {
    case Role::Ops:
      return true;
    case Role::Promoter:
      return std::find(promoters.begin(), promoters.end(), k.org) != promoters.end();
    case Role::Authority:
      return std::find(authorities.begin(), authorities.end(), k.org) != authorities.end();
    case Role::Feed:
      return false;
  }
  return false;
}

}  // namespace digonce::services
