package image

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// newLayer makes an OCI layer (gzip-compressed tar) of entries. The tar
// stream is written afresh each time the layer is read, so sources are
// streamed, never held in memory; the compressed bytes are kept once made.
func newLayer(entries []entry, mtime time.Time) (v1.Layer, error) {
	opener := func() (io.ReadCloser, error) {
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(writeTar(pw, entries, mtime)) }()
		return pr, nil
	}
	return tarball.LayerFromOpener(opener,
		tarball.WithMediaType(types.OCILayer),
		tarball.WithCompressionLevel(gzip.DefaultCompression),
		tarball.WithCompressedCaching)
}

// writeTar writes entries as a tar stream whose bytes depend only on them and
// mtime: no host owner names, times or modes.
func writeTar(w io.Writer, entries []entry, mtime time.Time) error {
	tw := tar.NewWriter(w)
	for _, e := range entries {
		hdr := &tar.Header{
			Name:    e.name,
			Mode:    tarMode(e.Mode),
			Uid:     e.UID,
			Gid:     e.GID,
			ModTime: mtime,
		}
		switch e.Mode.Type() {
		case fs.ModeDir:
			hdr.Typeflag = tar.TypeDir
		case fs.ModeSymlink:
			hdr.Typeflag = tar.TypeSymlink
			hdr.Linkname = e.Target
		default:
			hdr.Typeflag = tar.TypeReg
			hdr.Size = e.size
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("file %q: %w", e.Path, err)
		}
		if err := writeContent(tw, e); err != nil {
			return fmt.Errorf("file %q: %w", e.Path, err)
		}
	}
	return tw.Close()
}

// writeContent copies a regular file's content, checking that a source still
// has the size it had when the layer was planned.
func writeContent(w io.Writer, e entry) error {
	if e.Mode.Type() != 0 {
		return nil
	}
	if e.Source == "" {
		_, err := w.Write(e.Content)
		return err
	}
	f, err := os.Open(e.Source)
	if err != nil {
		return fmt.Errorf("source: %w", err)
	}
	defer f.Close()
	if _, err := io.CopyN(w, f, e.size); err != nil {
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("source %s shrank while the image was built", e.Source)
		}
		return fmt.Errorf("source %s: %w", e.Source, err)
	}
	if n, _ := f.Read(make([]byte, 1)); n > 0 {
		return fmt.Errorf("source %s grew while the image was built", e.Source)
	}
	return nil
}

// tarMode is the mode field of a tar header: permission bits plus the
// set-user-ID, set-group-ID and sticky bits in their Unix positions.
func tarMode(m fs.FileMode) int64 {
	mode := int64(m.Perm())
	if m&fs.ModeSetuid != 0 {
		mode |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		mode |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		mode |= 0o1000
	}
	return mode
}
