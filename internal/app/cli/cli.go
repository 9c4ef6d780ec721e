// Package cli holds what every kubicle command shares: its IO streams and the log
// setup. Commands write results to Out, progress and diagnostics to ErrOut.
package cli

import (
	"flag"
	"io"
	"os"

	"github.com/sirupsen/logrus"
	"github.com/spf13/pflag"
	"k8s.io/klog/v2"
)

// Streams are a command's standard streams.
type Streams struct {
	// In is standard input.
	In io.Reader
	// Out receives results.
	Out io.Writer
	// ErrOut receives progress, warnings and logs.
	ErrOut io.Writer
}

// Std returns the process's standard streams.
func Std() Streams { return Streams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr} }

// AddLogFlags adds -v (klog verbosity) to fs.
func AddLogFlags(fs *pflag.FlagSet) {
	gfs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(gfs)
	fs.AddGoFlag(gfs.Lookup("v"))
	fs.Lookup("v").Shorthand = "v"
	fs.Lookup("v").Usage = "Log verbosity of the embedded Kubernetes components (0–10)"
}

// LogTo sends every log line of the embedded components (klog, and logrus for kine)
// to w, and nothing to stderr.
func LogTo(w io.Writer) {
	gfs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(gfs)
	_ = gfs.Set("logtostderr", "false")
	_ = gfs.Set("alsologtostderr", "false")
	_ = gfs.Set("stderrthreshold", "FATAL")
	// Each line once, at its own severity; otherwise an error is written three times
	// (to the INFO, WARNING and ERROR outputs, which are all w).
	_ = gfs.Set("one_output", "true")
	klog.SetOutput(w)
	logrus.SetOutput(w)
}
