// Package bench holds kubicle's benchmarks: control plane start and memory, and the
// time pods take to run through a virtual cluster compared with the host directly.
// Run them with `make bench`; docs/benchmarks.md records the figures.
package bench
