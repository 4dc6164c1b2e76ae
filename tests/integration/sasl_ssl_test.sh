#!/usr/bin/env bash
# digonce on a broker that speaks TLS and wants a user and password (SASL_SSL with SCRAM-SHA-512,
# tools/kafka's fourth listener: how managed clusters are commonly reached), through config
# `kafka.client` with the CA in ssl.ca.location and the password from the environment: topics
# are created, ingest and detector run exactly-once, an import's clash is read back with tail. A
# wrong password, and a client that trusts another CA, are refused at once, saying why.
# Needs DIGONCE_BIN, DIGONCE_KAFKA_BOOTSTRAP (tools/kafka start), jq, openssl.
source "$(dirname "$0")/lib.sh" sasl-ssl
tools_kafka_only
addr=$("$kafka_tool" sasl-ssl-bootstrap)
certs=$("$kafka_tool" tls-dir)

# config.yaml with kafka.client's SASL_SSL settings, trusting the CA in $1.
write_config() {
  cat >"$work/config.yaml" <<YAML
boundaries: ""
kafka:
  client:
    security.protocol: SASL_SSL
    ssl.ca.location: $1
    sasl.mechanisms: SCRAM-SHA-512
    sasl.username: digonce
    sasl.password_env: DIGONCE_TEST_SASL_PASSWORD
YAML
}
write_config "$certs/ca.pem"
export DIGONCE_TEST_SASL_PASSWORD=digonce-test-secret
global+=(--config "$work/config.yaml")

clash_through SASL_SSL "$addr"

export DIGONCE_TEST_SASL_PASSWORD=wrong
refused_at "$addr" "with a wrong password" "a broker refused this client: .*SASL authentication error"
export DIGONCE_TEST_SASL_PASSWORD=digonce-test-secret
write_config "$(other_ca_pem)"
refused_at "$addr" "trusting another CA" "this client refused a broker.s certificate: .*certificate verify failed"
