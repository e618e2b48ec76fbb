#!/usr/bin/env bash
# The GopherCon workshop's CRD YAML scenario: a CRD applied with kubectl, its names accepted and
# established, a custom resource defaulted and validated by the API server, printer columns,
# and the status subresource (status is written only through it).
#
#   kubeforge up &
#   export KUBECONFIG=.kubeforge/kubeconfig
#   examples/crd-yaml.sh                  # KUBECTL=kubectl by default
#
# crates/cli/tests/scripts.rs runs it against an in-process server.
set -euo pipefail
KUBECTL=${KUBECTL:-kubectl}
DIR=$(cd "$(dirname "$0")" && pwd)/crd
step() { printf '\n== %s\n' "$*"; }

step "apply the CRD and wait until it is served"
"$KUBECTL" apply -f "$DIR/containerimagepolicy-crd.yaml"
"$KUBECTL" wait --for=condition=Established crd/containerimagepolicies.policy.k8s-go.openshift.org --timeout=30s
"$KUBECTL" get crd containerimagepolicies.policy.k8s-go.openshift.org \
  -o jsonpath='{range .status.conditions[*]}{.type}={.status} ({.reason}){"\n"}{end}'
"$KUBECTL" api-resources --api-group=policy.k8s-go.openshift.org

step "a valid policy: defaults filled in by the server"
"$KUBECTL" apply -f "$DIR/containerimagepolicy.yaml"
"$KUBECTL" get cip explicit-registry -o jsonpath='action={.spec.action} labels.pods={.spec.labels.pods}{"\n"}'

step "an invalid policy: refused by the schema"
if "$KUBECTL" apply -f "$DIR/containerimagepolicy-invalid.yaml" 2>&1; then exit 1; fi

step "status through its subresource only"
"$KUBECTL" patch cip explicit-registry --type merge -p '{"status":{"statistics":{"pods":{"failed":7}}}}' >/dev/null
echo "after patching the main resource: failed=$("$KUBECTL" get cip explicit-registry -o jsonpath='{.status.statistics.pods.failed}')"
"$KUBECTL" patch cip explicit-registry --subresource=status --type merge \
  -p '{"status":{"statistics":{"pods":{"failed":2,"passed":5}}}}' >/dev/null
echo "after patching status: failed=$("$KUBECTL" get cip explicit-registry -o jsonpath='{.status.statistics.pods.failed}')"

step "printer columns (kubectl get asks for a Table)"
"$KUBECTL" get policies

step "clean up"
"$KUBECTL" delete -f "$DIR/containerimagepolicy-crd.yaml" --wait=true
