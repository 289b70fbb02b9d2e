package syscalls

// Parser for strace -c summaries. Forms accepted (strace 6.1 observed, see
// testdata/strace/):
//
//	strace: Process 12092 attached with 17 threads          <- progress lines, ignored
//	% time     seconds  usecs/call     calls    errors syscall
//	------ ----------- ----------- --------- --------- ----------------
//	100.00    0.356113          13     26521      7358 futex
//	  0.00    0.000201         200         1           restart_syscall   <- errors blank when 0
//	------ ----------- ----------- --------- --------- ----------------
//	100.00    0.356113          13     26521      7358 total
//
// and the -U form, whose header names the columns in another order:
//
//	syscall              calls    errors     seconds  usecs/call shortest  longest
//	pread64              12072              1.455403         120 0.000067 0.002719

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/diagnose-sh/diagnose/probes/probe"
)

// errNoSummary means the text holds no strace -c table.
var errNoSummary = errors.New("no strace -c summary found")

// row is one syscall line of a summary.
type row struct {
	Name    string
	Calls   int64
	Errors  int64
	Seconds float64
}

// summary is a parsed strace -c output.
type summary struct {
	Rows     []row // without the total row
	Total    row
	HasTotal bool
	Attached bool // "strace: Process N attached" seen
}

// column names as strace prints them in the header.
const (
	colPct     = "% time"
	colSeconds = "seconds"
	colUsecs   = "usecs/call"
	colCalls   = "calls"
	colErrors  = "errors"
	colName    = "syscall"
)

func parseSummary(b []byte) (summary, error) {
	var s summary
	var cols []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), " \r")
		trim := strings.TrimSpace(line)
		switch {
		case trim == "":
			continue
		case strings.HasPrefix(trim, "strace:"):
			if strings.Contains(trim, " attached") {
				s.Attached = true
			}
			continue
		case strings.Trim(trim, "- ") == "":
			continue // separator
		}
		if cols == nil {
			if h, ok := parseHeader(trim); ok {
				cols = h
			}
			continue // text before the table (a person's notes, a command line)
		}
		if h, ok := parseHeader(trim); ok { // a second table: keep the last one
			cols, s.Rows, s.HasTotal, s.Total = h, nil, false, row{}
			continue
		}
		r, err := parseRow(trim, cols)
		if err != nil {
			return summary{}, err
		}
		if r.Name == "total" {
			s.Total, s.HasTotal = r, true
			continue
		}
		s.Rows = append(s.Rows, r)
	}
	if err := sc.Err(); err != nil {
		return summary{}, fmt.Errorf("%w: %w", probe.ErrFormat, err)
	}
	if cols == nil {
		return s, errNoSummary
	}
	if len(s.Rows) == 0 && !s.HasTotal {
		return s, fmt.Errorf("%w: strace -c table has no rows", probe.ErrFormat)
	}
	return s, nil
}

// parseHeader recognises a summary header and returns its column names.
func parseHeader(line string) ([]string, bool) {
	line = strings.Replace(line, "% time", "%time", 1)
	f := strings.Fields(line)
	hasCalls, hasName := false, false
	for i, c := range f {
		switch c {
		case "%time":
			f[i] = colPct
		case colCalls:
			hasCalls = true
		case colName:
			hasName = true
		}
	}
	if !hasCalls || !hasName || len(f) < 3 {
		return nil, false
	}
	return f, true
}

// parseRow reads one row against the header's columns; the errors column
// may be blank (one field fewer).
func parseRow(line string, cols []string) (row, error) {
	f := strings.Fields(line)
	if len(f) == len(cols)-1 {
		idx := -1
		for i, c := range cols {
			if c == colErrors {
				idx = i
			}
		}
		if idx < 0 {
			return row{}, fmt.Errorf("%w: row %q: %d fields for %d columns", probe.ErrFormat, probe.Truncate(line), len(f), len(cols))
		}
		f = append(f[:idx], append([]string{"0"}, f[idx:]...)...)
	}
	if len(f) != len(cols) {
		return row{}, fmt.Errorf("%w: row %q: %d fields for %d columns", probe.ErrFormat, probe.Truncate(line), len(f), len(cols))
	}
	var r row
	for i, c := range cols {
		var err error
		switch c {
		case colName:
			r.Name = f[i]
		case colCalls:
			r.Calls, err = strconv.ParseInt(f[i], 10, 64)
		case colErrors:
			r.Errors, err = strconv.ParseInt(f[i], 10, 64)
		case colSeconds:
			r.Seconds, err = strconv.ParseFloat(f[i], 64)
		default: // derived columns: must be numbers
			_, err = strconv.ParseFloat(f[i], 64)
		}
		if err != nil {
			return row{}, fmt.Errorf("%w: row %q column %s: %q", probe.ErrFormat, probe.Truncate(line), c, f[i])
		}
	}
	if r.Name == "" || r.Calls < 0 || r.Errors < 0 || r.Seconds < 0 || r.Seconds != r.Seconds || r.Seconds > 1e12 {
		return row{}, fmt.Errorf("%w: row %q: bad values", probe.ErrFormat, probe.Truncate(line))
	}
	return r, nil
}
