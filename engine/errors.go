package engine

import (
	"fmt"
	"strings"
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
	e := &Error{File: l.file, Line: line, Column: col, Where: where, Message: fmt.Sprintf(format, args...)}
	if line >= 1 && line <= len(l.lines) && col >= 1 {
		src := strings.ReplaceAll(l.lines[line-1], "\t", " ")
		pad := col - 1
		if pad > len(src) {
			pad = len(src)
		}
		e.Snippet = "  | " + src + "\n  | " + strings.Repeat(" ", pad) + "^"
	}
	l.errs = append(l.errs, e)
}

func (l *errorList) err() error {
	if len(l.errs) == 0 {
		return nil
	}
	return l.errs
}
