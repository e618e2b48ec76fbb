#!/usr/bin/env bash
# The workshop's "deploy your controller in the cluster" scenario against `kubeforge up`: the
# generated manifests (ServiceAccount, least-privilege RBAC, Deployment), then what the
# ServiceAccount may and may not do, checked by impersonating it (`--as`), which is exactly how
# the API server will judge the Pod's in-cluster token.
#
#   kubeforge up &
#   export KUBECONFIG=.kubeforge/kubeconfig
#   examples/deploy-in-cluster.sh        # KUBEFORGE=path/to/kubeforge KUBECTL=kubectl by default
#
# crates/cli/tests/scripts.rs runs it against an in-process server.
set -euo pipefail
KUBEFORGE=${KUBEFORGE:-kubeforge}
KUBECTL=${KUBECTL:-kubectl}
SA=system:serviceaccount:kubeforge-system:kubeforge-foo
step() { printf '\n== %s\n' "$*"; }

step "apply what the Foo operator needs in a cluster"
"$KUBEFORGE" manifests --operator foo | "$KUBECTL" apply --server-side -f -
"$KUBECTL" wait --for=condition=Established crd/foos.samplecontroller.k8s.io --timeout=30s

step "its identity: a ServiceAccount, bound to a ClusterRole derived from the controller"
"$KUBECTL" get serviceaccount kubeforge-foo -n kubeforge-system -o name
"$KUBECTL" get clusterrole kubeforge-foo -o jsonpath='{range .rules[*]}{.apiGroups[0]}/{.resources}: {.verbs}{"\n"}{end}'

step "what it may do (impersonated)"
for check in "watch foos.samplecontroller.k8s.io" "patch foos.samplecontroller.k8s.io --subresource=status" \
             "create deployments.apps" "create events.events.k8s.io" \
             "update leases.coordination.k8s.io -n kubeforge-system"; do
  # shellcheck disable=SC2086
  printf '%-70s %s\n' "can-i $check" "$("$KUBECTL" auth can-i $check --as "$SA" || true)"
done

step "what it may not do"
for check in "delete namespaces" "get secrets" "update leases.coordination.k8s.io -n default"; do
  # shellcheck disable=SC2086
  printf '%-70s %s\n' "can-i $check" "$("$KUBECTL" auth can-i $check --as "$SA" || true)"
done

step "acting as it: reading Foos works, reading Secrets is refused"
"$KUBECTL" get foos -A --as "$SA" -o name
if "$KUBECTL" get secrets -n default --as "$SA" 2>&1; then exit 1; fi

step "its Deployment (the Pod runs \`kubeforge run --operators foo\` with that ServiceAccount)"
"$KUBECTL" get deployment kubeforge-foo -n kubeforge-system -o jsonpath='{.spec.template.spec.serviceAccountName} {.spec.template.spec.containers[0].args}{"\n"}'
