// Command mkimage builds kubicle's container images as OCI image-layout
// tarballs, without Docker or a registry: the kubicle image itself and the
// pause, busybox and agnhost images that real nodes of the embedded host need
// and cannot pull. `make image` and `make images` run it (docs/images.md):
//
//	mkimage kubicle -o bin/images/kubicle.tar -binary bin/kubicle-static -ca-bundle /etc/ssl/certs/ca-certificates.crt
//	mkimage pause   -o bin/images/pause.tar   -binary bin/pause
//	mkimage busybox -o bin/images/busybox.tar -busybox /bin/busybox
//	mkimage agnhost -o bin/images/agnhost.tar -binary bin/agnhost -busybox /bin/busybox -source DIR
//	mkimage kubectl -o bin/images/kubectl.tar -binary bin/kubectl-static -busybox /bin/busybox -version v1.37.2
//
// The same inputs give the same bytes. Timestamps are SOURCE_DATE_EPOCH when
// it is set, else the Unix epoch. It prints the tarball, image name and
// digest it wrote.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"kubicle.dev/kubicle/internal/image"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "mkimage:", err)
		os.Exit(1)
	}
}

// inputs are the files and values an image is made of, from the flags.
type inputs struct {
	binary, caBundle, busybox, source, version string
}

// recipe makes one kind of image: its spec and default name from inputs.
type recipe func(in inputs) (spec image.Spec, ref string, err error)

// recipes are the images mkimage knows, by the name given as its first
// argument.
var recipes = map[string]recipe{
	"kubicle": kubicle,
	"pause":   pause,
	"busybox": busybox,
	"agnhost": agnhost,
	"kubectl": kubectl,
}

func run(args []string, out io.Writer, getenv func(string) string) error {
	if len(args) == 0 || recipes[args[0]] == nil {
		return fmt.Errorf("usage: mkimage %s -o FILE [flags]", strings.Join(kinds(), "|"))
	}
	kind := args[0]
	fl := flag.NewFlagSet("mkimage "+kind, flag.ContinueOnError)
	output := fl.String("o", "", "the tarball to write (required)")
	ref := fl.String("name", "", "the image's full name with a tag (default: the kind's kubicle.dev name)")
	var in inputs
	fl.StringVar(&in.binary, "binary", "", "the program of a kubicle, pause, agnhost or kubectl image")
	fl.StringVar(&in.caBundle, "ca-bundle", "", "the CA certificates of the kubicle image (Debian's ca-certificates package)")
	fl.StringVar(&in.busybox, "busybox", "", "the static busybox of a busybox, agnhost or kubectl image (Debian's busybox-static package)")
	fl.StringVar(&in.source, "source", "", "agnhost's source directory in the Kubernetes module (VERSION, porter/)")
	fl.StringVar(&in.version, "version", "", "the kubicle version, for the image's label; kubectl's version, the kubectl image's tag")
	if err := fl.Parse(args[1:]); err != nil {
		return err
	}
	if *output == "" || fl.NArg() > 0 {
		return fmt.Errorf("usage: mkimage %s -o FILE [flags]", kind)
	}
	created, err := sourceDateEpoch(getenv("SOURCE_DATE_EPOCH"))
	if err != nil {
		return err
	}
	spec, defaultRef, err := recipes[kind](in)
	if err != nil {
		return fmt.Errorf("%s image: %w", kind, err)
	}
	if *ref == "" {
		*ref = defaultRef
	}
	spec.Created = created
	img, err := image.Build(spec)
	if err != nil {
		return fmt.Errorf("%s image: %w", kind, err)
	}
	if err := os.MkdirAll(filepath.Dir(*output), 0o755); err != nil {
		return err
	}
	if err := image.WriteTarball(*output, *ref, img); err != nil {
		return err
	}
	t, err := image.Read(*output)
	if err != nil {
		return fmt.Errorf("reading back: %w", err)
	}
	info, err := os.Stat(*output)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(out, "%s: %s %s (%.1f MB)\n", *output, t.Name, t.Digest, float64(info.Size())/1e6)
	return err
}

func kinds() []string {
	names := make([]string, 0, len(recipes))
	for k := range recipes {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// sourceDateEpoch is the build time of reproducible builds: the value of
// SOURCE_DATE_EPOCH (seconds since the Unix epoch), or the epoch when empty.
func sourceDateEpoch(v string) (time.Time, error) {
	if v == "" {
		return time.Unix(0, 0).UTC(), nil
	}
	s, err := strconv.ParseInt(v, 10, 64)
	if err != nil || s < 0 {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH=%q: want a number of seconds since 1970", v)
	}
	return time.Unix(s, 0).UTC(), nil
}

// need checks that the flags a recipe reads were given.
func (in inputs) need(flags ...string) error {
	values := map[string]string{"binary": in.binary, "ca-bundle": in.caBundle, "busybox": in.busybox, "source": in.source, "version": in.version}
	var missing []string
	for _, f := range flags {
		if values[f] == "" {
			missing = append(missing, "-"+f)
		}
	}
	if len(missing) > 0 {
		return errors.New("missing " + strings.Join(missing, ", "))
	}
	return nil
}
