package image

import (
	"fmt"
	"maps"
	"slices"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// createdBy is the history entry of every layer: what made it.
const createdBy = "kubicle.dev/kubicle/internal/image"

// Build makes a linux/amd64 image with OCI media types from spec. Invalid
// files are reported by layer and path before anything is read; the layers'
// contents are read and compressed here, so sources must stay unchanged until
// the image is written.
func Build(spec Spec) (v1.Image, error) {
	if len(spec.Layers) == 0 {
		return nil, fmt.Errorf("an image needs at least one layer")
	}
	created := spec.Created.UTC().Truncate(time.Second)
	if spec.Created.IsZero() {
		created = time.Unix(0, 0).UTC()
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	adds := make([]mutate.Addendum, 0, len(spec.Layers))
	for i, l := range spec.Layers {
		entries, err := l.entries()
		if err != nil {
			return nil, fmt.Errorf("layer %d: %w", i, err)
		}
		layer, err := newLayer(entries, created)
		if err != nil {
			return nil, fmt.Errorf("layer %d: %w", i, err)
		}
		adds = append(adds, mutate.Addendum{
			Layer:     layer,
			MediaType: types.OCILayer,
			History:   v1.History{Created: v1.Time{Time: created}, CreatedBy: createdBy},
		})
	}
	img, err := mutate.Append(img, adds...)
	if err != nil {
		return nil, fmt.Errorf("adding layers: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading the config: %w", err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = OS, Architecture
	cf.Created = v1.Time{Time: created}
	cf.Config = v1.Config{
		Entrypoint: slices.Clone(spec.Config.Entrypoint),
		Cmd:        slices.Clone(spec.Config.Cmd),
		User:       spec.Config.User,
		Env:        slices.Clone(spec.Config.Env),
		WorkingDir: spec.Config.WorkingDir,
		Labels:     maps.Clone(spec.Config.Labels),
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("setting the config: %w", err)
	}
	return img, nil
}
