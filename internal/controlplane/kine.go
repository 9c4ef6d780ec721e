package controlplane

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"sync"
	"time"

	"github.com/k3s-io/kine/pkg/drivers"
	// The kine drivers kubicle offers: SQLite (the default store) and the PostgreSQL
	// and MySQL databases of the database store. kine's endpoint package would link
	// every driver it has (NATS, t4 with Pebble and an S3 client, …): ~9 MB more of
	// binary mapped into every control plane, for stores kubicle does not offer.
	_ "github.com/k3s-io/kine/pkg/drivers/mysql"
	_ "github.com/k3s-io/kine/pkg/drivers/pgsql"
	_ "github.com/k3s-io/kine/pkg/drivers/sqlite"
	"github.com/k3s-io/kine/pkg/server"
	"go.etcd.io/etcd/server/v3/embed"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"
	"k8s.io/klog/v2"
)

// kineGracefulStop bounds how long kine's gRPC server waits for the API server's
// streams (watches) to end before it closes them.
const kineGracefulStop = 2 * time.Second

// kineOptions are what serveKine needs: the driver's settings and the socket.
type kineOptions struct {
	driver drivers.Config
	// socket is the unix socket path the etcd API is served on.
	socket string
	// notifyInterval and emulatedVersion are what kine's etcd API reports to clients.
	notifyInterval  time.Duration
	emulatedVersion string
}

// serveKine serves the etcd API of a kine backend on a unix socket until ctx is
// cancelled. It returns the client URL once the socket accepts connections; wg is
// done when the server and the backend have stopped.
func serveKine(ctx context.Context, wg *sync.WaitGroup, o kineOptions) (url string, err error) {
	// The backend outlives ctx until the gRPC server has drained.
	backendCtx, stopBackend := context.WithCancel(context.Background())
	defer func() {
		if err != nil {
			stopBackend()
		}
	}()
	_, backend, err := drivers.New(backendCtx, wg, &o.driver)
	if errors.Is(err, drivers.ErrUnknownDriver) {
		return "", fmt.Errorf("no kine driver for %q data source names", o.driver.Scheme)
	}
	if err != nil {
		return "", err
	}
	if err := backend.Start(backendCtx); err != nil {
		return "", fmt.Errorf("starting kine backend: %w", err)
	}
	grpcServer := newKineGRPCServer()
	server.New(backend, "unix", o.notifyInterval, o.emulatedVersion).Register(grpcServer)
	if err := os.Remove(o.socket); err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("removing stale socket: %w", err)
	}
	ln, err := net.Listen("unix", o.socket)
	if err != nil {
		return "", err
	}
	if err := os.Chmod(o.socket, 0o600); err != nil {
		_ = ln.Close()
		return "", err
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := grpcServer.Serve(ln); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			klog.FromContext(ctx).Error(err, "kine gRPC server stopped")
		}
	}()
	go func() {
		<-ctx.Done()
		timer := time.AfterFunc(kineGracefulStop, grpcServer.Stop)
		grpcServer.GracefulStop()
		timer.Stop()
		stopBackend()
	}()
	return "unix://" + o.socket, nil
}

// newKineGRPCServer returns a gRPC server with etcd's own limits and keepalive
// settings, as kine's endpoint package configures it.
func newKineGRPCServer() *grpc.Server {
	return grpc.NewServer(
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: embed.DefaultGRPCKeepAliveMinTime}),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: embed.DefaultGRPCKeepAliveInterval, Timeout: embed.DefaultGRPCKeepAliveTimeout}),
		grpc.MaxConcurrentStreams(embed.DefaultMaxConcurrentStreams),
		// A request may be as large as etcd allows plus gRPC's framing; responses
		// (lists) are not bounded.
		grpc.MaxRecvMsgSize(int(embed.DefaultMaxRequestBytes)+512*1024),
		grpc.MaxSendMsgSize(math.MaxInt32),
	)
}
