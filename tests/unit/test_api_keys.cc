// API key files and the authorization decisions of the gateway (services/api_keys.h).
#include <doctest/doctest.h>

#include <string>

#include "base/ascii.h"
#include "services/api_keys.h"

using namespace digonce;
using namespace digonce::services;

namespace {

ApiKeys parse_ok(const std::string& yaml) {
  auto keys = ApiKeys::parse(yaml, "keys.yaml");
  REQUIRE_MESSAGE(keys.ok(), (keys.ok() ? "" : keys.error().what()));
  return std::move(*keys);
}

std::string parse_error(const std::string& yaml) {
  auto keys = ApiKeys::parse(yaml, "keys.yaml");
  REQUIRE_FALSE(keys.ok());
  return keys.error().what();
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("api keys: a key file is read with its roles and orgs") {
  auto keys = parse_ok(R"(
keys:
  - {key: "stpr-secret-1", org: "STPR", role: promoter}
  - key: "westminster-secret"
    org: "5990"
    role: authority
  - {key: "ops-secret-key", org: OPS, role: ops}
)");
  CHECK(keys.size() == 3);
  CHECK_FALSE(keys.development());
  const ApiKey* k = keys.find("westminster-secret");
  REQUIRE(k);
  CHECK(k->org == "5990");
  CHECK(k->role == Role::Authority);
  CHECK(keys.find("stpr-secret-1")->role == Role::Promoter);
  CHECK(keys.find("ops-secret-key")->role == Role::Ops);
  CHECK(keys.find("unknown-key") == nullptr);
  CHECK(keys.find("stpr-secret") == nullptr);  // whole keys only
}

TEST_CASE("api keys: a bad key file is an error naming the file and the entry") {
  CHECK(contains(parse_error("keys: [{key: abcdefgh, org: X, role: admin}]"),
                 "keys.yaml: keys[0].role: must be promoter, authority, ops or feed, not 'admin'"));
  CHECK(contains(parse_error("keys:\n  - {key: abcdefgh, org: X, role: ops}\n  - {key: "
                             "abcdefgh2, role: ops}"),
                 "keys.yaml: keys[1].org: is required"));
  CHECK(contains(parse_error("keys:\n  - {key: abcdefgh, org: X, role: ops}\n  - {key: "
                             "abcdefgh, org: Y, role: ops}"),
                 "keys[1].key: appears twice"));
  CHECK(contains(parse_error("keys: [{key: short, org: X, role: ops}]"), "keys[0].key"));
  CHECK(contains(parse_error("keys: [{key: 'has space', org: X, role: ops}]"), "keys[0].key"));
  CHECK(contains(parse_error("keys: []"), "keys.yaml: keys: is empty"));
  CHECK(contains(parse_error("development: true"), "keys.yaml: keys: must be a list"));
  // Misspelt and repeated keys are refused (YAML keeps the first of two equal keys).
  CHECK(contains(parse_error("other: 1"),
                 "keys.yaml: other: unknown key (the file takes: "
                 "development, keys)"));
  CHECK(contains(parse_error("keys: [{key: abcdefgh12, org: STPR, role: promoter, role: ops}]"),
                 "keys[0].role: given twice"));
  CHECK(contains(parse_error("keys: [{key: abcdefgh12, org: X, role: ops, [extra]}]"),
                 "keys[0]: a key must be a plain word"));
  CHECK(contains(parse_error("{[a]: 1}"), "a key must be a plain word"));
  CHECK(contains(parse_error("keys: [{key: abcdefgh12, org: STPR, rol: ops}]"),
                 "keys[0].rol: unknown key (keys[0] takes: key, org, role)"));
  CHECK(contains(parse_error("keys: [oops"), "keys.yaml: not YAML"));
  CHECK(contains(parse_error("- a\n- b"), "keys.yaml: must be a map"));
  CHECK(contains(parse_error("keys: [plain]"), "keys[0]: must be a map"));
}

TEST_CASE("api keys: a missing key file is an error naming it") {
  auto keys = ApiKeys::load("/nonexistent/keys.yaml");
  REQUIRE_FALSE(keys.ok());
  CHECK(contains(keys.error().what(), "/nonexistent/keys.yaml"));
}

TEST_CASE("api keys: areas are set on authority keys only") {
  auto keys = parse_ok(
      "keys:\n  - {key: auth-key-1, org: '5990', role: authority}\n"
      "  - {key: prom-key-1, org: '5990', role: promoter}\n"
      "  - {key: auth-key-2, org: '9999', role: authority}\n"
      "  - {key: auth-key-3, org: '9999', role: authority}\n"
      "  - {key: prom-key-2, org: '8888', role: promoter}\n");
  const auto unknown = keys.set_areas([](const std::string& org) -> std::optional<geo::Envelope> {
    if (org == "5990") return geo::Envelope{0, 0, 1, 1};
    return std::nullopt;
  });
  CHECK(unknown == std::vector<std::string>{"9999"});  // the promoter's org is not asked about
  CHECK(keys.find("auth-key-1")->area.has_value());
  CHECK_FALSE(keys.find("prom-key-1")->area.has_value());
  CHECK_FALSE(keys.find("auth-key-2")->area.has_value());
}

TEST_CASE("api keys: the development key file loads and says it is one") {
  auto keys = ApiKeys::load(std::string(DIGONCE_SOURCE_DIR) + "/config/dev-api-keys.yaml");
  REQUIRE_MESSAGE(keys.ok(), (keys.ok() ? "" : keys.error().what()));
  CHECK(keys->development());
  REQUIRE(keys->find("dev-ops-key"));
  CHECK(keys->find("dev-ops-key")->role == Role::Ops);
  REQUIRE(keys->find("dev-stpr-key"));
  CHECK(keys->find("dev-stpr-key")->org == "STPR");
  REQUIRE(keys->find("dev-westminster-key"));
  CHECK(keys->find("dev-westminster-key")->role == Role::Authority);
  CHECK(keys->find("dev-westminster-key")->org == "5990");
}

TEST_CASE("api keys: Bearer tokens") {
  CHECK(bearer_token("Bearer abc") == std::optional<std::string_view>("abc"));
  CHECK(bearer_token("bearer  abc ") == std::optional<std::string_view>("abc"));
  CHECK_FALSE(bearer_token("Basic abc").has_value());
  CHECK_FALSE(bearer_token("Bearer ").has_value());
  CHECK_FALSE(bearer_token("Bearer").has_value());
  CHECK_FALSE(bearer_token("").has_value());
  CHECK(bearer_token("BEARER abc") == std::optional<std::string_view>("abc"));
  CHECK_FALSE(bearer_token("Bearerx abc").has_value());
  CHECK(bearer_token("Bearer abc\t") == std::optional<std::string_view>("abc"));  // OWS
  CHECK_FALSE(bearer_token("Bearer \t ").has_value());
}

TEST_CASE("ascii: case-insensitive comparisons of ASCII letters only, and trimming") {
  CHECK(ascii_iequals("Identity", "identity"));
  CHECK(ascii_iequals("", ""));
  CHECK_FALSE(ascii_iequals("identity", "identit"));
  CHECK_FALSE(ascii_iequals("gzip", "gzIp "));
  CHECK_FALSE(ascii_iequals("\xc9", "\xe9"));  // bytes past ASCII compare as they are
  CHECK(ascii_istarts_with("HTTP://host/", "http://"));
  CHECK(ascii_istarts_with("http://", "http://"));
  CHECK_FALSE(ascii_istarts_with("http:/", "http://"));
  CHECK_FALSE(ascii_istarts_with("/http://", "http://"));
  CHECK(ascii_trim(" \t gzip \t") == "gzip");
  CHECK(ascii_trim("a b") == "a b");  // inner spaces stay
  CHECK(ascii_trim(" \t ").empty());
  CHECK(ascii_trim("").empty());
  CHECK(ascii_trim("\ngzip") == "\ngzip");  // only spaces and tabs
}

TEST_CASE("api keys: who may do what") {
  ApiKey promoter{"k1", "STPR", Role::Promoter};
  ApiKey authority{"k2", "5990", Role::Authority};
  ApiKey ops{"k3", "OPS", Role::Ops};

  SUBCASE("submit and cancel: promoters their own works only, authorities never") {
    CHECK(may_submit(promoter, "STPR"));
    CHECK_FALSE(may_submit(promoter, "TFL"));
    CHECK_FALSE(may_submit(authority, "5990"));
    CHECK_FALSE(may_submit(authority, "STPR"));
    CHECK(may_submit(ops, "TFL"));
    CHECK(may_cancel(promoter, "STPR"));
    CHECK_FALSE(may_cancel(promoter, "TFL"));
    CHECK_FALSE(may_cancel(authority, "STPR"));
    CHECK(may_cancel(ops, "STPR"));
  }
  SUBCASE("works: promoters their own, authorities those in their area") {
    CHECK(may_read_work(promoter, "STPR", "5990"));
    CHECK_FALSE(may_read_work(promoter, "TFL", "5990"));
    CHECK(may_read_work(authority, "TFL", "5990"));
    CHECK_FALSE(may_read_work(authority, "TFL", "5210"));
    CHECK_FALSE(may_read_work(authority, "TFL", ""));
    CHECK(may_read_work(ops, "TFL", ""));
  }
  SUBCASE("works that name no authority: an authority reads those that meet its area") {
    ApiKey area_key = authority;
    area_key.area = geo::Envelope{-0.2, 51.48, -0.11, 51.54};
    geo::Envelope inside{-0.13, 51.50, -0.12, 51.51};
    geo::Envelope outside{-0.05, 51.50, -0.04, 51.51};
    CHECK(may_read_work(area_key, "TFL", "", inside));
    CHECK_FALSE(may_read_work(area_key, "TFL", "", outside));
    CHECK_FALSE(may_read_work(area_key, "TFL", "5210", inside));  // named: the name decides
    CHECK_FALSE(may_read_work(authority, "TFL", "", inside));     // area unknown
  }
  SUBCASE("works whose record lists the areas they meet: those authorities read them") {
    ApiKey area_key = authority;  // 5990
    area_key.area = geo::Envelope{-0.2, 51.48, -0.11, 51.54};
    geo::Envelope inside{-0.13, 51.50, -0.12, 51.51};
    const std::vector<std::string> westminster{"5990"}, camden{"5210"}, both{"5210", "5990"};
    // Named for another authority, lying in Westminster: Westminster reads it.
    CHECK(may_read_work(area_key, "TFL", "5210", inside, &westminster));
    CHECK(may_read_work(authority, "TFL", "5210", {}, &both));
    // In Camden's area only, whatever the envelopes: not Westminster's (the envelope is no
    // longer the test), unless it names Westminster.
    CHECK_FALSE(may_read_work(area_key, "TFL", "", inside, &camden));
    CHECK(may_read_work(area_key, "TFL", "5990", inside, &camden));
    const std::vector<std::string> none;
    CHECK_FALSE(may_read_work(area_key, "TFL", "", inside, &none));  // outside every area
  }
  SUBCASE("alerts: promoters those about one of their works, authorities those in their area") {
    CHECK(may_read_alert(promoter, {"TFL", "STPR"}, {"5210"}));
    CHECK_FALSE(may_read_alert(promoter, {"TFL", "TW"}, {"5990"}));
    CHECK(may_read_alert(authority, {"TFL", "TW"}, {"5210", "5990"}));
    CHECK_FALSE(may_read_alert(authority, {"STPR"}, {"5210"}));
    CHECK(may_read_alert(ops, {}, {}));
  }
}
