#!/usr/bin/env bash
# End to end through `digonce serve` (embedded broker): the Street Manager feed endpoint as
# Amazon SNS drives it (tests/e2e/sns_feed_check.py has the list of checks). Needs python3 and
# the openssl command.
#
#   DIGONCE_BIN=build/bin/digonce tests/e2e/serve_streetmanager_feed.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
data="$(shared_data_dir)" || fail "shared data not found (set DIGONCE_SHARED_DATA)"
cat >"$work/config.yaml" <<YAML
boundaries: $root/config/london-authorities.yaml
feeds:
  streetmanager:
    cert_hosts: ["127.0.0.1"]
    subscribe_hosts: ["127.0.0.1"]
    topic_arns: ["arn:aws:sns:eu-west-2:000000000000:street-manager-test"]
    allow_http: true
    max_waiting: 2
YAML
start_serve --config "$work/config.yaml"
python3 "$root/tests/e2e/sns_feed_check.py" --base "$base" --data "$data" --work "$work" ||
  fail "feed checks failed"
stop_serve
# Without topic_arns (signatures checked, as by default) no topic's message is taken.
grep -v topic_arns "$work/config.yaml" >"$work/no-topics.yaml"
rm -rf "$work/data"
start_serve --config "$work/no-topics.yaml"
python3 "$root/tests/e2e/sns_feed_check.py" --base "$base" --data "$data" --work "$work" --no-topics ||
  fail "feed checks without topic_arns failed"
stop_serve
