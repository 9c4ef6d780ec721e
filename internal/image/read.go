package image

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Tarball is the image an OCI image-layout tarball holds, as [Read] finds it.
type Tarball struct {
	// Path is the tarball's file.
	Path string
	// Name is the image's full reference: the index entry's
	// io.containerd.image.name annotation, else its
	// org.opencontainers.image.ref.name (which other tools may set to a tag
	// only), else empty.
	Name string
	// Digest is the digest of the image's manifest: what containerd and
	// registries identify the image by.
	Digest v1.Hash
	// Manifest lists the image's config and layers.
	Manifest v1.Manifest
	// Config is the image's config file: platform, creation time, history
	// and how its containers run (Config.Config).
	Config v1.ConfigFile
}

// Read opens the OCI image-layout tarball at path and returns the one image
// it holds, after checking the digests of its manifest and config.
func Read(path string) (*Tarball, error) {
	t := &Tarball{Path: path}
	raw, err := t.file("index.json", 1<<20)
	if err != nil {
		return nil, err
	}
	index, err := v1.ParseIndexManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("%s: index.json: %w", path, err)
	}
	if len(index.Manifests) != 1 {
		return nil, fmt.Errorf("%s: holds %d images; only tarballs of one image are supported", path, len(index.Manifests))
	}
	desc := index.Manifests[0]
	if !desc.MediaType.IsImage() {
		return nil, fmt.Errorf("%s: its entry is a %s, not an image manifest", path, desc.MediaType)
	}
	t.Name = desc.Annotations[AnnotationImageName]
	if t.Name == "" {
		t.Name = desc.Annotations[AnnotationRefName]
	}
	t.Digest = desc.Digest
	if raw, err = t.blob(desc.Digest, 4<<20); err != nil {
		return nil, err
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("%s: manifest %s: %w", path, desc.Digest, err)
	}
	t.Manifest = *m
	if raw, err = t.blob(m.Config.Digest, 16<<20); err != nil {
		return nil, err
	}
	cf, err := v1.ParseConfigFile(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("%s: config %s: %w", path, m.Config.Digest, err)
	}
	t.Config = *cf
	return t, nil
}

// Walk calls fn for every entry of the image's layers, bottom layer first,
// with the entry's content for regular files. Each layer's digest is checked
// once it has been read; an error from fn stops the walk and is returned.
func (t *Tarball) Walk(fn func(layer int, hdr *tar.Header, content io.Reader) error) error {
	for i, l := range t.Manifest.Layers {
		if err := t.walkLayer(i, l, fn); err != nil {
			return err
		}
	}
	return nil
}

func (t *Tarball) walkLayer(i int, desc v1.Descriptor, fn func(int, *tar.Header, io.Reader) error) error {
	if desc.MediaType != types.OCILayer && desc.MediaType != types.DockerLayer {
		return fmt.Errorf("%s: layer %d: media type %s is not supported", t.Path, i, desc.MediaType)
	}
	return t.open(blobName(desc.Digest), func(r io.Reader) error {
		h, err := v1.Hasher(desc.Digest.Algorithm)
		if err != nil {
			return err
		}
		zr, err := gzip.NewReader(io.TeeReader(r, h))
		if err != nil {
			return fmt.Errorf("layer %d: %w", i, err)
		}
		tr := tar.NewReader(zr)
		for {
			hdr, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return fmt.Errorf("layer %d: %w", i, err)
			}
			if err := fn(i, hdr, tr); err != nil {
				return err
			}
		}
		if _, err := io.Copy(io.Discard, r); err != nil {
			return fmt.Errorf("layer %d: %w", i, err)
		}
		if got := fmt.Sprintf("%x", h.Sum(nil)); got != desc.Digest.Hex {
			return fmt.Errorf("layer %d: digest %s:%s, want %s", i, desc.Digest.Algorithm, got, desc.Digest)
		}
		return nil
	})
}

// blob returns the blob with digest h, at most limit bytes, after checking
// its digest.
func (t *Tarball) blob(h v1.Hash, limit int64) ([]byte, error) {
	raw, err := t.file(blobName(h), limit)
	if err != nil {
		return nil, err
	}
	got, _, err := v1.SHA256(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	if got != h {
		return nil, fmt.Errorf("%s: blob %s has digest %s", t.Path, h, got)
	}
	return raw, nil
}

// file returns the content of the tarball's file name, at most limit bytes.
func (t *Tarball) file(name string, limit int64) ([]byte, error) {
	var raw []byte
	err := t.open(name, func(r io.Reader) error {
		var err error
		raw, err = io.ReadAll(io.LimitReader(r, limit+1))
		if err == nil && int64(len(raw)) > limit {
			err = fmt.Errorf("larger than %d bytes", limit)
		}
		return err
	})
	return raw, err
}

// open finds the file name in the tarball and calls fn with its content.
func (t *Tarball) open(name string, fn func(io.Reader) error) error {
	f, err := os.Open(t.Path)
	if err != nil {
		return err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			if name == "index.json" {
				return fmt.Errorf("%s: no index.json: not an OCI image-layout tarball", t.Path)
			}
			return fmt.Errorf("%s: no %s", t.Path, name)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", t.Path, err)
		}
		if hdr.Typeflag == tar.TypeReg && path.Clean(strings.TrimPrefix(hdr.Name, "./")) == name {
			if err := fn(tr); err != nil {
				return fmt.Errorf("%s: %s: %w", t.Path, name, err)
			}
			return nil
		}
	}
}

func blobName(h v1.Hash) string {
	return path.Join("blobs", h.Algorithm, h.Hex)
}
