// Package safetext makes strings read from the system or written by
// playbook authors inert before they reach a terminal.
package safetext

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Clean makes a system string (process name, command line, path) inert:
// control bytes, C1 controls, invalid UTF-8, and the invisible characters
// that reorder or hide text (bidi overrides and isolates, zero-width
// spaces and joiners, the BOM) become visible escapes, so nothing read from
// the system can drive a terminal or disguise what it shows.
func Clean(s string) string {
	clean := true
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == utf8.RuneError || invisible(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for len(s) > 0 {
		r, n := utf8.DecodeRuneInString(s)
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[0])
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r >= 0x80 && r < 0xa0 || invisible(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[:n])
		}
		s = s[n:]
	}
	return b.String()
}

// invisible reports the format characters that change how text around them
// reads without showing themselves: U+200B-U+200F (zero-width space,
// joiners, marks), U+202A-U+202E (bidi embeddings and overrides),
// U+2060-U+2064, U+2066-U+2069 (bidi isolates) and U+FEFF.
func invisible(r rune) bool {
	return r >= 0x200b && r <= 0x200f || r >= 0x202a && r <= 0x202e || r >= 0x2060 && r <= 0x2064 ||
		r >= 0x2066 && r <= 0x2069 || r == 0xfeff
}
