package syncer

import (
	"context"
	"fmt"
	"strconv"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"kubicle.dev/kubicle/internal/syncer/translate"
)

// tokenIssuedAt records on a host token Secret when its tokens were issued, so the
// syncer renews them at 80% of their lifetime, as the kubelet does.
const tokenIssuedAt = "kubicle.dev/tokens-issued-at"

// ensureTokens issues the pod's service-account tokens from the virtual API server
// (bound to the virtual pod, so they die with it) and stores them in the host Secret
// the host pod mounts. In-pod clients thereby authenticate to the virtual cluster.
func (r *podReconciler) ensureTokens(ctx context.Context, pod *corev1.Pod) error {
	reqs := translate.PodTokens(pod)
	if len(reqs) == 0 {
		return nil
	}
	key := types.NamespacedName{Namespace: r.cfg.HostNamespace, Name: translate.PodTokenSecretName(r.cfg.Name, pod.Namespace, pod.Name)}
	existing := &corev1.Secret{}
	err := r.host.GetCache().Get(ctx, key, existing)
	found := err == nil
	if found && !tokensStale(existing, reqs) {
		return nil
	}
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: pod.Namespace, Name: serviceAccountOf(pod)}}
	tokens := map[string][]byte{}
	for _, req := range reqs {
		tr := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
			ExpirationSeconds: &req.ExpirationSeconds,
			BoundObjectRef:    &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID},
		}}
		if req.Audience != "" {
			tr.Spec.Audiences = []string{req.Audience}
		}
		if err := r.mgr.GetClient().SubResource("token").Create(ctx, sa, tr); err != nil {
			return fmt.Errorf("token for service account %s/%s: %w", sa.Namespace, sa.Name, err)
		}
		tokens[req.Key] = []byte(tr.Status.Token)
	}
	secret, err := translate.PodTokenSecret(pod, r.target, tokens)
	if err != nil {
		return err
	}
	secret.Annotations[tokenIssuedAt] = strconv.FormatInt(time.Now().Unix(), 10)
	if !found {
		if err := r.hostAPI.Create(ctx, secret, FieldOwner); err == nil || !apierrors.IsAlreadyExists(err) {
			return err
		}
		if err := r.hostAPI.Get(ctx, key, existing); err != nil {
			return err
		}
	}
	existing.Data = secret.Data
	existing.Annotations = secret.Annotations
	return r.hostAPI.Update(ctx, existing, FieldOwner)
}

// tokensStale reports whether a token Secret lacks a key or is past 80% of the
// shortest lifetime asked for.
func tokensStale(s *corev1.Secret, reqs []translate.TokenRequest) bool {
	issued, err := strconv.ParseInt(s.Annotations[tokenIssuedAt], 10, 64)
	if err != nil {
		return true
	}
	for _, req := range reqs {
		if _, ok := s.Data[req.Key]; !ok {
			return true
		}
		if time.Since(time.Unix(issued, 0)) > time.Duration(req.ExpirationSeconds)*time.Second*8/10 {
			return true
		}
	}
	return false
}

// tokenRefreshAfter is when a pod's tokens need renewing; 0 when it has none.
func tokenRefreshAfter(pod *corev1.Pod) time.Duration {
	var shortest int64
	for _, req := range translate.PodTokens(pod) {
		if shortest == 0 || req.ExpirationSeconds < shortest {
			shortest = req.ExpirationSeconds
		}
	}
	return time.Duration(shortest) * time.Second * 8 / 10
}

func serviceAccountOf(pod *corev1.Pod) string {
	if pod.Spec.ServiceAccountName != "" {
		return pod.Spec.ServiceAccountName
	}
	return "default"
}
