package cli

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/diagnose-sh/diagnose/probes/probetest"
)

func TestMain(m *testing.M) {
	os.Exit(testscript.RunMain(m, map[string]func() int{
		"diagnose": func() int { return Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr) },
	}))
}

// TestScripts runs the end-to-end CLI scripts in testdata/script (with
// -update, cmp's expected files are rewritten from what diagnose printed). Besides the
// standard commands they have `diagnose-exit N args...`, which runs diagnose
// and fails unless it exits with code N (stdout and stderr are then checked
// as after exec).
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: filepath.Join("..", "..", "testdata", "script"),
		// -update rewrites the expected files of cmp in the scripts.
		UpdateScripts: probetest.Update(),
		Setup: func(env *testscript.Env) error {
			env.Setenv("NO_COLOR", "")
			env.Setenv("PLAYBOOKS", filepath.Join(repoRoot(), "playbooks"))
			env.Setenv("TESTDATA", filepath.Join(repoRoot(), "testdata"))
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"diagnose-exit": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) < 1 {
					ts.Fatalf("usage: diagnose-exit CODE [args...]")
				}
				want, err := strconv.Atoi(args[0])
				if err != nil {
					ts.Fatalf("exit code %q: %v", args[0], err)
				}
				got := 0
				if err := ts.Exec("diagnose", args[1:]...); err != nil {
					var ee *exec.ExitError
					if !errors.As(err, &ee) {
						ts.Fatalf("run diagnose: %v", err)
					}
					got = ee.ExitCode()
				}
				if got != want {
					ts.Fatalf("diagnose exited %d, want %d", got, want)
				}
			},
		},
	})
}

func repoRoot() string {
	wd, _ := os.Getwd()
	return filepath.Join(wd, "..", "..")
}
