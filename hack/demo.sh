#!/usr/bin/env bash
# The newcomer's tour, end to end on the embedded default: an embedded host with a GPU
# node, a Deployment that runs on it, a virtual control plane next to it, kubectl
# against both. Everything lives in a temporary directory and is stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
kubicle=$PWD/bin/kubicle
kubectl=$PWD/bin/kubectl
work=$(mktemp -d)
export KUBECONFIG=$work/kubeconfig
cp_pid=""
cleanup() {
  [ -n "$cp_pid" ] && kill "$cp_pid" 2>/dev/null && wait "$cp_pid" 2>/dev/null || true
  "$kubicle" host --state-dir "$work/host" down >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "kubicle host up --detach --nodes 2 --gpu-nodes 1 --gpus-per-node 8"
"$kubicle" host --state-dir "$work/host" up --detach --nodes 2 --gpu-nodes 1 --gpus-per-node 8

step "kubectl get nodes"
"$kubectl" get nodes -L nvidia.com/gpu.product
"$kubectl" get node kubicle-gpu-0 -o jsonpath='GPU node allocatable: {.status.allocatable}{"\n"}'

step "kubectl create deployment web --image=nginx --replicas=3"
"$kubectl" create deployment web --image=nginx --replicas=3
"$kubectl" rollout status deployment/web --timeout=90s
pod=$("$kubectl" get pods -l app=web -o name | head -1)
"$kubectl" logs "$pod"

step "kubicle control-plane (a virtual cluster's control plane)"
"$kubicle" control-plane --data-dir "$work/vc" >"$work/vc.log" 2>&1 &
cp_pid=$!
for _ in $(seq 1 100); do
  [ -f "$work/vc/kubeconfig" ] && "$kubectl" --kubeconfig "$work/vc/kubeconfig" get --raw /readyz >/dev/null 2>&1 && break
  sleep 0.2
done
"$kubectl" --kubeconfig "$work/vc/kubeconfig" version
"$kubectl" --kubeconfig "$work/vc/kubeconfig" create namespace team-a
"$kubectl" --kubeconfig "$work/vc/kubeconfig" get namespaces

step "done: stopping everything"
