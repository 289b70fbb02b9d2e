package probe

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestField(t *testing.T) {
	b := []byte("  a\tbb  ccc\n")
	for i, want := range []string{"a", "bb", "ccc"} {
		if f, ok := Field(b, i); !ok || string(f) != want {
			t.Errorf("Field(%d) = %q %v, want %q", i, f, ok, want)
		}
	}
	if f, ok := Field(b, 3); ok {
		t.Errorf("Field(3) = %q, want none", f)
	}
	if n := CountFields(b); n != 3 {
		t.Errorf("CountFields = %d, want 3", n)
	}
	if n := CountFields([]byte(" \n")); n != 0 {
		t.Errorf("CountFields(blank) = %d", n)
	}
}

func TestUint(t *testing.T) {
	for in, want := range map[string]uint64{"0": 0, "42": 42, "18446744073709551615": 1<<64 - 1} {
		if v, ok := Uint([]byte(in)); !ok || v != want {
			t.Errorf("Uint(%q) = %d %v", in, v, ok)
		}
	}
	for _, in := range []string{"", "-1", "+1", "1x", "18446744073709551616", "99999999999999999999", "123456789012345678901"} {
		if v, ok := Uint([]byte(in)); ok {
			t.Errorf("Uint(%q) = %d, want an error", in, v)
		}
	}
}

func TestStatTail(t *testing.T) {
	// comm with spaces and parentheses: fields count after the last ')'.
	tail, err := StatTail([]byte("4242 (a) b) (c) S 1 2 3"))
	if err != nil {
		t.Fatal(err)
	}
	if f, ok := StatField(tail, 3); !ok || string(f) != "S" {
		t.Errorf("field 3 = %q", f)
	}
	if f, ok := StatField(tail, 6); !ok || string(f) != "3" {
		t.Errorf("field 6 = %q", f)
	}
	for _, in := range []string{"", "1 x S", ")(", "1 ) (x S"} {
		if _, err := StatTail([]byte(in)); !errors.Is(err, ErrFormat) {
			t.Errorf("%q: err %v, want ErrFormat", in, err)
		}
	}
}

func TestParseSchedstat(t *testing.T) {
	s, err := ParseSchedstat([]byte("283170465 227577265 5873\n"))
	if err != nil || s != (Schedstat{RunNS: 283170465, WaitNS: 227577265, Slices: 5873}) {
		t.Fatalf("%+v %v", s, err)
	}
	for _, in := range []string{"", "1 2", "1 2 3 4", "a b c", "-1 2 3", "1 2 99999999999999999999"} {
		if _, err := ParseSchedstat([]byte(in)); !errors.Is(err, ErrFormat) {
			t.Errorf("%q: err %v, want ErrFormat", in, err)
		}
	}
}

// The helpers are on the sampling hot path: they must not allocate.
func TestProcfsHelpersDoNotAllocate(t *testing.T) {
	stat := []byte("15373 (mutex worker) S 15369 15369 2313 0 -1 4194304 121 0 0 0 100 18 0 0 20 0 5 0 159587\n")
	sched := []byte("283170465 227577265 5873\n")
	n := testing.AllocsPerRun(100, func() {
		tail, _ := StatTail(stat)
		f, _ := StatField(tail, 14)
		Uint(f)
		ParseSchedstat(sched)
	})
	if n != 0 {
		t.Errorf("%v allocations per run, want 0", n)
	}
}

// otherSpace is white space that strings.Fields splits on and /proc never writes.
func otherSpace(r rune) bool {
	return unicode.IsSpace(r) && (r > unicode.MaxASCII || !isSpace(byte(r))) || r == utf8.RuneError
}

func FuzzProcfs(f *testing.F) {
	f.Add([]byte("1 (x) S 2 3\n"), 3)
	f.Add([]byte("283170465 227577265 5873\n"), 1)
	f.Fuzz(func(t *testing.T, b []byte, i int) {
		i = max(0, i%64)
		if fld, ok := Field(b, i); ok {
			fields := strings.Fields(string(b))
			// Field splits on space, tab and newline only.
			if !strings.ContainsFunc(string(b), otherSpace) && (i >= len(fields) || fields[i] != string(fld)) {
				t.Fatalf("Field(%q, %d) = %q, strings.Fields has %q", b, i, fld, fields)
			}
		}
		// Uint agrees with strconv on plain digit strings and rejects the rest.
		v, ok := Uint(b)
		want, err := strconv.ParseUint(string(b), 10, 64)
		digits := len(b) > 0 && strings.Trim(string(b), "0123456789") == ""
		if ok != (err == nil && digits && len(b) <= 20) || ok && v != want {
			t.Fatalf("Uint(%q) = %d %v, strconv %d %v", b, v, ok, want, err)
		}
		if s, err := ParseSchedstat(b); err == nil && CountFields(b) != 3 {
			t.Fatalf("ParseSchedstat(%q) = %+v with %d fields", b, s, CountFields(b))
		}
		if tail, err := StatTail(b); err == nil && len(tail) > len(b) {
			t.Fatal("tail longer than input")
		}
	})
}
