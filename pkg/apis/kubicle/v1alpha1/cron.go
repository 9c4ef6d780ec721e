package v1alpha1

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// cronField is one field of a five-field cron expression.
type cronField struct {
	name     string
	min, max int
	names    map[string]int // symbolic values, upper case
	anyMark  bool           // "?" allowed, as a synonym of "*"
}

var cronFields = []cronField{
	{name: "minute", min: 0, max: 59},
	{name: "hour", min: 0, max: 23},
	{name: "day-of-month", min: 1, max: 31, anyMark: true},
	{name: "month", min: 1, max: 12, names: map[string]int{
		"JAN": 1, "FEB": 2, "MAR": 3, "APR": 4, "MAY": 5, "JUN": 6,
		"JUL": 7, "AUG": 8, "SEP": 9, "OCT": 10, "NOV": 11, "DEC": 12}},
	{name: "day-of-week", min: 0, max: 6, anyMark: true, names: map[string]int{
		"SUN": 0, "MON": 1, "TUE": 2, "WED": 3, "THU": 4, "FRI": 5, "SAT": 6}},
}

var cronMacros = []string{"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}

// checkCron reports whether expr is a cron expression in the dialect that
// Kubernetes CronJobs accept: five fields, or one of the @ macros.
func checkCron(expr string) error {
	expr = strings.TrimSpace(expr)
	switch {
	case expr == "":
		return errors.New("must not be empty")
	case strings.HasPrefix(expr, "TZ=") || strings.HasPrefix(expr, "CRON_TZ="):
		return errors.New("must not name a time zone; set timeZone instead")
	case strings.HasPrefix(expr, "@"):
		for _, m := range cronMacros {
			if expr == m {
				return nil
			}
		}
		return fmt.Errorf("unknown macro %q; use one of %s", expr, strings.Join(cronMacros, ", "))
	}
	fields := strings.Fields(expr)
	if len(fields) != len(cronFields) {
		return fmt.Errorf("must have 5 fields (minute hour day-of-month month day-of-week), not %d", len(fields))
	}
	for i, f := range fields {
		if err := cronFields[i].check(f); err != nil {
			return fmt.Errorf("%s field %q: %w", cronFields[i].name, f, err)
		}
	}
	return nil
}

// check reports whether s is a valid value of the field: a comma-separated
// list of "*", "a", "a-b", each optionally followed by "/step".
func (f cronField) check(s string) error {
	for part := range strings.SplitSeq(s, ",") {
		rng, step, hasStep := strings.Cut(part, "/")
		if hasStep {
			n, err := strconv.Atoi(step)
			if err != nil || n < 1 {
				return fmt.Errorf("step %q must be a positive number", step)
			}
		}
		if rng == "*" || (f.anyMark && rng == "?") {
			continue
		}
		lo, hi, isRange := strings.Cut(rng, "-")
		a, err := f.value(lo)
		if err != nil {
			return err
		}
		if !isRange {
			continue
		}
		b, err := f.value(hi)
		if err != nil {
			return err
		}
		if a > b {
			return fmt.Errorf("range %q runs backwards", rng)
		}
	}
	return nil
}

// value parses one value of the field, a number or a symbolic name.
func (f cronField) value(s string) (int, error) {
	if v, ok := f.names[strings.ToUpper(s)]; ok {
		return v, nil
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	if v < f.min || v > f.max {
		return 0, fmt.Errorf("%d is outside %d-%d", v, f.min, f.max)
	}
	return v, nil
}
