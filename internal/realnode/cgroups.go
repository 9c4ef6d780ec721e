package realnode

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// cgroupFS is where the machine's cgroup hierarchies are mounted.
const cgroupFS = "/sys/fs/cgroup"

// v1Hierarchies returns the directories of the cgroup v1 hierarchies (cpu, memory,
// pids, …; not the symlinked aliases such as cpu,cpuacct, and not the hybrid unified
// mount), or nil on a machine with cgroup v2 only.
func v1Hierarchies() ([]string, error) {
	if _, err := os.Stat(filepath.Join(cgroupFS, "cgroup.controllers")); err == nil {
		return nil, nil // cgroup v2: one hierarchy, handled by the caller
	}
	entries, err := os.ReadDir(cgroupFS)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", cgroupFS, err)
	}
	var out []string
	for _, e := range entries {
		if !e.IsDir() || e.Type()&os.ModeSymlink != 0 || e.Name() == "unified" {
			continue
		}
		out = append(out, filepath.Join(cgroupFS, e.Name()))
	}
	return out, nil
}

// ensureCgroupRoot creates the cgroup that holds node name's pods in every hierarchy
// (the kubelet refuses a cgroupRoot that does not exist) and returns its path as the
// kubelet names it. A cpuset cgroup needs its CPUs and memory nodes before a task can
// join, so they are copied from the parent.
func ensureCgroupRoot(name string) (string, error) {
	dirs, err := v1Hierarchies()
	if err != nil {
		return "", err
	}
	if dirs == nil {
		dirs = []string{cgroupFS}
	}
	for _, h := range dirs {
		d := filepath.Join(h, name)
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", fmt.Errorf("creating cgroup %s: %w", d, err)
		}
		if filepath.Base(h) == "cpuset" {
			for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
				cur, _ := os.ReadFile(filepath.Join(d, f))
				if strings.TrimSpace(string(cur)) != "" {
					continue
				}
				parent, err := os.ReadFile(filepath.Join(h, f))
				if err != nil {
					return "", fmt.Errorf("reading %s: %w", filepath.Join(h, f), err)
				}
				if err := os.WriteFile(filepath.Join(d, f), parent, 0o644); err != nil {
					return "", fmt.Errorf("writing %s: %w", filepath.Join(d, f), err)
				}
			}
		}
	}
	return "/" + name, nil
}

// removeCgroupRoot removes node name's cgroups, children first, in every hierarchy,
// the hybrid unified one included (the kubelet's cgroup library creates them there
// too). The processes in them must have exited.
func removeCgroupRoot(name string) error {
	dirs, err := v1Hierarchies()
	if err != nil {
		return err
	}
	if dirs == nil {
		dirs = []string{cgroupFS}
	} else if _, err := os.Stat(filepath.Join(cgroupFS, "unified")); err == nil {
		dirs = append(dirs, filepath.Join(cgroupFS, "unified"))
	}
	var errs []error
	for _, h := range dirs {
		root := filepath.Join(h, name)
		var all []string
		_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				all = append(all, p)
			}
			return nil
		})
		slices.SortFunc(all, func(a, b string) int { return strings.Count(b, "/") - strings.Count(a, "/") })
		for _, d := range all {
			if err := os.Remove(d); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, fmt.Errorf("removing cgroup %s: %w", d, err))
			}
		}
	}
	return errors.Join(errs...)
}
