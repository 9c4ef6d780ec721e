// Package boundaries holds the test that keeps kubicle's package boundaries: which
// packages may import the embedded Kubernetes control plane, and which must not.
package boundaries
