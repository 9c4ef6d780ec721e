// Package e2e holds kubicle's end-to-end tests: they run the built binary and real
// kubectl like a user would, against the embedded host and real control planes.
package e2e
