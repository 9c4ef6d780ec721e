package image

import (
	"archive/tar"
	"bytes"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// sample is a small image of every kind of entry: a file from this machine,
// files with content, a set-user-ID file, a sticky directory, a directory
// owned by another user, a symbolic link, and a second layer.
func sample(t *testing.T) Spec {
	t.Helper()
	src := filepath.Join(t.TempDir(), "tool")
	if err := os.WriteFile(src, []byte("#!/bin/sh\necho tool\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return Spec{
		Layers: []Layer{
			{
				{Path: "/usr/local/bin/tool", Mode: 0o755, Source: src},
				{Path: "/etc/passwd", Mode: 0o644, Content: []byte("root:x:0:0::/root:/bin/sh\napp:x:65532:65532::/home/app:/bin/sh\n")},
				{Path: "/tmp", Mode: fs.ModeDir | fs.ModeSticky | 0o777},
				{Path: "/home/app", Mode: fs.ModeDir | 0o700, UID: 65532, GID: 65532},
				{Path: "/bin/su", Mode: fs.ModeSetuid | 0o755, Content: []byte("su")},
				{Path: "/bin/tool", Mode: fs.ModeSymlink | 0o777, Target: "../usr/local/bin/tool"},
			},
			{
				{Path: "/etc/motd", Mode: 0o644, Content: []byte("second layer\n")},
			},
		},
		Config: Config{
			Entrypoint: []string{"/usr/local/bin/tool"},
			Cmd:        []string{"--help"},
			User:       "65532:65532",
			Env:        []string{"PATH=/usr/local/bin:/bin"},
			WorkingDir: "/home/app",
			Labels:     map[string]string{"org.opencontainers.image.title": "tool"},
		},
	}
}

// build builds spec and writes it as ref into a new file.
func build(t *testing.T, spec Spec, ref string) string {
	t.Helper()
	img, err := Build(spec)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	out := filepath.Join(t.TempDir(), "image.tar")
	if err := WriteTarball(out, ref, img); err != nil {
		t.Fatalf("WriteTarball: %v", err)
	}
	return out
}

func TestReproducible(t *testing.T) {
	t.Parallel()
	spec := sample(t)
	a, b := build(t, spec, "example.com/tool:1"), build(t, spec, "example.com/tool:1")
	rawA, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	rawB, err := os.ReadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(rawA, rawB) {
		t.Fatalf("two builds of the same spec differ (%d and %d bytes)", len(rawA), len(rawB))
	}
	ta, err := Read(a)
	if err != nil {
		t.Fatal(err)
	}
	tb, err := Read(b)
	if err != nil {
		t.Fatal(err)
	}
	if ta.Digest != tb.Digest {
		t.Fatalf("digests differ: %s and %s", ta.Digest, tb.Digest)
	}
	// Neither the temporary directory of the layout nor this machine's
	// owners or times may reach the tarball.
	tr := tar.NewReader(bytes.NewReader(rawA))
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if hdr.Uid != 0 || hdr.Gid != 0 || hdr.Uname != "" || hdr.Gname != "" || hdr.ModTime.Unix() != 0 {
			t.Errorf("tarball entry %s: owner %d:%d (%q:%q), mtime %v", hdr.Name, hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname, hdr.ModTime)
		}
		if !strings.HasPrefix(hdr.Name, "blobs/") && hdr.Name != "index.json" && hdr.Name != "oci-layout" {
			t.Errorf("unexpected tarball entry %s", hdr.Name)
		}
	}
}

func TestDigestFollowsInputs(t *testing.T) {
	t.Parallel()
	base := build(t, sample(t), "example.com/tool:1")
	baseInfo, err := Read(base)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		change func(*Spec)
	}{
		{"content", func(s *Spec) { s.Layers[1][0].Content = []byte("changed\n") }},
		{"mode", func(s *Spec) { s.Layers[1][0].Mode = 0o600 }},
		{"owner", func(s *Spec) { s.Layers[1][0].UID = 1 }},
		{"path", func(s *Spec) { s.Layers[1][0].Path = "/etc/issue" }},
		{"user", func(s *Spec) { s.Config.User = "0" }},
		{"entrypoint", func(s *Spec) { s.Config.Entrypoint = []string{"/bin/tool"} }},
		{"created", func(s *Spec) { s.Created = time.Unix(1700000000, 0) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			spec := sample(t)
			tc.change(&spec)
			info, err := Read(build(t, spec, "example.com/tool:1"))
			if err != nil {
				t.Fatal(err)
			}
			if info.Digest == baseInfo.Digest {
				t.Errorf("changing the %s kept the digest %s", tc.name, info.Digest)
			}
		})
	}
}

func TestReadBack(t *testing.T) {
	t.Parallel()
	spec := sample(t)
	spec.Created = time.Unix(1700000000, 123)
	info, err := Read(build(t, spec, "example.com/team/tool:1.2.3"))
	if err != nil {
		t.Fatal(err)
	}
	if info.Name != "example.com/team/tool:1.2.3" {
		t.Errorf("name %q", info.Name)
	}
	cfg := info.Config.Config
	if cfg.User != "65532:65532" || strings.Join(cfg.Entrypoint, " ") != "/usr/local/bin/tool" ||
		strings.Join(cfg.Cmd, " ") != "--help" || cfg.WorkingDir != "/home/app" ||
		cfg.Labels["org.opencontainers.image.title"] != "tool" || strings.Join(cfg.Env, " ") != "PATH=/usr/local/bin:/bin" {
		t.Errorf("config %+v", cfg)
	}
	if info.Config.OS != "linux" || info.Config.Architecture != "amd64" {
		t.Errorf("platform %s/%s", info.Config.OS, info.Config.Architecture)
	}
	if got := info.Config.Created.Time.UTC(); !got.Equal(time.Unix(1700000000, 0)) {
		t.Errorf("created %v, want SOURCE_DATE_EPOCH-style 1700000000 truncated to seconds", got)
	}
	if n := len(info.Manifest.Layers); n != 2 {
		t.Fatalf("%d layers, want 2", n)
	}

	type want struct {
		layer    int
		typ      byte
		mode     int64
		uid, gid int
		content  string
		link     string
	}
	wants := map[string]want{
		"usr/":               {layer: 0, typ: tar.TypeDir, mode: 0o755},
		"usr/local/":         {layer: 0, typ: tar.TypeDir, mode: 0o755},
		"usr/local/bin/":     {layer: 0, typ: tar.TypeDir, mode: 0o755},
		"usr/local/bin/tool": {layer: 0, typ: tar.TypeReg, mode: 0o755, content: "#!/bin/sh\necho tool\n"},
		"etc/":               {layer: 0, typ: tar.TypeDir, mode: 0o755},
		"etc/passwd":         {layer: 0, typ: tar.TypeReg, mode: 0o644, content: string(spec.Layers[0][1].Content)},
		"tmp/":               {layer: 0, typ: tar.TypeDir, mode: 0o1777},
		"home/":              {layer: 0, typ: tar.TypeDir, mode: 0o755},
		"home/app/":          {layer: 0, typ: tar.TypeDir, mode: 0o700, uid: 65532, gid: 65532},
		"bin/":               {layer: 0, typ: tar.TypeDir, mode: 0o755},
		"bin/su":             {layer: 0, typ: tar.TypeReg, mode: 0o4755, content: "su"},
		"bin/tool":           {layer: 0, typ: tar.TypeSymlink, mode: 0o777, link: "../usr/local/bin/tool"},
		"etc/motd":           {layer: 1, typ: tar.TypeReg, mode: 0o644, content: "second layer\n"},
	}
	var order []string
	seen := map[string]bool{}
	err = info.Walk(func(layer int, hdr *tar.Header, content io.Reader) error {
		order = append(order, hdr.Name)
		if layer == 1 && hdr.Name == "etc/" {
			return nil // the directory holding the second layer's file
		}
		w, ok := wants[hdr.Name]
		if !ok {
			t.Errorf("unexpected entry %s in layer %d", hdr.Name, layer)
			return nil
		}
		seen[hdr.Name] = true
		body, err := io.ReadAll(content)
		if err != nil {
			return err
		}
		if layer != w.layer || hdr.Typeflag != w.typ || hdr.Mode != w.mode || hdr.Uid != w.uid || hdr.Gid != w.gid ||
			string(body) != w.content || hdr.Linkname != w.link || hdr.Uname != "" || hdr.Gname != "" {
			t.Errorf("%s: got layer %d type %c mode %o owner %d:%d (%q:%q) link %q content %q, want %+v",
				hdr.Name, layer, hdr.Typeflag, hdr.Mode, hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname, hdr.Linkname, body, w)
		}
		if !hdr.ModTime.Equal(time.Unix(1700000000, 0)) {
			t.Errorf("%s: mtime %v", hdr.Name, hdr.ModTime)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Walk: %v", err)
	}
	for name := range wants {
		if !seen[name] {
			t.Errorf("entry %s missing", name)
		}
	}
	wantOrder := "bin/ bin/su bin/tool etc/ etc/passwd home/ home/app/ tmp/ usr/ usr/local/ usr/local/bin/ usr/local/bin/tool etc/ etc/motd"
	if got := strings.Join(order, " "); got != wantOrder {
		t.Errorf("entries in the order\n%s\nwant\n%s", got, wantOrder)
	}
}

func TestInvalid(t *testing.T) {
	t.Parallel()
	missing := filepath.Join(t.TempDir(), "missing")
	for _, tc := range []struct {
		name  string
		layer Layer
		want  []string // substrings of the error
	}{
		{"missing source", Layer{{Path: "/bin/tool", Mode: 0o755, Source: missing}}, []string{`"/bin/tool"`, missing, "no such file"}},
		{"source is a directory", Layer{{Path: "/bin/tool", Mode: 0o755, Source: t.TempDir()}}, []string{`"/bin/tool"`, "not a regular file"}},
		{"relative path", Layer{{Path: "bin/tool", Mode: 0o755}}, []string{`"bin/tool"`, "not absolute"}},
		{"unclean path", Layer{{Path: "/bin/../tool", Mode: 0o755}}, []string{`"/bin/../tool"`, "not clean"}},
		{"root", Layer{{Path: "/", Mode: fs.ModeDir | 0o755}}, []string{`"/"`, "not clean"}},
		{"duplicate path", Layer{{Path: "/etc/a", Mode: 0o644}, {Path: "/etc/a", Mode: 0o600}}, []string{`"/etc/a"`, "listed twice"}},
		{"parent is a file", Layer{{Path: "/etc", Mode: 0o644}, {Path: "/etc/a", Mode: 0o644}}, []string{`"/etc/a"`, "/etc is not a directory"}},
		{"content and source", Layer{{Path: "/a", Mode: 0o644, Content: []byte("x"), Source: "/etc/hostname"}}, []string{`"/a"`, "both content and source"}},
		{"link without target", Layer{{Path: "/a", Mode: fs.ModeSymlink | 0o777}}, []string{`"/a"`, "needs a target"}},
		{"target of a file", Layer{{Path: "/a", Mode: 0o644, Target: "/b"}}, []string{`"/a"`, "only a symbolic link"}},
		{"directory with content", Layer{{Path: "/a", Mode: fs.ModeDir | 0o755, Content: []byte("x")}}, []string{`"/a"`, "no content"}},
		{"device", Layer{{Path: "/dev/null", Mode: fs.ModeDevice | 0o666}}, []string{`"/dev/null"`, "only regular files"}},
		{"negative owner", Layer{{Path: "/a", Mode: 0o644, UID: -1}}, []string{`"/a"`, "negative owner"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Build(Spec{Layers: []Layer{{{Path: "/ok", Mode: 0o644}}, tc.layer}})
			if err == nil {
				t.Fatal("Build accepted it")
			}
			for _, w := range append(tc.want, "layer 1") {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
	if _, err := Build(Spec{}); err == nil {
		t.Error("Build accepted an image without layers")
	}
}

func TestReference(t *testing.T) {
	t.Parallel()
	img, err := Build(Spec{Layers: []Layer{{{Path: "/a", Mode: 0o644}}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		ref string
		ok  bool
	}{
		{"kubicle.dev/kubicle:dev", true},
		{"localhost:5000/a/b:1.0", true},
		{"kubicle.dev/e2e-test-images/agnhost:2.66.1", true},
		{"kubicle:dev", false},             // no registry
		{"kubicle.dev/kubicle", false},     // no tag
		{"kubicle.dev/Kubicle:dev", false}, // not a valid repository
		{"kubicle.dev/kubicle@sha256:" + strings.Repeat("0", 64), false},
	} {
		t.Run(tc.ref, func(t *testing.T) {
			t.Parallel()
			out := filepath.Join(t.TempDir(), "image.tar")
			err := WriteTarball(out, tc.ref, img)
			if tc.ok != (err == nil) {
				t.Fatalf("WriteTarball(%q): %v", tc.ref, err)
			}
			if err != nil {
				if !strings.Contains(err.Error(), tc.ref) {
					t.Errorf("error %q does not name %q", err, tc.ref)
				}
				if _, statErr := os.Stat(out); statErr == nil {
					t.Errorf("a refused name still wrote %s", out)
				}
				return
			}
			info, err := Read(out)
			if err != nil {
				t.Fatal(err)
			}
			if info.Name != tc.ref {
				t.Errorf("read back name %q", info.Name)
			}
		})
	}
}

func TestReadRefusesOtherFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	notTar := filepath.Join(dir, "not.tar")
	if err := os.WriteFile(notTar, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: "manifest.json", Mode: 0o644, Size: 2, Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write([]byte("[]")); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	dockerSave := filepath.Join(dir, "docker-save.tar")
	if err := os.WriteFile(dockerSave, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	// A tarball whose layer was changed after it was written.
	good := build(t, sample(t), "example.com/tool:1")
	info, err := Read(good)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	tampered := filepath.Join(dir, "tampered.tar")
	if err := os.WriteFile(tampered, corruptBlob(t, raw, blobName(info.Manifest.Layers[1].Digest)), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path, want string
	}{
		{"missing", filepath.Join(dir, "missing.tar"), "no such file"},
		{"not a tarball", notTar, "not.tar"},
		{"docker save format", dockerSave, "not an OCI image-layout tarball"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Read(tc.path)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Read: %v, want an error with %q", err, tc.want)
			}
		})
	}
	t.Run("changed layer", func(t *testing.T) {
		t.Parallel()
		info, err := Read(tampered)
		if err != nil {
			t.Fatal(err) // the manifest and config are intact
		}
		err = info.Walk(func(int, *tar.Header, io.Reader) error { return nil })
		if err == nil || !strings.Contains(err.Error(), "layer 1") {
			t.Fatalf("Walk: %v, want a digest error for layer 1", err)
		}
	})
}

// corruptBlob returns the tarball raw with the gzip trailer of the blob name
// changed: the layer still decompresses until its checksum is read, and its
// digest no longer matches.
func corruptBlob(t *testing.T, raw []byte, name string) []byte {
	t.Helper()
	out := bytes.Clone(raw)
	tr := tar.NewReader(bytes.NewReader(raw))
	var offset int64
	for {
		hdr, err := tr.Next()
		if err != nil {
			t.Fatalf("no %s in the tarball: %v", name, err)
		}
		if hdr.Name == name {
			// The data of an entry starts right after its 512-byte header
			// (no PAX records here); offset counts the bytes consumed so far.
			start := offset + 512
			out[start+hdr.Size-5] ^= 0xff // a byte of the gzip CRC-32
			return out
		}
		offset += 512 + (hdr.Size+511)/512*512
	}
}
