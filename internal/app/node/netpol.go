package node

import (
	"context"
	"fmt"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/cloudnativelabs/kube-router/v2/pkg/controllers/netpol"
	"github.com/cloudnativelabs/kube-router/v2/pkg/healthcheck"
	"github.com/cloudnativelabs/kube-router/v2/pkg/options"
	"github.com/spf13/pflag"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// runNetpol runs kube-router's network policy controller, the enforcer k3s embeds,
// unchanged: it turns the host's NetworkPolicies into iptables rules and ipsets for
// the pods whose host IP is the node's. The real nodes share one network namespace
// and one node address, so one controller covers every pod of the machine. With
// --cleanup it removes what the controller programmed and exits.
func runNetpol(args []string) error {
	fs := pflag.NewFlagSet("netpol", pflag.ContinueOnError)
	kubeconfig := fs.String("kubeconfig", "", "Kubeconfig of the cluster")
	node := fs.String("hostname-override", "", "Name of the node whose address the pods carry as host IP")
	serviceCIDR := fs.String("service-cluster-ip-range", "10.96.0.0/12", "The cluster's Service address range")
	cleanup := fs.Bool("cleanup", false, "Remove the controller's iptables rules and ipsets, and exit")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *kubeconfig == "" || *node == "" {
		return fmt.Errorf("--kubeconfig and --hostname-override are required")
	}
	cfg := options.NewKubeRouterConfig()
	cfg.RunFirewall, cfg.RunRouter, cfg.RunServiceProxy = true, false, false
	cfg.EnableIPv4, cfg.EnableIPv6 = true, false
	cfg.HostnameOverride = *node
	cfg.ClusterIPCIDRs = []string{*serviceCIDR}
	// A policy change is applied at once through the informers; the periodic full
	// sync only repairs rules changed behind the controller's back.
	cfg.IPTablesSyncPeriod = time.Minute

	rest, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		return fmt.Errorf("kubeconfig %s: %w", *kubeconfig, err)
	}
	client, err := kubernetes.NewForConfig(rest)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	// The controller reads its node's address when it is made, and the kubelet
	// registers the node a moment after it starts: wait for it.
	if !*cleanup {
		if err := waitForNode(ctx, client, *node); err != nil {
			return err
		}
	}
	factory := informers.NewSharedInformerFactory(client, 0)
	pods := factory.Core().V1().Pods().Informer()
	policies := factory.Networking().V1().NetworkPolicies().Informer()
	namespaces := factory.Core().V1().Namespaces().Informer()
	iptables, ipsets, err := netpol.NewIPTablesHandlers(cfg)
	if err != nil {
		return fmt.Errorf("iptables and ipset handlers: %w", err)
	}
	npc, err := netpol.NewNetworkPolicyController(client, cfg, pods, policies, namespaces, &sync.Mutex{}, iptables, ipsets)
	if err != nil {
		return fmt.Errorf("network policy controller: %w", err)
	}
	if *cleanup {
		npc.Cleanup()
		return nil
	}
	if _, err := pods.AddEventHandler(npc.PodEventHandler); err != nil {
		return err
	}
	if _, err := namespaces.AddEventHandler(npc.NamespaceEventHandler); err != nil {
		return err
	}
	if _, err := policies.AddEventHandler(npc.NetworkPolicyEventHandler); err != nil {
		return err
	}
	factory.Start(ctx.Done())
	if !cacheSynced(factory.WaitForCacheSync(ctx.Done())) {
		return fmt.Errorf("the informers of pods, network policies and namespaces did not sync")
	}
	health := make(chan *healthcheck.ControllerHeartbeat, 16)
	go func() {
		for range health { // heartbeats have no reader but the buffer
		}
	}()
	var wg sync.WaitGroup
	wg.Add(1)
	go npc.Run(health, ctx.Done(), &wg)
	<-ctx.Done()
	wg.Wait()
	return nil
}

func cacheSynced[K comparable](synced map[K]bool) bool {
	for _, ok := range synced {
		if !ok {
			return false
		}
	}
	return true
}

// nodeWait is how long the controller waits for its node to be registered.
const nodeWait = 2 * time.Minute

// waitForNode waits until node exists in the cluster, ctx ends or nodeWait passes.
func waitForNode(ctx context.Context, client kubernetes.Interface, node string) error {
	ctx, cancel := context.WithTimeout(ctx, nodeWait)
	defer cancel()
	var last error
	for {
		_, err := client.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		if err == nil {
			return nil
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("node %s was not registered within %s: %w", node, nodeWait, last)
		case <-time.After(500 * time.Millisecond):
		}
	}
}
