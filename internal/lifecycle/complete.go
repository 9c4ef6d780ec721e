package lifecycle

import (
	"context"
	"slices"
	"strings"
	"time"
)

// completionTimeout bounds shell completion, which must never hang a
// user's shell on an unreachable host.
const completionTimeout = 3 * time.Second

// CompleteNames returns the names of the virtual clusters on the host that
// start with prefix, in namespace when it is not empty, for shell
// completion. Errors give no names.
func CompleteNames(ctx context.Context, o HostOptions, namespace, prefix string) []string {
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, completionTimeout)
	defer cancel()
	h, err := ResolveHost(o)
	if err != nil {
		return nil
	}
	h.Config.Timeout = completionTimeout
	if err := h.Check(ctx); err != nil {
		return nil
	}
	recs, err := listRecords(ctx, h, namespace, "", nil)
	if err != nil {
		return nil
	}
	var names []string
	for _, r := range recs {
		if strings.HasPrefix(r.VC.Name, prefix) && !slices.Contains(names, r.VC.Name) {
			names = append(names, r.VC.Name)
		}
	}
	slices.Sort(names)
	return names
}
