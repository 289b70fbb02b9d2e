package safetext

import (
	"testing"
	"unicode/utf8"
)

func TestClean(t *testing.T) {
	for in, want := range map[string]string{
		"java":                     "java",
		"GC Thread#0":              "GC Thread#0",
		"evil\x1b]0;pwned\x07name": `evil\x1b]0;pwned\x07name`,
		"bell\a\r\n":               `bell\x07\x0d\x0a`,
		"bad\xffutf8":              `bad\xffutf8`,
		"c1\u009bcontrol":          `c1\u009bcontrol`,
		"ünïcödé ✓":                "ünïcödé ✓",
		"del\x7f":                  `del\x7f`,
		"txt.exe\u202egnp":         `txt.exe\u202egnp`, // right-to-left override: "txt.exepng" shown as "...gnp"
		"zero\u200bwidth":          `zero\u200bwidth`,
		"iso\u2066late\u2069":      `iso\u2066late\u2069`,
		"\ufeffbom":                `\ufeffbom`,
		"עברית":                    "עברית", // right-to-left letters themselves are text
	} {
		if got := Clean(in); got != want {
			t.Errorf("Clean(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzClean(f *testing.F) {
	f.Add("java\x1b[31m")
	f.Add("\xff\xfe")
	f.Fuzz(func(t *testing.T, s string) {
		out := Clean(s)
		for _, r := range out {
			if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
				t.Fatalf("Clean(%q) left control %U", s, r)
			}
		}
		if !utf8.ValidString(out) {
			t.Fatalf("Clean(%q) = %q is not valid UTF-8", s, out)
		}
	})
}
