// Amazon SNS messages as Street Manager's open data feed sends them to an HTTP(S) subscription:
// parsing, the signature check (AWS, "Verifying the signatures of Amazon SNS messages":
// SignatureVersion 1 = RSA SHA1, 2 = RSA SHA256, over the message's fields in a fixed order, with
// the certificate at SigningCertURL), and confirming a subscription (GET SubscribeURL).
#pragma once

#include <openssl/evp.h>

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "services/settings.h"

namespace digonce::services {

struct SnsMessage {
  std::string type;  // Notification, SubscriptionConfirmation, UnsubscribeConfirmation
  std::string message_id;
  std::string topic_arn;
  std::string message;
  std::string timestamp;
  std::string signature_version;
  std::string signature;  // base64
  std::string signing_cert_url;
  std::string subscribe_url;
  std::string token;
  std::string subject;
  bool has_subject = false;
};

/// Reads an SNS envelope; an error names the missing or mistyped field.
Result<SnsMessage> parse_sns(std::string_view json);

/// The text SNS signs for this message type.
Result<std::string> sns_string_to_sign(const SnsMessage& m);

/// True if `host` matches one of `patterns`. "*" stands for exactly one DNS label of at least
/// three letters, digits or hyphens (as the AWS SDKs check SNS hosts: sns.<region>.amazonaws.com).
bool host_matches(std::string_view host, const std::vector<std::string>& patterns);

/// Checks signatures, fetching each signing certificate once (https, allowed hosts) and keeping
/// its public key. One thread at a time.
class SnsVerifier {
 public:
  explicit SnsVerifier(const StreetManagerFeedSettings& settings) : settings_(settings) {}
  /// OK if the message's signature verifies (or checking is off); else the reason, with
  /// `unavailable` set when it could not be checked now (the certificate could not be fetched):
  /// the sender should try again, not give up.
  Status verify(const SnsMessage& m, bool& unavailable);
  /// Adds a certificate (PEM) as if fetched from `url`: for tests.
  Status add_certificate(const std::string& url, std::string_view pem);

 private:
  struct KeyFree {
    void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
  };
  using Key = std::unique_ptr<EVP_PKEY, KeyFree>;
  Result<EVP_PKEY*> key_for(const std::string& url, bool& unavailable);

  const StreetManagerFeedSettings& settings_;
  std::map<std::string, Key> keys_;
};

/// Confirms a subscription: GET SubscribeURL (https, an allowed host).
Status confirm_subscription(const StreetManagerFeedSettings& settings, const SnsMessage& m);

}  // namespace digonce::services
