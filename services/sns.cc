#include "services/sns.h"

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <simdjson.h>

#include <algorithm>
#include <cctype>
#include <chrono>

#include "base/ascii.h"
#include "geo/json_reader.h"
#include "services/http_client.h"

namespace digonce::services {
namespace {

Result<std::string> base64_decode(std::string_view in) {
  std::string clean;
  for (char c : in)
    if (c != '\n' && c != '\r' && c != ' ') clean.push_back(c);
  if (clean.empty() || clean.size() % 4 != 0) return error("is not base64");
  std::string out(clean.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(clean.data()),
                          static_cast<int>(clean.size()));
  if (n < 0) return error("is not base64");
  std::size_t pad = 0;
  if (clean.back() == '=') ++pad;
  if (clean.size() > 1 && clean[clean.size() - 2] == '=') ++pad;
  out.resize(static_cast<std::size_t>(n) - pad);
  return out;
}

// The URL, checked: https (or http when allowed) on an allowed host.
Result<Url> allowed_url(const std::string& text, const std::vector<std::string>& hosts,
                        bool allow_http, const char* field) {
  auto url = parse_url(text);
  if (!url) return field_error(field, url.error().what());
  if (url->scheme != "https" && !allow_http) return field_error(field, "must be an https URL");
  if (!host_matches(url->host, hosts))
    return field_error(field, "host " + url->host + " is not an allowed SNS host");
  return *url;
}

}  // namespace

Result<SnsMessage> parse_sns(std::string_view json) {
  // The reader of work events: bad JSON is named as there (the byte, and the member it is in).
  geo::json::JsonReader reader;
  auto parsed = reader.parse(json);
  if (!parsed) return parsed.error();
  const simdjson::dom::element root = *parsed;
  simdjson::dom::object o;
  if (root.get_object().get(o)) return error("an SNS message must be a JSON object");
  SnsMessage m;
  auto text = [&](const char* field, std::string& out, bool required) -> Status {
    std::string_view v;
    auto e = o[field];
    if (e.error() == simdjson::NO_SUCH_FIELD) {
      if (required) return field_error(field, "is required");
      return {};
    }
    if (e.get_string().get(v)) return field_error(field, "must be a string");
    out = std::string(v);
    return {};
  };
  DIGONCE_TRY(text("Type", m.type, true));
  const bool notification = m.type == "Notification";
  if (!notification && m.type != "SubscriptionConfirmation" && m.type != "UnsubscribeConfirmation")
    return field_error("Type", "'" + m.type +
                                   "' is not Notification, SubscriptionConfirmation or "
                                   "UnsubscribeConfirmation");
  DIGONCE_TRY(text("MessageId", m.message_id, true));
  DIGONCE_TRY(text("TopicArn", m.topic_arn, true));
  DIGONCE_TRY(text("Message", m.message, true));
  DIGONCE_TRY(text("Timestamp", m.timestamp, true));
  DIGONCE_TRY(text("SignatureVersion", m.signature_version, true));
  DIGONCE_TRY(text("Signature", m.signature, true));
  DIGONCE_TRY(text("SigningCertURL", m.signing_cert_url, true));
  DIGONCE_TRY(text("SubscribeURL", m.subscribe_url, !notification));
  DIGONCE_TRY(text("Token", m.token, !notification));
  if (notification && o["Subject"].error() != simdjson::NO_SUCH_FIELD) {
    // A null Subject is the same as none.
    if (!o["Subject"].is_null()) {
      DIGONCE_TRY(text("Subject", m.subject, false));
      m.has_subject = true;
    }
  }
  return m;
}

Result<std::string> sns_string_to_sign(const SnsMessage& m) {
  std::string s;
  auto add = [&](const char* name, const std::string& value) {
    s += name;
    s += '\n';
    s += value;
    s += '\n';
  };
  add("Message", m.message);
  add("MessageId", m.message_id);
  if (m.type == "Notification") {
    if (m.has_subject) add("Subject", m.subject);
    add("Timestamp", m.timestamp);
    add("TopicArn", m.topic_arn);
    add("Type", m.type);
  } else {
    add("SubscribeURL", m.subscribe_url);
    add("Timestamp", m.timestamp);
    add("Token", m.token);
    add("TopicArn", m.topic_arn);
    add("Type", m.type);
  }
  return s;
}

bool host_matches(std::string_view host, const std::vector<std::string>& patterns) {
  auto labels = [](std::string_view s) {
    std::vector<std::string_view> out;
    std::size_t at = 0;
    for (;;) {
      auto dot = s.find('.', at);
      out.push_back(s.substr(at, dot == std::string_view::npos ? dot : dot - at));
      if (dot == std::string_view::npos) break;
      at = dot + 1;
    }
    return out;
  };
  auto h = labels(host);
  for (const auto& p : patterns) {
    auto pl = labels(p);
    if (pl.size() != h.size()) continue;
    bool ok = true;
    for (std::size_t i = 0; i < pl.size() && ok; ++i) {
      if (pl[i] == "*") {
        ok = h[i].size() >= 3 && std::all_of(h[i].begin(), h[i].end(), [](char c) {
               return std::isalnum(static_cast<unsigned char>(c)) || c == '-';
             });
        continue;
      }
      ok = ascii_iequals(pl[i], h[i]);
    }
    if (ok) return true;
  }
  return false;
}

Status SnsVerifier::add_certificate(const std::string& url, std::string_view pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(
      PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), X509_free);
  if (!cert) return field_error("SigningCertURL", "does not hold a PEM certificate");
  Key key(X509_get_pubkey(cert.get()));
  if (!key) return field_error("SigningCertURL", "certificate without a public key");
  keys_[url] = std::move(key);
  return {};
}

Result<EVP_PKEY*> SnsVerifier::key_for(const std::string& url_text, bool& unavailable) {
  if (auto it = keys_.find(url_text); it != keys_.end()) return it->second.get();
  auto url = allowed_url(url_text, settings_.cert_hosts, settings_.allow_http, "SigningCertURL");
  if (!url) return url.error();
  auto r = http_get(*url, std::chrono::milliseconds(settings_.timeout_ms));
  if (!r || r->status != 200) unavailable = true;
  if (!r) return field_error("SigningCertURL", "cannot fetch the certificate: " + r.error().what());
  if (r->status != 200)
    return field_error("SigningCertURL",
                       "fetching the certificate: HTTP " + std::to_string(r->status));
  // SNS signs with a handful of certificates; a cache that only grows is bounded anyway.
  if (keys_.size() >= 64) keys_.clear();
  DIGONCE_TRY(add_certificate(url_text, r->body));
  return keys_[url_text].get();
}

Status SnsVerifier::verify(const SnsMessage& m, bool& unavailable) {
  unavailable = false;
  if (!settings_.verify_signatures) return {};
  const EVP_MD* md = m.signature_version == "1"   ? EVP_sha1()
                     : m.signature_version == "2" ? EVP_sha256()
                                                  : nullptr;
  if (!md) return field_error("SignatureVersion", "must be 1 or 2");
  auto signature = base64_decode(m.signature);
  if (!signature) return field_error("Signature", signature.error().what());
  auto text = sns_string_to_sign(m);
  if (!text) return text.error();
  auto key = key_for(m.signing_cert_url, unavailable);
  if (!key) return key.error();
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, md, nullptr, *key) != 1) {
    unavailable = true;
    return error("cannot set up the signature check");
  }
  int ok = EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature->data()),
                            signature->size(), reinterpret_cast<const unsigned char*>(text->data()),
                            text->size());
  if (ok != 1)
    return field_error("Signature", "does not verify with the certificate at SigningCertURL");
  return {};
}

Status confirm_subscription(const StreetManagerFeedSettings& settings, const SnsMessage& m) {
  auto url =
      allowed_url(m.subscribe_url, settings.subscribe_hosts, settings.allow_http, "SubscribeURL");
  if (!url) return url.error();
  auto r = http_get(*url, std::chrono::milliseconds(settings.timeout_ms));
  if (!r) return field_error("SubscribeURL", "cannot confirm: " + r.error().what());
  if (r->status < 200 || r->status >= 300)
    return field_error("SubscribeURL", "confirming answered HTTP " + std::to_string(r->status));
  return {};
}

}  // namespace digonce::services
