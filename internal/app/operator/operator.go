// Package operator implements `kubicle operator`: the controller that
// reconciles VirtualCluster objects on the host (see internal/operator).
package operator

import (
	"github.com/spf13/cobra"

	"kubicle.dev/kubicle/internal/app/cli"
	"kubicle.dev/kubicle/internal/operator"
)

// NewCommand returns the operator command.
func NewCommand(_ cli.Streams) *cobra.Command {
	o := operator.NewOptions()
	cmd := &cobra.Command{
		Use:   "operator",
		Short: "Reconcile VirtualCluster objects on the host cluster (GitOps)",
		Long: `Run the operator: it watches VirtualCluster objects (kubicle.dev/v1alpha1) on the host
cluster and gives each one what ` + "`kubicle create -f`" + ` would: host objects, a control plane
(driver pod: a StatefulSet; driver process: a local process of this machine), an exported
kubeconfig and a status with conditions. Deleting an object stops its control plane and
removes its host objects, as ` + "`kubicle delete`" + ` does.

The CRD must be installed first: kubectl apply -f charts/kubicle/crds/ (the Helm chart
charts/kubicle installs it and runs the operator as a Deployment).`,
		Example: `  kubicle operator --kubeconfig host.kubeconfig
  kubicle operator --leader-elect --health-probe-bind-address :8081 --metrics-bind-address :8080`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			op, err := operator.New(cmd.Context(), *o)
			if err != nil {
				return err
			}
			return op.Run(cmd.Context())
		},
	}
	o.AddFlags(cmd.Flags())
	return cmd
}
