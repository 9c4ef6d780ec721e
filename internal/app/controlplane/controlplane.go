// Package controlplane implements `kubicle control-plane`, which serves one virtual
// cluster (or any standalone control plane) from a data directory.
package controlplane

import (
	"fmt"
	"github.com/spf13/cobra"
	"k8s.io/component-base/metrics/legacyregistry"
	"os"

	"kubicle.dev/kubicle/internal/app/cli"
	"kubicle.dev/kubicle/internal/config"
	cp "kubicle.dev/kubicle/internal/controlplane"
	"kubicle.dev/kubicle/internal/memlimit"
)

// NewCommand returns the control-plane command.
func NewCommand(streams cli.Streams) *cobra.Command {
	opts := cp.NewOptions()
	var configFile string
	idleTrim := true
	cmd := &cobra.Command{
		Use:   "control-plane --data-dir DIR",
		Short: "Run a control plane (kube-apiserver, controllers, store) in this process",
		Long: `Run one Kubernetes control plane in this process: kube-apiserver, kube-controller-manager,
optionally kube-scheduler, and its store (kine on SQLite in DIR/db by default).

Certificates are created in DIR/pki on first start and reused afterwards; the admin
kubeconfig is written to DIR/kubeconfig. All state stays in DIR, so a restart, even after
kill -9, keeps every object. SIGTERM stops it cleanly.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// A DSN carries a password: a pod gets it from a Secret through the
			// environment, never on its command line.
			if dsn := os.Getenv(cp.DatastoreEndpointEnv); dsn != "" && !cmd.Flags().Changed("datastore-endpoint") {
				opts.StoreEndpoint = dsn
				_ = cmd.Flags().Set("datastore-endpoint", dsn)
			}
			if configFile != "" {
				vc, err := config.LoadFile(configFile)
				if err != nil {
					return err
				}
				opts.ApplyConfig(vc, cmd.Flags().Changed)
			}
			completed, err := opts.Complete()
			if err != nil {
				return err
			}
			server := cp.New(completed)
			memlimit.Tune(cmd.Context(), memlimit.GCPercentControlPlane, server.Ready(), idleTrim, legacyregistry.Registerer())
			go func() {
				select {
				case <-server.Ready():
					fmt.Fprintf(streams.ErrOut, "Control plane ready at %s\nkubeconfig: %s\n", server.AdminConfig().Host, completed.KubeconfigPath())
				case <-cmd.Context().Done():
				}
			}()
			return server.Run(cmd.Context())
		},
	}
	opts.AddFlags(cmd.Flags())
	cmd.Flags().BoolVar(&idleTrim, "idle-memory-trim", idleTrim, "While the control plane is idle, hold its Go heap near the live heap and return free memory to the OS")
	cmd.Flags().StringVar(&configFile, "config", "", "VirtualCluster file (kubicle.dev/v1alpha1) to serve; flags given explicitly win over it")
	_ = cmd.MarkFlagRequired("data-dir")
	return cmd
}
