package config

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/hoopgw/hoop/internal/yamlfile"
)

// decoder reads the config file: yamlfile.Decoder with ${NAME} expanded in every string,
// and the line of every field kept for checks across fields.
type decoder struct {
	yamlfile.Decoder
	env func(string) (string, bool) // os.LookupEnv
}

func newDecoder(file string, env func(string) (string, bool)) *decoder {
	d := &decoder{Decoder: yamlfile.Decoder{File: file, Lines: map[string]int{}}, env: env}
	d.Scalar = d.expandEnv
	return d
}

// expandEnv returns scalar n's text with ${NAME} and ${NAME:-default} replaced from the
// environment. ok is false (and an error recorded) for an unset variable.
func (d *decoder) expandEnv(n *yaml.Node, path string) (string, bool) {
	out, unset, err := expand(n.Value, d.env)
	for _, name := range unset {
		d.Add(n, path, "environment variable "+name+" is not set")
	}
	if err != nil {
		d.Add(n, path, err.Error())
	}
	return out, len(unset) == 0 && err == nil
}

// at records an error for path at the line of path, or of its closest parent set in the
// file.
func (d *decoder) at(path, msg string) {
	line := 0
	for p := path; p != ""; {
		if l, ok := d.Lines[p]; ok {
			line = l
			break
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			break
		}
		p = p[:i]
	}
	d.Errs = append(d.Errs, &Error{File: d.File, Line: line, Field: path, Msg: msg})
}

// set returns a field handler that stores a non-empty string in dst: an empty value (such
// as ${VAR:-}) keeps dst's default.
func (d *decoder) set(dst *string) func(*yaml.Node, string) {
	return func(v *yaml.Node, path string) {
		if s, ok := d.Str(v, path); ok && s != "" {
			*dst = s
		}
	}
}

// setInt is set for an integer in [lo, hi].
func (d *decoder) setInt(dst *int, lo, hi int) func(*yaml.Node, string) {
	return func(v *yaml.Node, path string) {
		s, ok := d.Str(v, path)
		if !ok || s == "" {
			return
		}
		if i, ok := d.IntOf(v, path, s, lo, hi); ok {
			*dst = i
		}
	}
}

// oneOf records an error unless s is one of valid: "unknown sslmode 'requier' (did you
// mean require?)".
func (d *decoder) oneOf(path, what, s string, valid ...string) bool {
	if slices.Contains(valid, s) {
		return true
	}
	hint := yamlfile.DidYouMean(s, valid)
	if hint == "" {
		hint = " (want " + valid[0]
		for i, v := range valid[1:] {
			if i == len(valid)-2 {
				hint += " or " + v
			} else {
				hint += ", " + v
			}
		}
		hint += ")"
	}
	d.at(path, "unknown "+what+" '"+s+"'"+hint)
	return false
}

// setBytes is setInt for a size in bytes in [lo, hi]: 1048576, or with a unit, 1MiB
// (KiB, MiB, GiB).
func (d *decoder) setBytes(dst *int, lo, hi int) func(*yaml.Node, string) {
	return func(v *yaml.Node, path string) {
		s, ok := d.Str(v, path)
		if !ok || s == "" {
			return
		}
		n, err := ParseBytes(s)
		if err != nil || n < int64(lo) || n > int64(hi) {
			d.Add(yamlfile.Resolve(v), path, fmt.Sprintf("want a size from %s to %s, such as 1MiB or 1048576", FormatBytes(int64(lo)), FormatBytes(int64(hi))))
			return
		}
		*dst = int(n)
	}
}

// byteUnits are the units ParseBytes takes, longest first.
var byteUnits = []struct {
	name string
	size int64
}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}}

// ParseBytes reads a size in bytes: "1048576", "1MiB", "512 KiB".
func ParseBytes(s string) (int64, error) {
	num, mult := strings.TrimSpace(s), int64(1)
	for _, u := range byteUnits {
		if rest, ok := strings.CutSuffix(num, u.name); ok {
			num, mult = strings.TrimSpace(rest), u.size
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("parse size %q: want bytes, or a number with KiB, MiB or GiB", s)
	}
	return n * mult, nil
}

// FormatBytes writes a size the way ParseBytes reads it, in the largest unit that divides
// it: "1MiB", "1500B".
func FormatBytes(n int64) string {
	for _, u := range byteUnits {
		if n >= u.size && n%u.size == 0 {
			return strconv.FormatInt(n/u.size, 10) + u.name
		}
	}
	return strconv.FormatInt(n, 10) + "B"
}
