// Package image builds container images from lists of files, without Docker or
// a registry, and writes them as OCI image-layout tarballs that containerd
// imports (`ctr -n k8s.io images import FILE`) and that `kubicle host
// load-image` loads into real nodes. It also reads such a tarball back.
//
// Images are reproducible: the same [Spec] gives the same bytes and digest.
// Every timestamp is [Spec.Created], entries are sorted by path, and owners and
// modes come from the [File] list, never from the files on this machine.
//
// The image format itself (layers, config, manifest, index, layout) is written
// by github.com/google/go-containerregistry, the library behind ko and crane;
// this package only lays out each layer's file tree.
package image

import (
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"slices"
	"time"
)

// OS and Architecture are the platform of every image [Build] makes.
const (
	OS           = "linux"
	Architecture = "amd64"
)

// File is one entry of an image layer: a regular file, a directory or a
// symbolic link.
type File struct {
	// Path is the entry's absolute, clean path in the image, such as
	// /usr/local/bin/kubicle. Required.
	Path string

	// Mode holds the permission bits, fs.ModeSetuid, fs.ModeSetgid and
	// fs.ModeSticky, and the type: fs.ModeDir for a directory, fs.ModeSymlink
	// for a symbolic link, neither for a regular file. The mode of Source is
	// never used. Default: 0 (no permissions).
	Mode fs.FileMode

	// Content is a regular file's content when Source is empty.
	// Default: empty.
	Content []byte

	// Source is a regular file on this machine whose content the entry gets;
	// it excludes Content. Default: none (Content is used).
	Source string

	// Target is a symbolic link's target, absolute or relative to the link's
	// directory. Required for symbolic links, refused for other entries.
	Target string

	// UID and GID own the entry. Default: 0 (root).
	UID, GID int
}

// Layer is the set of files one image layer adds. Directories that hold its
// files but are not listed are added with mode 0755, owned by root.
type Layer []File

// Config is the part of an image's configuration that says how its
// containers run.
type Config struct {
	// Entrypoint is the command a container runs. Default: none.
	Entrypoint []string

	// Cmd is the default arguments to Entrypoint, or the command when
	// Entrypoint is empty. Default: none.
	Cmd []string

	// User is the user (and group) the command runs as: "uid", "uid:gid" or
	// a name from the image's /etc/passwd. Default: root.
	User string

	// Env holds NAME=value pairs. Default: none.
	Env []string

	// WorkingDir is the command's working directory. Default: /.
	WorkingDir string

	// Labels are the image's labels, such as org.opencontainers.image.version.
	// Default: none.
	Labels map[string]string
}

// Spec is everything an image is built from.
type Spec struct {
	// Layers are the image's layers, bottom first. A later layer's file
	// replaces an earlier layer's at the same path. At least one is required.
	Layers []Layer

	// Config says how the image's containers run.
	Config Config

	// Created is the creation time in the image's config and history and the
	// modification time of every file, truncated to seconds. Reproducible
	// builds take it from SOURCE_DATE_EPOCH. Default: the Unix epoch,
	// 1970-01-01T00:00:00Z.
	Created time.Time
}

// entry is a validated File in its layer's tar form.
type entry struct {
	File
	// name is the path in the tar stream: relative, with a trailing slash
	// for directories.
	name string
	// size is the content's length for regular files.
	size int64
}

// entries validates a layer's files, adds the directories that hold them, and
// returns them sorted by path, so that parents come before their children.
func (l Layer) entries() ([]entry, error) {
	byPath := make(map[string]entry, len(l))
	for _, f := range l {
		e, err := newEntry(f)
		if err != nil {
			return nil, fmt.Errorf("file %q: %w", f.Path, err)
		}
		if _, dup := byPath[f.Path]; dup {
			return nil, fmt.Errorf("file %q: listed twice", f.Path)
		}
		byPath[f.Path] = e
	}
	for _, p := range slices.Collect(maps.Keys(byPath)) {
		for dir := path.Dir(p); dir != "/"; dir = path.Dir(dir) {
			parent, listed := byPath[dir]
			if !listed {
				byPath[dir] = entry{File: File{Path: dir, Mode: fs.ModeDir | 0o755}, name: dir[1:] + "/"}
				continue
			}
			if !parent.Mode.IsDir() {
				return nil, fmt.Errorf("file %q: its parent %s is not a directory", p, dir)
			}
		}
	}
	out := slices.Collect(maps.Values(byPath))
	slices.SortFunc(out, func(a, b entry) int { return compareNames(a.Path, b.Path) })
	return out, nil
}

// compareNames orders paths component by component, so that a directory's
// entries follow it directly ("/a", "/a/b", "/a-b"), as tar extractors expect.
func compareNames(a, b string) int {
	return slices.Compare(splitPath(a), splitPath(b))
}

func splitPath(p string) []string {
	var parts []string
	for p != "/" {
		parts = append(parts, path.Base(p))
		p = path.Dir(p)
	}
	slices.Reverse(parts)
	return parts
}

// newEntry checks one file and measures its content.
func newEntry(f File) (entry, error) {
	if !path.IsAbs(f.Path) {
		return entry{}, fmt.Errorf("path is not absolute")
	}
	if path.Clean(f.Path) != f.Path || f.Path == "/" {
		return entry{}, fmt.Errorf("path is not clean (want %s)", path.Clean(f.Path))
	}
	if f.UID < 0 || f.GID < 0 {
		return entry{}, fmt.Errorf("negative owner %d:%d", f.UID, f.GID)
	}
	if extra := f.Mode &^ (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky | fs.ModeDir | fs.ModeSymlink); extra != 0 {
		return entry{}, fmt.Errorf("mode %v: only regular files, directories and symbolic links are supported", f.Mode)
	}
	e := entry{File: f, name: f.Path[1:]}
	switch f.Mode.Type() {
	case fs.ModeDir:
		if f.Content != nil || f.Source != "" || f.Target != "" {
			return entry{}, fmt.Errorf("a directory has no content, source or target")
		}
		e.name += "/"
	case fs.ModeSymlink:
		if f.Target == "" {
			return entry{}, fmt.Errorf("a symbolic link needs a target")
		}
		if f.Content != nil || f.Source != "" {
			return entry{}, fmt.Errorf("a symbolic link has no content or source")
		}
	case 0:
		if f.Target != "" {
			return entry{}, fmt.Errorf("only a symbolic link has a target")
		}
		e.size = int64(len(f.Content))
		if f.Source == "" {
			break
		}
		if f.Content != nil {
			return entry{}, fmt.Errorf("both content and source %s are given", f.Source)
		}
		info, err := os.Stat(f.Source)
		if err != nil {
			return entry{}, fmt.Errorf("source: %w", err)
		}
		if !info.Mode().IsRegular() {
			return entry{}, fmt.Errorf("source %s is not a regular file", f.Source)
		}
		e.size = info.Size()
	default:
		return entry{}, fmt.Errorf("mode %v: only regular files, directories and symbolic links are supported", f.Mode)
	}
	return e, nil
}
