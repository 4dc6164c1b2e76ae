#!/usr/bin/env bash
# digonce on a broker that speaks TLS and wants a client certificate (mutual TLS, tools/kafka's
# third listener), through config `kafka.client`'s ssl.* settings: topics are created, ingest and
# detector run exactly-once, an import's clash is read back with tail. A client without a
# certificate, and one that trusts another CA, are refused at once, saying why.
# Needs DIGONCE_BIN, DIGONCE_KAFKA_BOOTSTRAP (tools/kafka start), jq, openssl.
source "$(dirname "$0")/lib.sh" tls
tools_kafka_only
tls=$("$kafka_tool" tls-bootstrap)
certs=$("$kafka_tool" tls-dir)

# config.yaml with kafka.client set to the given ssl.* lines.
write_config() {
  {
    printf 'boundaries: ""\nkafka:\n  client:\n    security.protocol: SSL\n'
    for line in "$@"; do printf '    %s\n' "$line"; done
  } >"$work/config.yaml"
}
write_config "ssl.ca.location: $certs/ca.pem" "ssl.certificate.location: $certs/client.pem" \
  "ssl.key.location: $certs/client.key"
global+=(--config "$work/config.yaml")

clash_through TLS "$tls"

write_config "ssl.ca.location: $certs/ca.pem"
refused_at "$tls" "without a client certificate" "a broker refused this client: .*alert"
write_config "ssl.ca.location: $(other_ca_pem)" "ssl.certificate.location: $certs/client.pem" \
  "ssl.key.location: $certs/client.key"
refused_at "$tls" "trusting another CA" "this client refused a broker.s certificate: .*certificate verify failed"
