package main

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"kubicle.dev/kubicle/internal/image"
	"kubicle.dev/kubicle/internal/realnode"
)

// node is an entry of an image's merged file tree.
type node struct {
	hdr     tar.Header
	layer   int
	content []byte // regular files up to 1 MB
}

// tree reads the image tarball at path and merges its layers, the upper
// layer's entry winning. When program is not empty, that entry's content is
// also copied into a file whose path tree returns.
func tree(t *testing.T, path, program string) (*image.Tarball, map[string]node, string) {
	t.Helper()
	tb, err := image.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]node{}
	var extracted string
	err = tb.Walk(func(layer int, hdr *tar.Header, content io.Reader) error {
		name := "/" + strings.TrimSuffix(hdr.Name, "/")
		n := node{hdr: *hdr, layer: layer}
		switch {
		case program != "" && name == program:
			extracted = filepath.Join(t.TempDir(), "program")
			f, err := os.Create(extracted)
			if err != nil {
				return err
			}
			defer f.Close()
			if _, err := io.Copy(f, content); err != nil {
				return err
			}
		case hdr.Typeflag == tar.TypeReg && hdr.Size <= 1<<20:
			var err error
			if n.content, err = io.ReadAll(content); err != nil {
				return err
			}
		}
		files[name] = n
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return tb, files, extracted
}

// fakeInputs writes stand-ins for the files the recipes read.
func fakeInputs(t *testing.T) map[string]string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"binary":                       "\x7fELF fake program",
		"ca.crt":                       "-----BEGIN CERTIFICATE-----\n",
		"busybox":                      "\x7fELF fake busybox",
		"agnhost/VERSION":              "2.66.1\n",
		"agnhost/porter/localhost.crt": "crt",
		"agnhost/porter/localhost.key": "key",
	}
	paths := map[string]string{}
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		paths[name] = p
	}
	paths["agnhost"] = filepath.Join(dir, "agnhost")
	return paths
}

func TestRecipes(t *testing.T) {
	t.Parallel()
	in := fakeInputs(t)
	for _, tc := range []struct {
		kind  string
		args  []string
		name  string
		check func(t *testing.T, tb *image.Tarball, files map[string]node)
	}{
		{"kubicle", []string{"-binary", in["binary"], "-ca-bundle", in["ca.crt"], "-version", "v1.2.3"}, "kubicle.dev/kubicle:dev",
			func(t *testing.T, tb *image.Tarball, files map[string]node) {
				cfg := tb.Config.Config
				if cfg.User != "65532:65532" || !slices.Equal(cfg.Entrypoint, []string{"/usr/local/bin/kubicle"}) || len(cfg.Cmd) != 0 {
					t.Errorf("config %+v", cfg)
				}
				if cfg.Labels["org.opencontainers.image.version"] != "v1.2.3" {
					t.Errorf("labels %v", cfg.Labels)
				}
				wantFile(t, files, "/usr/local/bin/kubicle", tar.TypeReg, 0o755, 0, "\x7fELF fake program")
				wantFile(t, files, "/etc/ssl/certs/ca-certificates.crt", tar.TypeReg, 0o644, 0, "-----BEGIN CERTIFICATE-----\n")
				wantFile(t, files, "/tmp", tar.TypeDir, 0o1777, 0, "")
				wantFile(t, files, "/var/lib/kubicle", tar.TypeDir, 0o755, 65532, "")
				wantLine(t, files, "/etc/passwd", "kubicle:x:65532:65532:kubicle:/var/lib/kubicle:/sbin/nologin")
				wantLine(t, files, "/etc/group", "kubicle:x:65532:")
			}},
		{"pause", []string{"-binary", in["binary"]}, "kubicle.dev/pause:3.10",
			func(t *testing.T, tb *image.Tarball, files map[string]node) {
				if cfg := tb.Config.Config; cfg.User != "65535:65535" || !slices.Equal(cfg.Entrypoint, []string{"/pause"}) {
					t.Errorf("config %+v", cfg)
				}
				wantFile(t, files, "/pause", tar.TypeReg, 0o755, 0, "\x7fELF fake program")
			}},
		{"busybox", []string{"-busybox", in["busybox"]}, "kubicle.dev/e2e-test-images/busybox:1.36.1-1",
			func(t *testing.T, tb *image.Tarball, files map[string]node) {
				if cfg := tb.Config.Config; len(cfg.Entrypoint) != 0 || !slices.Equal(cfg.Cmd, []string{"sh"}) || cfg.User != "" {
					t.Errorf("config %+v", cfg)
				}
				wantBusybox(t, files)
			}},
		{"agnhost", []string{"-binary", in["binary"], "-busybox", in["busybox"], "-source", in["agnhost"]}, "kubicle.dev/e2e-test-images/agnhost:2.66.1",
			func(t *testing.T, tb *image.Tarball, files map[string]node) {
				if cfg := tb.Config.Config; !slices.Equal(cfg.Entrypoint, []string{"/agnhost"}) || !slices.Equal(cfg.Cmd, []string{"pause"}) {
					t.Errorf("config %+v", cfg)
				}
				wantBusybox(t, files)
				wantFile(t, files, "/agnhost", tar.TypeReg, 0o755, 0, "\x7fELF fake program")
				wantFile(t, files, "/localhost.crt", tar.TypeReg, 0o644, 0, "crt")
				wantLine(t, files, "/etc/group", "group-defined-in-image:x:50000:user-defined-in-image")
				if n := files["/agnhost-2"]; n.hdr.Typeflag != tar.TypeSymlink || n.hdr.Linkname != "agnhost" {
					t.Errorf("/agnhost-2: %+v", n.hdr)
				}
			}},
		{"kubectl", []string{"-binary", in["binary"], "-busybox", in["busybox"], "-version", "v1.37.2"}, "kubicle.dev/kubectl:v1.37.2",
			func(t *testing.T, tb *image.Tarball, files map[string]node) {
				if cfg := tb.Config.Config; !slices.Equal(cfg.Entrypoint, []string{"/bin/kubectl"}) || cfg.User != "65534:65534" || len(cfg.Cmd) != 0 {
					t.Errorf("config %+v", cfg)
				}
				wantBusybox(t, files)
				wantFile(t, files, "/bin/kubectl", tar.TypeReg, 0o755, 0, "\x7fELF fake program")
			}},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			t.Parallel()
			out := filepath.Join(t.TempDir(), "images", tc.kind+".tar")
			var stdout bytes.Buffer
			if err := run(append([]string{tc.kind, "-o", out}, tc.args...), &stdout, noEnv); err != nil {
				t.Fatal(err)
			}
			tb, files, _ := tree(t, out, "")
			if tb.Name != tc.name {
				t.Errorf("name %q, want %q", tb.Name, tc.name)
			}
			if want := out + ": " + tc.name + " " + tb.Digest.String(); !strings.HasPrefix(stdout.String(), want) {
				t.Errorf("printed %q, want %q…", stdout.String(), want)
			}
			if tb.Config.OS != "linux" || tb.Config.Architecture != "amd64" || tb.Config.Created.Unix() != 0 {
				t.Errorf("platform %s/%s, created %v", tb.Config.OS, tb.Config.Architecture, tb.Config.Created)
			}
			if env := tb.Config.Config.Env; !slices.Contains(env, defaultPath) {
				t.Errorf("env %v lacks %s", env, defaultPath)
			}
			tc.check(t, tb, files)
		})
	}
}

// TestSharedBusyboxLayer checks that agnhost's bottom layer is the busybox
// image's layer, byte for byte, so a node stores it once.
func TestSharedBusyboxLayer(t *testing.T) {
	t.Parallel()
	in := fakeInputs(t)
	dir := t.TempDir()
	bb, ag := filepath.Join(dir, "busybox.tar"), filepath.Join(dir, "agnhost.tar")
	if err := run([]string{"busybox", "-o", bb, "-busybox", in["busybox"]}, io.Discard, noEnv); err != nil {
		t.Fatal(err)
	}
	if err := run([]string{"agnhost", "-o", ag, "-binary", in["binary"], "-busybox", in["busybox"], "-source", in["agnhost"]}, io.Discard, noEnv); err != nil {
		t.Fatal(err)
	}
	b, err := image.Read(bb)
	if err != nil {
		t.Fatal(err)
	}
	a, err := image.Read(ag)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Manifest.Layers) != 2 || a.Manifest.Layers[0].Digest != b.Manifest.Layers[0].Digest {
		t.Fatalf("agnhost layers %v do not start with busybox's %v", a.Manifest.Layers, b.Manifest.Layers)
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	in := fakeInputs(t)
	badVersion := t.TempDir()
	if err := os.WriteFile(filepath.Join(badVersion, "VERSION"), []byte("66\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "x.tar")
	for _, tc := range []struct {
		name  string
		args  []string
		epoch string
		want  string
	}{
		{"no kind", nil, "", "usage: mkimage agnhost|busybox|kubectl|kubicle|pause"},
		{"unknown kind", []string{"alpine", "-o", out}, "", "usage"},
		{"no output", []string{"pause", "-binary", in["binary"]}, "", "usage: mkimage pause -o FILE"},
		{"missing flags", []string{"kubicle", "-o", out}, "", "kubicle image: missing -binary, -ca-bundle"},
		{"missing binary", []string{"pause", "-o", out, "-binary", in["binary"] + ".gone"}, "", `file "/pause": source: stat ` + in["binary"] + ".gone"},
		{"bad version file", []string{"agnhost", "-o", out, "-binary", in["binary"], "-busybox", in["busybox"], "-source", badVersion}, "", `version "66" is not 2.N`},
		{"kubectl without version", []string{"kubectl", "-o", out, "-binary", in["binary"], "-busybox", in["busybox"]}, "", "kubectl image: missing -version"},
		{"bad kubectl version", []string{"kubectl", "-o", out, "-binary", in["binary"], "-busybox", in["busybox"], "-version", "1.37"}, "", `version "1.37" is not a kubectl release`},
		{"bad name", []string{"pause", "-o", out, "-binary", in["binary"], "-name", "pause:3.10"}, "", `image name "pause:3.10"`},
		{"bad SOURCE_DATE_EPOCH", []string{"pause", "-o", out, "-binary", in["binary"]}, "yesterday", `SOURCE_DATE_EPOCH="yesterday"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			getenv := func(k string) string {
				if k == "SOURCE_DATE_EPOCH" {
					return tc.epoch
				}
				return ""
			}
			err := run(tc.args, io.Discard, getenv)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("run: %v, want an error with %q", err, tc.want)
			}
		})
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("a failed run wrote %s", out)
	}
}

func TestSourceDateEpoch(t *testing.T) {
	t.Parallel()
	in := fakeInputs(t)
	out := filepath.Join(t.TempDir(), "pause.tar")
	getenv := func(k string) string {
		if k == "SOURCE_DATE_EPOCH" {
			return "1700000000"
		}
		return ""
	}
	if err := run([]string{"pause", "-o", out, "-binary", in["binary"]}, io.Discard, getenv); err != nil {
		t.Fatal(err)
	}
	tb, files, _ := tree(t, out, "")
	if got := tb.Config.Created.Unix(); got != 1700000000 {
		t.Errorf("created %d", got)
	}
	if got := files["/pause"].hdr.ModTime.Unix(); got != 1700000000 {
		t.Errorf("/pause mtime %d", got)
	}
}

// TestBuiltImages checks the tarballs that `make images` wrote into
// bin/images: the programs are static ELF executables (no interpreter, no
// shared libraries), with the users and files each image promises.
func TestBuiltImages(t *testing.T) {
	t.Parallel()
	dir := filepath.Join("..", "..", "bin", "images")
	for _, tc := range []struct {
		file, name, program, user string
		more                      func(t *testing.T, files map[string]node)
	}{
		{"kubicle.tar", "kubicle.dev/kubicle:dev", "/usr/local/bin/kubicle", "65532:65532", func(t *testing.T, files map[string]node) {
			if n := files["/etc/ssl/certs/ca-certificates.crt"]; n.hdr.Size < 10000 {
				t.Errorf("CA bundle of %d bytes", n.hdr.Size)
			}
			wantFile(t, files, "/var/lib/kubicle", tar.TypeDir, 0o755, 65532, "")
			wantFile(t, files, "/tmp", tar.TypeDir, 0o1777, 0, "")
		}},
		{"pause.tar", "kubicle.dev/pause:3.10", "/pause", "65535:65535", nil},
		{"busybox.tar", "kubicle.dev/e2e-test-images/busybox:1.36.1-1", "/bin/busybox", "", wantBusybox},
		{"agnhost.tar", "kubicle.dev/e2e-test-images/agnhost:", "/agnhost", "", wantBusybox},
		{"kubectl.tar", "kubicle.dev/kubectl:v1.37.2", "/bin/kubectl", "65534:65534", wantBusybox},
	} {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(dir, tc.file)
			if _, err := os.Stat(path); err != nil {
				t.Skipf("%s was not built (run `make images` in the repository root): %v", path, err)
			}
			tb, files, program := tree(t, path, tc.program)
			if !strings.HasPrefix(tb.Name, tc.name) {
				t.Errorf("name %q, want %q", tb.Name, tc.name)
			}
			if tb.Config.Config.User != tc.user {
				t.Errorf("user %q, want %q", tb.Config.Config.User, tc.user)
			}
			if program == "" {
				t.Fatalf("%s is missing", tc.program)
			}
			wantFile(t, files, tc.program, tar.TypeReg, 0o755, 0, "")
			wantStatic(t, program)
			if tc.more != nil {
				tc.more(t, files)
			}
		})
	}
}

// wantStatic fails unless the ELF file at path is a statically linked
// executable: no PT_INTERP program header, no DT_NEEDED libraries.
func wantStatic(t *testing.T, path string) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatalf("the program is not ELF: %v", err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("the program has an interpreter (PT_INTERP): it is dynamically linked")
		}
	}
	if libs, err := f.ImportedLibraries(); err != nil || len(libs) > 0 {
		t.Errorf("the program needs shared libraries %v (%v)", libs, err)
	}
	if f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN || f.Machine != elf.EM_X86_64 {
		t.Errorf("ELF type %v machine %v, want an x86-64 executable", f.Type, f.Machine)
	}
}

// wantBusybox checks busybox and its applet links in /bin.
func wantBusybox(t *testing.T, files map[string]node) {
	t.Helper()
	wantFile(t, files, "/bin/busybox", tar.TypeReg, 0o755, 0, "")
	for _, a := range []string{"sh", "ls", "wget", "nslookup", "nc", "ping", "sleep"} {
		if n := files["/bin/"+a]; n.hdr.Typeflag != tar.TypeSymlink || n.hdr.Linkname != "busybox" {
			t.Errorf("/bin/%s is not a link to busybox: %+v", a, n.hdr)
		}
	}
	wantLine(t, files, "/etc/passwd", "nobody:x:65534:65534:nobody:/home:/bin/false")
	wantFile(t, files, "/tmp", tar.TypeDir, 0o1777, 0, "")
}

// wantFile checks an entry's type, mode, owner (uid and gid) and, when
// content is not empty, its content.
func wantFile(t *testing.T, files map[string]node, path string, typ byte, mode int64, owner int, content string) {
	t.Helper()
	n, ok := files[path]
	if !ok {
		t.Errorf("%s is missing", path)
		return
	}
	if n.hdr.Typeflag != typ || n.hdr.Mode != mode || n.hdr.Uid != owner || n.hdr.Gid != owner {
		t.Errorf("%s: type %c mode %o owner %d:%d, want type %c mode %o owner %d:%d",
			path, n.hdr.Typeflag, n.hdr.Mode, n.hdr.Uid, n.hdr.Gid, typ, mode, owner, owner)
	}
	if content != "" && string(n.content) != content {
		t.Errorf("%s holds %q, want %q", path, n.content, content)
	}
}

// wantLine checks that a text file has the line.
func wantLine(t *testing.T, files map[string]node, path, line string) {
	t.Helper()
	if !slices.Contains(strings.Split(string(files[path].content), "\n"), line) {
		t.Errorf("%s lacks the line %q:\n%s", path, line, files[path].content)
	}
}

// TestPauseName checks that the pause image is the one real nodes' containerd
// runs as the pod sandbox.
func TestPauseName(t *testing.T) {
	t.Parallel()
	if pauseRef != realnode.SandboxImage {
		t.Errorf("mkimage names the pause image %s, real nodes run %s", pauseRef, realnode.SandboxImage)
	}
}

func noEnv(string) string { return "" }
