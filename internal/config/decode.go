package config

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"kubicle.dev/kubicle/internal/config/schema"
)

// checker walks a decoded JSON tree along a schema.Node, collecting a
// problem for every unknown field and every value of the wrong type.
type checker struct {
	problems []Problem
	// bad are the paths whose values were dropped: validation problems at or
	// below them are left out.
	bad []string
}

func (c *checker) fail(p *field.Path, detail string) {
	c.problems = append(c.problems, Problem{Field: p.String(), Detail: detail})
	c.bad = append(c.bad, p.String())
}

// covers reports whether path is at or below a path whose value was dropped.
func (c *checker) covers(path string) bool {
	for _, b := range c.bad {
		if path == b || strings.HasPrefix(path, b+".") || strings.HasPrefix(path, b+"[") {
			return true
		}
	}
	return false
}

// check returns v with every unknown field and wrongly typed value removed,
// and false when v itself is dropped. A null is dropped without a problem:
// it means the same as leaving the field out.
func (c *checker) check(n *schema.Node, v any, p *field.Path) (any, bool) {
	if v == nil {
		return nil, false
	}
	switch n.Kind {
	case schema.Object:
		obj, ok := v.(map[string]any)
		if !ok {
			c.fail(p, "expected object, got "+describe(v))
			return nil, false
		}
		out := make(map[string]any, len(obj))
		for _, k := range sortedKeys(obj) {
			fp := p.Child(k)
			f := n.Field(k)
			if f == nil {
				c.fail(fp, unknownField(k, n.FieldNames()))
				continue
			}
			if cv, keep := c.check(f.Node, obj[k], fp); keep {
				out[k] = cv
			}
		}
		return out, true

	case schema.Map:
		obj, ok := v.(map[string]any)
		if !ok {
			c.fail(p, "expected object, got "+describe(v))
			return nil, false
		}
		out := make(map[string]any, len(obj))
		for _, k := range sortedKeys(obj) {
			if cv, keep := c.check(n.Elem, obj[k], p.Key(k)); keep {
				out[k] = cv
			}
		}
		return out, true

	case schema.List:
		list, ok := v.([]any)
		if !ok {
			c.fail(p, "expected list, got "+describe(v))
			return nil, false
		}
		before := len(c.problems)
		out := make([]any, 0, len(list))
		for i, item := range list {
			if item == nil {
				c.fail(p.Index(i), "expected "+want(n.Elem)+", got null")
				continue
			}
			if cv, keep := c.check(n.Elem, item, p.Index(i)); keep {
				out = append(out, cv)
			}
		}
		if len(c.problems) > before {
			// Dropped items shift the indexes of the rest, so validation
			// problems about this list would name the wrong items.
			c.bad = append(c.bad, p.String())
		}
		return out, true

	case schema.String:
		if _, ok := v.(string); !ok {
			c.fail(p, "expected string, got "+describe(v))
			return nil, false
		}

	case schema.Bool:
		if _, ok := v.(bool); !ok {
			c.fail(p, "expected bool, got "+describe(v))
			return nil, false
		}

	case schema.Integer:
		num, ok := v.(json.Number)
		if !ok {
			c.fail(p, "expected integer, got "+describe(v))
			return nil, false
		}
		i, err := strconv.ParseInt(num.String(), 10, 64)
		if err != nil {
			c.fail(p, "expected integer, got "+describe(v))
			return nil, false
		}
		if n.Bits == 32 && (i < math.MinInt32 || i > math.MaxInt32) {
			c.fail(p, fmt.Sprintf("expected integer between %d and %d, got %s", math.MinInt32, math.MaxInt32, describe(v)))
			return nil, false
		}

	case schema.Number:
		if _, ok := v.(json.Number); !ok {
			c.fail(p, "expected number, got "+describe(v))
			return nil, false
		}

	case schema.Quantity:
		const expected = `expected quantity such as 2, "500m" or "4Gi", got `
		switch q := v.(type) {
		case string:
			if _, err := resource.ParseQuantity(strings.TrimSpace(q)); err != nil {
				c.fail(p, expected+describe(v))
				return nil, false
			}
		case json.Number:
			// The CRD takes an integer or a string, as Kubernetes does for
			// quantities; a file must work in both places.
			if _, err := strconv.ParseInt(q.String(), 10, 64); err != nil {
				c.fail(p, expected+describe(v)+fmt.Sprintf(" (quote fractions: %q)", q.String()))
				return nil, false
			}
		default:
			c.fail(p, expected+describe(v))
			return nil, false
		}

	case schema.Duration:
		s, ok := v.(string)
		if ok {
			_, err := time.ParseDuration(s)
			ok = err == nil
		}
		if !ok {
			c.fail(p, `expected duration such as "90s", "30m" or "1h30m", got `+describe(v))
			return nil, false
		}

	case schema.Time:
		s, ok := v.(string)
		if ok {
			_, err := time.Parse(time.RFC3339, s)
			ok = err == nil
		}
		if !ok {
			c.fail(p, `expected RFC 3339 time such as "2025-01-02T15:04:05Z", got `+describe(v))
			return nil, false
		}

	case schema.IntOrString:
		switch x := v.(type) {
		case string:
		case json.Number:
			if _, err := strconv.ParseInt(x.String(), 10, 64); err != nil {
				c.fail(p, "expected integer or string, got "+describe(v))
				return nil, false
			}
		default:
			c.fail(p, "expected integer or string, got "+describe(v))
			return nil, false
		}
	}
	return v, true
}

// want names the shape of n for an error message.
func want(n *schema.Node) string {
	return n.Kind.String()
}

// describe names the type and, for scalars, the value of a decoded JSON value.
func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		const maxRunes = 40
		if utf8.RuneCountInString(x) > maxRunes {
			x = string([]rune(x)[:maxRunes]) + "…"
		}
		return "string " + strconv.Quote(x)
	case bool:
		return "bool " + strconv.FormatBool(x)
	case json.Number:
		return "number " + x.String()
	case map[string]any:
		return "object"
	case []any:
		return "list"
	}
	return fmt.Sprintf("%T", v)
}

// unknownField describes an unknown field, suggesting the known field it most
// likely misspells, or listing the known fields.
func unknownField(name string, known []string) string {
	if s := suggest(name, known); s != "" {
		return fmt.Sprintf("unknown field; did you mean %q?", s)
	}
	sorted := slices.Clone(known)
	slices.Sort(sorted)
	return "unknown field; known fields are " + strings.Join(sorted, ", ")
}

// suggest returns the known name closest to name when it is close enough to
// be a typo: equal but for case, or within a small edit distance.
func suggest(name string, known []string) string {
	best, bestDist := "", math.MaxInt
	for _, k := range known {
		if strings.EqualFold(k, name) {
			return k
		}
		if d := editDistance(strings.ToLower(name), strings.ToLower(k)); d < bestDist {
			best, bestDist = k, d
		}
	}
	limit := 2
	if len(name) <= 4 {
		limit = 1
	}
	if bestDist <= limit {
		return best
	}
	return ""
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
