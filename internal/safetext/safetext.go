// Package safetext makes strings read from the system or written by
// playbook authors inert before they reach a terminal.
package safetext

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Clean makes a system string (process name, command line, path) inert:
// control bytes, C1 controls and invalid UTF-8 become visible escapes, so
// nothing read from the system can drive a terminal.
func Clean(s string) string {
	clean := true
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == utf8.RuneError {
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
		case r >= 0x80 && r < 0xa0:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[:n])
		}
		s = s[n:]
	}
	return b.String()
}
