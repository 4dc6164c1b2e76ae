// The Street Manager feed's SNS pieces (services/sns.h) and Basic credentials (api_keys.h).
#include <doctest/doctest.h>

#include <string>

#include "services/api_keys.h"
#include "services/sns.h"

using namespace digonce;
using namespace digonce::services;

namespace {
bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}
}  // namespace

TEST_CASE("host_matches: '*' is one DNS label of 3+ letters, digits, hyphens; case ignored") {
  const std::vector<std::string> aws = {"sns.*.amazonaws.com"};
  CHECK_FALSE(host_matches("sns.s3.amazonaws.com", aws));  // an S3 bucket named "sns"
  CHECK_FALSE(host_matches("sns.a_b.amazonaws.com", aws));
  CHECK(host_matches("sns.eu-west-2.amazonaws.com", aws));
  CHECK(host_matches("SNS.EU-WEST-2.AMAZONAWS.COM", aws));
  CHECK_FALSE(host_matches("sns.amazonaws.com", aws));
  CHECK_FALSE(host_matches("sns.a.b.amazonaws.com", aws));
  CHECK_FALSE(host_matches("sns.eu-west-2.amazonaws.com.evil.example", aws));
  CHECK_FALSE(host_matches("evil-sns.eu-west-2.amazonaws.com", aws));
  CHECK_FALSE(host_matches("sns..amazonaws.com", aws));
  CHECK(host_matches("127.0.0.1", {"127.0.0.1"}));
  CHECK_FALSE(host_matches("127.0.0.2", {"127.0.0.1"}));
}

TEST_CASE("parse_sns and the string SNS signs, per message type") {
  auto n = parse_sns(R"({"Type":"Notification","MessageId":"id","TopicArn":"arn","Message":"m",)"
                     R"("Timestamp":"t","SignatureVersion":"1","Signature":"c2ln",)"
                     R"("SigningCertURL":"https://sns.x.amazonaws.com/c.pem","Subject":"s"})");
  REQUIRE(n.ok());
  CHECK(*sns_string_to_sign(*n) ==
        "Message\nm\nMessageId\nid\nSubject\ns\nTimestamp\nt\nTopicArn\narn\nType\nNotification\n");
  n->has_subject = false;
  CHECK(*sns_string_to_sign(*n) ==
        "Message\nm\nMessageId\nid\nTimestamp\nt\nTopicArn\narn\nType\nNotification\n");
  auto c = parse_sns(
      R"({"Type":"SubscriptionConfirmation","MessageId":"id","TopicArn":"arn","Message":"m",)"
      R"("Timestamp":"t","SignatureVersion":"2","Signature":"c2ln","SigningCertURL":"u",)"
      R"("SubscribeURL":"s","Token":"k"})");
  REQUIRE(c.ok());
  CHECK(*sns_string_to_sign(*c) ==
        "Message\nm\nMessageId\nid\nSubscribeURL\ns\nTimestamp\nt\nToken\nk\nTopicArn\narn\nType\n"
        "SubscriptionConfirmation\n");

  CHECK(contains(parse_sns("{").error().what(), "invalid JSON"));
  // Bad JSON is named as in a work event: the byte, and the member the fault is in.
  auto bad = parse_sns(R"({"Type":"Notification","Message":[1,,2]})");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().field == "Message[1]");
  CHECK(contains(bad.error().what(), "invalid JSON at byte 36"));
  CHECK(contains(parse_sns("{\"Type\":\"\xff\"}").error().what(), "invalid JSON at byte"));
  CHECK(parse_sns(R"({"Type":"Notification","Type":"Notification"})").error().field == "Type");
  CHECK(parse_sns(R"({"MessageId":"id"})").error().field == "Type");
  CHECK(parse_sns(R"({"Type":"Other"})").error().field == "Type");
  CHECK(parse_sns(R"({"Type":"Notification","MessageId":3})").error().field == "MessageId");
  CHECK(parse_sns(R"({"Type":"SubscriptionConfirmation","MessageId":"i","TopicArn":"a",)"
                  R"("Message":"m","Timestamp":"t","SignatureVersion":"1","Signature":"s",)"
                  R"("SigningCertURL":"u"})")
            .error()
            .field == "SubscribeURL");
}

TEST_CASE("SnsVerifier refuses what it cannot trust, before any fetch") {
  StreetManagerFeedSettings fs;
  SnsVerifier v(fs);
  bool unavailable = true;
  auto m = parse_sns(R"({"Type":"Notification","MessageId":"id","TopicArn":"arn","Message":"m",)"
                     R"("Timestamp":"t","SignatureVersion":"1","Signature":"c2lnbmF0dXJl",)"
                     R"("SigningCertURL":"http://sns.eu-west-2.amazonaws.com/c.pem"})");
  REQUIRE(m.ok());
  auto s = v.verify(*m, unavailable);
  REQUIRE_FALSE(s.ok());
  CHECK(s.error().field == "SigningCertURL");
  CHECK(contains(s.error().what(), "https"));
  CHECK_FALSE(unavailable);  // refused for good, not "try again"
  m->signing_cert_url = "https://sns.eu-west-2.amazonaws.com.evil.example/c.pem";
  CHECK(contains(v.verify(*m, unavailable).error().what(), "not an allowed SNS host"));
  m->signature_version = "3";
  CHECK(v.verify(*m, unavailable).error().field == "SignatureVersion");
  m->signature_version = "1";
  m->signature = "not base64!";
  CHECK(v.verify(*m, unavailable).error().field == "Signature");
  CHECK(v.add_certificate("u", "not a certificate").error().field == "SigningCertURL");

  // A certificate host that cannot be reached: "try again" (the gateway answers 503).
  StreetManagerFeedSettings local;
  local.cert_hosts = {"127.0.0.1"};
  local.allow_http = true;
  local.timeout_ms = 2000;
  SnsVerifier lv(local);
  m->signature = "c2lnbmF0dXJl";
  m->signing_cert_url = "http://127.0.0.1:1/cert.pem";
  CHECK_FALSE(lv.verify(*m, unavailable).ok());
  CHECK(unavailable);

  fs.verify_signatures = false;
  CHECK(v.verify(*m, unavailable).ok());
}

TEST_CASE("basic_password: the password of Basic credentials is the key") {
  CHECK(*basic_password("Basic c25zOmRldi1mZWVkLWtleQ==") == "dev-feed-key");  // sns:dev-feed-key
  CHECK(*basic_password("basic  c25zOmRldi1mZWVkLWtleQ== ") == "dev-feed-key");
  CHECK_FALSE(basic_password("Bearer abc").has_value());
  CHECK_FALSE(basic_password("Basic !!!").has_value());
  CHECK_FALSE(basic_password("Basic c25z").has_value());      // "sns": no colon
  CHECK_FALSE(basic_password("Basic c25zOg==").has_value());  // "sns:": no password
  CHECK(parse_role("feed") == Role::Feed);
  CHECK(std::string(role_name(Role::Feed)) == "feed");
}
