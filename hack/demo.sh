#!/usr/bin/env bash
# The newcomer's tour, end to end on the embedded default: an embedded host with a GPU
# node; a virtual cluster on it; a Deployment and a Service created in the virtual
# cluster with plain kubectl, running on the host's nodes; logs and exec through the
# virtual cluster; the host's view of the same; delete. Everything lives in a temporary
# directory (your own kubeconfig is not touched) and is stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
kubicle=$PWD/bin/kubicle
kubectl=$PWD/bin/kubectl
work=$(mktemp -d)
export KUBECONFIG=$work/kubeconfig KUBICLE_STATE_DIR=$work/state
cleanup() {
  "$kubicle" delete demo --context kubicle-host >/dev/null 2>&1 || true
  "$kubicle" host --state-dir "$work/host" down >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "kubicle host up --detach --nodes 2 --gpu-nodes 1 --gpus-per-node 8"
"$kubicle" host --state-dir "$work/host" up --detach --nodes 2 --gpu-nodes 1 --gpus-per-node 8
"$kubectl" get nodes -L nvidia.com/gpu.product

step "kubicle create demo   (a virtual cluster on the host; its context becomes current)"
"$kubicle" create demo
"$kubicle" list

step "kubectl in the virtual cluster: a Deployment and a Service"
"$kubectl" create deployment web --image=nginx --replicas=3
"$kubectl" expose deployment web --port 80
"$kubectl" rollout status deployment/web --timeout=90s
"$kubectl" get pods,svc -o wide
"$kubectl" get nodes
pod=pod/$("$kubectl" get pods -l app=web -o jsonpath='{.items[0].metadata.name}')
"$kubectl" logs "$pod"
"$kubectl" exec "$pod" -- echo "hello from exec through the virtual cluster"

step "the host's view: the same pods and service, translated, in the host namespace"
"$kubectl" --context kubicle-host get namespaces
ns=$("$kubectl" --context kubicle-host get ns -l kubicle.dev/vcluster=demo -o jsonpath='{.items[0].metadata.name}')
"$kubectl" --context kubicle-host -n "$ns" get pods,svc -o wide

step "kubicle delete demo"
"$kubicle" delete demo
"$kubectl" --context kubicle-host get namespaces
