package image

import (
	"archive/tar"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// Annotations of the image's entry in the layout's index.json.
const (
	// AnnotationImageName is the full reference containerd names an
	// imported image by.
	AnnotationImageName = "io.containerd.image.name"
	// AnnotationRefName is the OCI image-layout's name of the image: its tag.
	AnnotationRefName = "org.opencontainers.image.ref.name"
)

// ParseReference checks that ref is a full image reference with a registry, a
// repository and a tag (kubicle.dev/kubicle:dev), as containerd names images,
// and returns it parsed.
func ParseReference(ref string) (name.Tag, error) {
	tag, err := name.NewTag(ref, name.StrictValidation)
	if err != nil {
		return name.Tag{}, fmt.Errorf("image name %q: %w", ref, err)
	}
	if tag.Name() != ref {
		return name.Tag{}, fmt.Errorf("image name %q: not in its canonical form %q", ref, tag.Name())
	}
	return tag, nil
}

// WriteTarball writes img as an OCI image-layout tarball at path, naming it
// ref (see [ParseReference]) in the index entry's annotations. The file is
// replaced only once it is complete. Its bytes depend only on img and ref:
// the layout's files are stored in order with the image's creation time and
// fixed owners and modes.
func WriteTarball(path, ref string, img v1.Image) error {
	tag, err := ParseReference(ref)
	if err != nil {
		return err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return fmt.Errorf("reading the image config: %w", err)
	}
	dir, err := os.MkdirTemp(filepath.Dir(path), ".image-layout-")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer os.RemoveAll(dir)
	lp, err := layout.Write(dir, empty.Index)
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	err = lp.AppendImage(img,
		layout.WithAnnotations(map[string]string{
			AnnotationImageName: tag.Name(),
			AnnotationRefName:   tag.TagStr(),
		}),
		layout.WithPlatform(v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant}))
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tarDir(path, dir, cf.Created.Time); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// tarDir archives the layout directory dir into the file path through a
// temporary file beside it.
func tarDir(path, dir string, mtime time.Time) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".image-*.tar")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := writeDirTar(tmp, dir, mtime.UTC().Truncate(time.Second)); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// writeDirTar writes the tree under dir in lexical order, with mode 0755 for
// directories, 0644 for files, owner 0:0 and modification time mtime.
func writeDirTar(w io.Writer, dir string, mtime time.Time) error {
	tw := tar.NewWriter(w)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		hdr := &tar.Header{Name: filepath.ToSlash(rel), Mode: 0o644, ModTime: mtime, Typeflag: tar.TypeReg}
		switch {
		case d.IsDir():
			hdr.Name += "/"
			hdr.Mode, hdr.Typeflag = 0o755, tar.TypeDir
			return tw.WriteHeader(hdr)
		case !d.Type().IsRegular():
			return fmt.Errorf("%s: not a regular file", rel)
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		info, err := f.Stat()
		if err != nil {
			return err
		}
		hdr.Size = info.Size()
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		_, err = io.Copy(tw, f)
		return err
	})
	if err != nil {
		return err
	}
	return tw.Close()
}
