package psi

import (
	"bytes"
	"fmt"
	"math"
	"strconv"

	"github.com/diagnose-sh/diagnose/probes/probe"
)

type line struct {
	avg10, avg60, avg300 float64
	total                uint64
}

type record struct {
	some, full line
	hasFull    bool
}

// parsePressure parses one /proc/pressure/<resource> file. The "some" line
// is required; "full" is optional (cpu before 5.13).
func parsePressure(b []byte) (record, error) {
	var r record
	var hasSome bool
	for len(b) > 0 {
		ln := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			ln, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		if len(bytes.TrimSpace(ln)) == 0 {
			continue
		}
		fields := bytes.Fields(ln)
		var dst *line
		switch string(fields[0]) {
		case "some":
			if hasSome {
				return record{}, fmt.Errorf("%w: pressure: duplicate some line", probe.ErrFormat)
			}
			dst, hasSome = &r.some, true
		case "full":
			if r.hasFull {
				return record{}, fmt.Errorf("%w: pressure: duplicate full line", probe.ErrFormat)
			}
			dst, r.hasFull = &r.full, true
		default:
			return record{}, fmt.Errorf("%w: pressure: unexpected line %q", probe.ErrFormat, probe.Truncate(string(ln)))
		}
		var seen uint8
		for _, kv := range fields[1:] {
			k, v, ok := bytes.Cut(kv, []byte("="))
			if !ok {
				return record{}, fmt.Errorf("%w: pressure: field %q", probe.ErrFormat, probe.Truncate(string(kv)))
			}
			var err error
			switch string(k) {
			case "avg10":
				dst.avg10, err = parsePct(v)
				seen |= 1
			case "avg60":
				dst.avg60, err = parsePct(v)
				seen |= 2
			case "avg300":
				dst.avg300, err = parsePct(v)
				seen |= 4
			case "total":
				dst.total, err = strconv.ParseUint(string(v), 10, 64)
				seen |= 8
			}
			if err != nil {
				return record{}, fmt.Errorf("%w: pressure: %s: %w", probe.ErrFormat, k, err)
			}
		}
		if seen != 15 {
			return record{}, fmt.Errorf("%w: pressure: %s line lacks avg10, avg60, avg300 or total", probe.ErrFormat, fields[0])
		}
	}
	if !hasSome {
		return record{}, fmt.Errorf("%w: pressure: no some line", probe.ErrFormat)
	}
	return r, nil
}

func parsePct(v []byte) (float64, error) {
	x, err := strconv.ParseFloat(string(v), 64)
	if err != nil {
		return 0, err
	}
	if math.IsNaN(x) || x < 0 || x > 100 {
		return 0, fmt.Errorf("%q is not a percentage", v)
	}
	return x, nil
}
