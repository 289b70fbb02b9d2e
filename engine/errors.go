package engine

import (
	"fmt"
	"strings"

	"github.com/diagnose-sh/diagnose/internal/safetext"
)

// Error is one problem in a playbook, at a place in its file.
type Error struct {
	File    string `json:"file"`
	Line    int    `json:"line"`            // 1-based
	Column  int    `json:"column"`          // 1-based
	Where   string `json:"where,omitempty"` // `rule "cpu-bound"`, `condition "busy"`, `parameters`
	Message string `json:"message"`
	Snippet string `json:"snippet,omitempty"` // the offending source line and a caret under the column
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s:%d:%d: ", e.File, e.Line, e.Column)
	if e.Where != "" {
		b.WriteString(e.Where + ": ")
	}
	b.WriteString(e.Message)
	return b.String()
}

// Errors is every problem found in one load, in file order.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, 0, len(es))
	for _, e := range es {
		s := e.Error()
		if e.Snippet != "" {
			s += "\n" + e.Snippet
		}
		lines = append(lines, s)
	}
	return strings.Join(lines, "\n")
}

// errorList collects errors against one source file.
type errorList struct {
	file  string
	lines []string
	errs  Errors
}

func newErrorList(file string, src []byte) *errorList {
	return &errorList{file: file, lines: strings.Split(string(src), "\n")}
}

func (l *errorList) add(line, col int, where, format string, args ...any) {
	// The message and the excerpt quote the file, which may hold anything
	// (terminal escapes, a megabyte on one line): made inert, and clipped.
	e := &Error{File: l.file, Line: line, Column: col, Where: safetext.Clean(where), Message: safetext.Clean(fmt.Sprintf(format, args...))}
	if line >= 1 && line <= len(l.lines) && col >= 1 {
		src := []rune(strings.ReplaceAll(l.lines[line-1], "\t", " "))
		at := min(col-1, len(src))
		before, after := safetext.Clean(string(src[:at])), safetext.Clean(string(src[at:]))
		if r := []rune(before); len(r) > snippetContext {
			before = "…" + string(r[len(r)-snippetContext+1:])
		}
		if r := []rune(after); len(r) > snippetContext {
			after = string(r[:snippetContext-1]) + "…"
		}
		e.Snippet = "  | " + before + after + "\n  | " + strings.Repeat(" ", len([]rune(before))) + "^"
	}
	l.errs = append(l.errs, e)
}

// snippetContext is how many characters an excerpt shows each side of the caret.
const snippetContext = 60

func (l *errorList) err() error {
	if len(l.errs) == 0 {
		return nil
	}
	return l.errs
}
