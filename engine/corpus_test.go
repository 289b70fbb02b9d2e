package engine

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Every file under testdata/playbooks/bad states the errors it must produce
// in its "# error: LINE:COL: ..." comment lines, in order. The whole error
// (position, rule and message) is compared, so a moved caret fails the test.
func TestMalformedPlaybooks(t *testing.T) {
	files, err := filepath.Glob("../testdata/playbooks/bad/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus: %v", err)
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, line := range strings.Split(string(src), "\n") {
				if rest, ok := strings.CutPrefix(line, "# error: "); ok {
					want = append(want, rest)
				}
			}
			if len(want) == 0 {
				t.Fatal("the file declares no expected error")
			}
			_, err = Load(filepath.Base(path), src, testSchema)
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("want Errors, got %v", err)
			}
			var got []string
			for _, e := range errs {
				got = append(got, strings.TrimPrefix(e.Error(), filepath.Base(path)+":"))
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("errors:\n%s\nwant:\n%s\nfull:\n%v", strings.Join(got, "\n"), strings.Join(want, "\n"), err)
			}
		})
	}
}
