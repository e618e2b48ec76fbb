#!/usr/bin/env bash
# The GopherCon workshop's curl scenario against kubeforge: the API is HTTPS + JSON.
# Discovery, reading an object, read-modify-write with PUT, optimistic concurrency (a write
# with a stale resourceVersion is refused with 409), and a watch as a stream of events.
#
#   kubeforge up &                       # serves https://127.0.0.1:6443 (no proxy needed)
#   examples/curl.sh                     # or: examples/curl.sh https://127.0.0.1:PORT
#
# Over HTTPS curl trusts the cluster CA and authenticates with the administrator's client
# certificate, from the certificate directory (KUBEFORGE_CERT_DIR, default .kubeforge/data/pki,
# where `kubeforge up` makes them). A plain http:// server (`kubeforge up --insecure-http`) needs
# neither. Needs curl and jq. crates/cli/tests/scripts.rs runs it against in-process servers.
set -euo pipefail
SERVER=${1:-${KUBEFORGE_SERVER:-https://127.0.0.1:6443}}
CERTS=${KUBEFORGE_CERT_DIR:-.kubeforge/data/pki}
TLS=()
if [[ $SERVER == https://* ]]; then
  TLS=(--cacert "$CERTS/ca.crt" --cert "$CERTS/admin.crt" --key "$CERTS/admin.key")
fi
curl() { command curl "${TLS[@]+"${TLS[@]}"}" "$@"; }
step() { printf '\n== %s\n' "$*"; }

step "discovery: the core group's versions, then the named groups"
curl -fsS "$SERVER/api" | jq -c '.versions'
curl -fsS "$SERVER/apis" | jq -r '.groups[].name' | sort | tr '\n' ' '
echo

step "resources of apps/v1 (resource names, their kinds, namespaced or not)"
curl -fsS "$SERVER/apis/apps/v1" | jq -r '.resources[] | select(.name | contains("/") | not) | "\(.name) \(.kind) namespaced=\(.namespaced)"'

step "read: the default namespace"
ns=$(curl -fsS "$SERVER/api/v1/namespaces/default")
echo "$ns" | jq -c '{kind, name: .metadata.name, resourceVersion: .metadata.resourceVersion}'

step "read, modify, write: annotate it with a PUT of the whole object"
stamp=$(date -u +%Y-%m-%dT%H:%M:%SZ)
echo "$ns" | jq --arg stamp "$stamp" '.metadata.annotations.workshop = $stamp' |
  curl -fsS -H 'Content-Type: application/json' -X PUT -d @- "$SERVER/api/v1/namespaces/default" |
  jq -r '"annotation workshop=\(.metadata.annotations.workshop), resourceVersion \(.metadata.resourceVersion)"'

step "optimistic concurrency: the same PUT from the stale copy is refused"
answer=$(echo "$ns" | jq '.metadata.annotations.workshop = "stale"' |
  curl -sS -w '\n%{http_code}' -H 'Content-Type: application/json' -X PUT -d @- "$SERVER/api/v1/namespaces/default")
code=$(tail -n1 <<<"$answer")
echo "HTTP $code: $(head -n -1 <<<"$answer" | jq -r '"\(.reason): \(.message)"')"
[ "$code" = 409 ]

step "watch: ConfigMap events from now on, as a stream"
rv=$(curl -fsS "$SERVER/api/v1/namespaces/default/configmaps" | jq -r '.metadata.resourceVersion')
events=$(mktemp)
trap 'rm -f "$events"' EXIT
curl -sSN --max-time 3 "$SERVER/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=$rv" >"$events" || true &
watcher=$!
sleep 0.5
curl -fsS -H 'Content-Type: application/json' -X POST "$SERVER/api/v1/namespaces/default/configmaps" \
  -d '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"workshop-curl"},"data":{"hello":"world"}}' >/dev/null
curl -fsS -H 'Content-Type: application/merge-patch+json' -X PATCH "$SERVER/api/v1/namespaces/default/configmaps/workshop-curl" \
  -d '{"data":{"hello":"again"}}' >/dev/null
curl -fsS -X DELETE "$SERVER/api/v1/namespaces/default/configmaps/workshop-curl" >/dev/null
wait "$watcher" || true
jq -r '"\(.type) \(.object.metadata.name) hello=\(.object.data.hello)"' <"$events"
