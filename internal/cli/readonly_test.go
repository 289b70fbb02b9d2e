package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/diagnose-sh/diagnose/probes/probetest"
)

var (
	traceLine = regexp.MustCompile(`^(\d+) +(\w+)\((.*)\) += (-?\d+|\?)`)
	openPath  = regexp.MustCompile(`^(?:AT_FDCWD|\d+), "([^"]*)", ([A-Z_|]+)`)
	writeFlag = regexp.MustCompile(`O_WRONLY|O_RDWR|O_CREAT|O_TRUNC|O_APPEND`)
	quoted    = regexp.MustCompile(`"([^"]*)"`)
)

// A full run only reads: traced with strace, diagnose opens nothing for
// writing but the output file it was asked to write, creates, renames or
// deletes nothing (the output goes to a temporary file beside it, renamed
// into place), signals no process but its own threads (the Go runtime's
// preemption), never ptraces and runs no program.
func TestDiagnoseOnlyReads(t *testing.T) {
	probetest.Live(t)
	probetest.Need(t, "strace")
	bin := buildBinary(t)
	target := probetest.Start(t, "sleep", "600")
	dir := t.TempDir()
	for _, args := range [][]string{
		{"slow-app", "--pid", strconv.Itoa(target.Process.Pid)},
		{"oom-container", "--pid", strconv.Itoa(target.Process.Pid)},
		{"system"},
	} {
		t.Run(args[0], func(t *testing.T) {
			out := filepath.Join(dir, args[0]+".json")
			trace := filepath.Join(dir, args[0]+".trace")
			cmd := exec.Command("strace", append([]string{"-f", "-qq", "-o", trace, "-e",
				"trace=open,openat,openat2,creat,truncate,ftruncate,unlink,unlinkat,rename,renameat,renameat2,mkdir,mkdirat,rmdir," +
					"chmod,fchmod,fchmodat,chown,fchown,fchownat,kill,tkill,tgkill,pidfd_send_signal,ptrace,execve,execveat,mount,umount2",
				bin}, append(args, "--duration", "500ms", "--output", "json="+out)...)...)
			output, err := cmd.CombinedOutput()
			if ee, ok := err.(*exec.ExitError); err != nil && (!ok || ee.ExitCode() == exitUsage) {
				t.Fatalf("diagnose %v: %v\n%s", args, err, output)
			}
			b, err := os.ReadFile(trace)
			if err != nil {
				t.Fatal(err)
			}
			opened, bad := traceViolations(string(b), out)
			for _, v := range bad {
				t.Errorf("%s", v)
			}
			if opened < 10 || !strings.Contains(string(b), "/proc/") {
				t.Fatalf("the trace shows no reads of /proc (%d opens): tracing did not work\n%s", opened, output)
			}
			if _, err := os.Stat(out); err != nil {
				t.Errorf("the requested output file was not written: %v", err)
			}
		})
	}
}

// traceViolations reads strace -f output and returns how many files were
// opened and every call that changed the system, signalled another process
// or ran a program. out is the one file diagnose was asked to write.
func traceViolations(trace, out string) (int, []string) {
	lines := joinResumed(strings.Split(trace, "\n"))
	pids := map[string]bool{}
	for _, l := range lines {
		if m := traceLine.FindStringSubmatch(l); m != nil {
			pids[m[1]] = true
		}
	}
	// The output is written to a temporary file beside it (".NAME.tmp-*"),
	// chmod'ed and renamed into place: those three calls are allowed.
	temp := filepath.Join(filepath.Dir(out), "."+filepath.Base(out)+".tmp-")
	tempFDs := map[string]bool{}
	var bad []string
	opened, execs := 0, 0
	for _, l := range lines {
		m := traceLine.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		call, argv := m[2], m[3]
		switch call {
		case "open", "openat", "openat2":
			om := openPath.FindStringSubmatch(argv)
			if om == nil {
				continue
			}
			opened++
			switch {
			case strings.HasPrefix(om[1], temp):
				tempFDs[m[4]] = true
			case writeFlag.MatchString(om[2]) && om[1] != out:
				bad = append(bad, "opened for writing: "+l)
			}
		case "fchmod":
			if !tempFDs[strings.SplitN(argv, ",", 2)[0]] {
				bad = append(bad, "changed the system: "+l)
			}
		case "rename", "renameat", "renameat2":
			paths := quoted.FindAllStringSubmatch(argv, -1)
			if len(paths) != 2 || !strings.HasPrefix(paths[0][1], temp) || paths[1][1] != out {
				bad = append(bad, "changed the system: "+l)
			}
		case "execve", "execveat":
			if execs++; execs > 1 {
				bad = append(bad, "ran a program: "+l)
			}
		case "kill", "tkill", "tgkill", "pidfd_send_signal":
			if target := strings.SplitN(argv, ",", 2)[0]; !pids[target] || !strings.Contains(argv, "SIGURG") {
				bad = append(bad, "signalled another process: "+l)
			}
		default:
			bad = append(bad, "changed the system: "+l)
		}
	}
	return opened, bad
}

// joinResumed rejoins the calls strace -f splits when another thread runs
// in between: "PID call(args <unfinished ...>" and, later, "PID <... call
// resumed>) = N".
func joinResumed(lines []string) []string {
	pending := map[string]string{}
	out := make([]string, 0, len(lines))
	for _, l := range lines {
		pid, rest, _ := strings.Cut(l, " ")
		rest = strings.TrimLeft(rest, " ")
		switch {
		case strings.HasSuffix(l, " <unfinished ...>"):
			pending[pid] = strings.TrimSuffix(l, " <unfinished ...>")
		case strings.HasPrefix(rest, "<... "):
			if _, tail, ok := strings.Cut(rest, " resumed>"); ok && pending[pid] != "" {
				out = append(out, pending[pid]+tail)
			}
			delete(pending, pid)
		default:
			out = append(out, l)
		}
	}
	return out
}

func TestTraceViolationsCatchesWrites(t *testing.T) {
	trace := `100 execve("/bin/diagnose", ["diagnose"], 0x7ffd /* 20 vars */) = 0
100 openat(AT_FDCWD, "/proc/stat", O_RDONLY|O_CLOEXEC) = 3
101 tgkill(100, 101, SIGURG) = 0
100 openat(AT_FDCWD, "/tmp/out.json", O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC, 0666) = 4
100 openat(AT_FDCWD, "/tmp/.out.json.tmp-123", O_RDWR|O_CREAT|O_EXCL|O_CLOEXEC, 0600) = 6
100 fchmod(6, 0644) = 0
100 renameat(AT_FDCWD, "/tmp/.out.json.tmp-123", AT_FDCWD, "/tmp/out.json") = 0
100 openat(AT_FDCWD, "/sys/fs/cgroup/memory/x/memory.limit_in_bytes", O_WRONLY|O_CLOEXEC) = 5
100 fchmod(5, 0777) = 0
100 renameat(AT_FDCWD, "/etc/passwd", AT_FDCWD, "/tmp/out.json") = 0
100 kill(4242, SIGQUIT) = 0
100 execve("/usr/bin/jcmd", ["jcmd"], 0x7ffd /* 20 vars */) = 0
100 unlinkat(AT_FDCWD, "/tmp/.attach_pid4242", 0) = 0
102 openat(AT_FDCWD, "/tmp/.out.json.tmp-456", O_RDWR|O_CREAT|O_EXCL|O_CLOEXEC, 0600 <unfinished ...>
103 openat(AT_FDCWD, "/proc/stat", O_RDONLY|O_CLOEXEC) = 8
102 <... openat resumed>) = 7
102 fchmod(7, 0644) = 0
104 openat(AT_FDCWD, "/sys/fs/cgroup/cpu/x/cpu.shares", O_WRONLY|O_CLOEXEC <unfinished ...>
104 <... openat resumed>) = 9
`
	opened, bad := traceViolations(trace, "/tmp/out.json")
	if opened != 7 || len(bad) != 7 || !strings.Contains(bad[6], "cpu.shares") {
		t.Fatalf("opened %d, violations %q; want 7 opens and 7 violations (limit_in_bytes write, its fchmod, the other rename, kill, jcmd, unlink; cpu.shares, whose open another thread split)", opened, bad)
	}
}
