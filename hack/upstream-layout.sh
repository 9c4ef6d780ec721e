#!/usr/bin/env bash
# Measures the upstream-style layout of the parts kubicle runs in one process: kine
# (SQLite), kube-apiserver and kube-controller-manager as three processes, with the same
# flags and certificates as `kubicle control-plane`. It prints, as kubicle's benchmarks
# do, the median time from start to /readyz ok over RUNS fresh starts, and the RSS of
# each process 60 s after ready (the controller manager starts at ready, as in kubicle).
#
#   hack/upstream-layout.sh            # RUNS=5
#
# kube-apiserver and kube-controller-manager are built from the Kubernetes module in
# go.mod; kine from its own module (v0.17.5, the version go.mod pins) in a temporary
# module, which needs the Go module proxy. Binaries go to bin/upstream/.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
IDLE=${IDLE:-60}
out=bin/upstream
mkdir -p "$out"
ldflags="-X k8s.io/component-base/version.gitVersion=v1.37.2 -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=37"
[ -x "$out/kube-apiserver" ] || go build -ldflags "$ldflags" -o "$out/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver
[ -x "$out/kube-controller-manager" ] || go build -ldflags "$ldflags" -o "$out/kube-controller-manager" k8s.io/kubernetes/cmd/kube-controller-manager
if [ ! -x "$out/kine" ]; then
	kv=$(go list -m -f '{{.Version}}' github.com/k3s-io/kine)
	tmp=$(mktemp -d)
	(cd "$tmp" && go mod init kinebuild >/dev/null 2>&1 && GOFLAGS=-mod=mod go get "github.com/k3s-io/kine@$kv" >/dev/null 2>&1 &&
		GOFLAGS=-mod=mod go build -o "$OLDPWD/$out/kine" github.com/k3s-io/kine)
	rm -rf "$tmp"
fi
[ -x bin/kubicle ] || make build

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

# Certificates and the admin kubeconfig, made by kubicle itself once.
port=$((30000 + RANDOM % 20000))
./bin/kubicle control-plane --data-dir "$work/pki-src" --listen "127.0.0.1:$port" >"$work/kubicle.log" 2>&1 &
kp=$!
until curl -sk --max-time 1 "https://127.0.0.1:$port/readyz" 2>/dev/null | grep -qx ok; do sleep 0.1; done
kill "$kp"; wait "$kp" || true
pki=$work/pki-src/pki


rss() { awk '/^VmRSS/ {print $2/1024}' "/proc/$1/status"; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

: >"$work/ready"; : >"$work/rss"
for r in $(seq "$RUNS"); do
	d=$work/run$r
	mkdir -p "$d"
	kport=$((port + r))
	start=$(date +%s.%N)
	./$out/kine --endpoint "sqlite://$d/state.db?_journal=WAL&cache=shared&_busy_timeout=30000&_txlock=immediate" \
		--listen-address "127.0.0.1:$kport" >"$d/kine.log" 2>&1 &
	kine=$!
	pids+=("$kine")
	./$out/kube-apiserver --etcd-servers="http://127.0.0.1:$kport" --bind-address=127.0.0.1 --secure-port="$port" \
		--tls-cert-file="$pki/apiserver.crt" --tls-private-key-file="$pki/apiserver.key" --client-ca-file="$pki/ca.crt" \
		--service-account-key-file="$pki/sa.pub" --service-account-signing-key-file="$pki/sa.key" \
		--service-account-issuer=https://kubernetes.default.svc.cluster.local --authorization-mode=Node,RBAC \
		--service-cluster-ip-range=10.96.0.0/12 --allow-privileged=true --endpoint-reconciler-type=none \
		--requestheader-client-ca-file="$pki/front-proxy-ca.crt" --requestheader-allowed-names=front-proxy-client \
		--requestheader-extra-headers-prefix=X-Remote-Extra- --requestheader-group-headers=X-Remote-Group \
		--requestheader-username-headers=X-Remote-User --proxy-client-cert-file="$pki/front-proxy-client.crt" \
		--proxy-client-key-file="$pki/front-proxy-client.key" --profiling=false >"$d/apiserver.log" 2>&1 &
	api=$!
	pids+=("$api")
	until curl -sk --max-time 1 "https://127.0.0.1:$port/readyz" 2>/dev/null | grep -qx ok; do
		kill -0 "$api" 2>/dev/null || { echo "kube-apiserver exited:"; tail -20 "$d/apiserver.log"; exit 1; }
		sleep 0.05
	done
	echo "$(date +%s.%N) - $start" | bc >>"$work/ready"
	./$out/kube-controller-manager --kubeconfig="$pki/controller-manager.kubeconfig" --secure-port=0 --leader-elect=false \
		--controllers='*,-node-ipam-controller,-node-lifecycle-controller,-taint-eviction-controller,-device-taint-eviction-controller,-persistentvolume-binder-controller,-persistentvolume-attach-detach-controller,-persistentvolume-expander-controller,-pod-garbage-collector-controller,-ttl-controller' \
		--use-service-account-credentials=true --service-account-private-key-file="$pki/sa.key" --root-ca-file="$pki/ca.crt" \
		--cluster-signing-cert-file="$pki/ca.crt" --cluster-signing-key-file="$pki/ca.key" \
		--service-cluster-ip-range=10.96.0.0/12 --profiling=false >"$d/kcm.log" 2>&1 &
	kcm=$!
	pids+=("$kcm")
	sleep "$IDLE"
	echo "$(rss "$kine") $(rss "$api") $(rss "$kcm")" >>"$work/rss"
	kill "$kcm" "$api"; wait "$kcm" "$api" 2>/dev/null || true
	kill "$kine"; wait "$kine" 2>/dev/null || true
	pids=()
done

echo "upstream-style layout, $RUNS fresh starts, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "start (kine + kube-apiserver) → /readyz ok: median $(median <"$work/ready") s ($(sort -n "$work/ready" | tr '\n' ' '))"
echo "RSS ${IDLE} s after ready, MB: kine $(awk '{print $1}' "$work/rss" | median), kube-apiserver $(awk '{print $2}' "$work/rss" | median), kube-controller-manager $(awk '{print $3}' "$work/rss" | median), total $(awk '{print $1+$2+$3}' "$work/rss" | median)"
