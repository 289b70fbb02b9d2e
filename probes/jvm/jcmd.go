package jvm

// jcmd outputs (JDK 11-21):
//
// jcmd PID VM.native_memory summary   (needs -XX:NativeMemoryTracking=summary|detail)
//
//	14543:
//	Native Memory Tracking:
//	Total: reserved=1709298KB, committed=332378KB
//	-                 Java Heap (reserved=262144KB, committed=262144KB)
//	-                     Class (reserved=1048648KB, committed=200KB)
//	...
//	or "Native memory tracking is not enabled"
//
// jcmd PID VM.flags
//
//	14543:
//	-XX:CICompilerCount=2 ... -XX:MaxHeapSize=268435456 ... -XX:+UseG1GC

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// ErrNMTOff means the JVM was started without -XX:NativeMemoryTracking.
var ErrNMTOff = errors.New("native memory tracking is not enabled in the JVM (start it with -XX:NativeMemoryTracking=summary)")

// ErrJcmd means jcmd's output was not what it prints on success.
var ErrJcmd = errors.New("unexpected jcmd output")

var (
	reNMTTotal = regexp.MustCompile(`^Total: reserved=(\d+)KB, committed=(\d+)KB`)
	reNMTCat   = regexp.MustCompile(`^-\s+(.+?) \(reserved=(\d+)KB, committed=(\d+)KB\)`)
	reThreads  = regexp.MustCompile(`^\s*\(thread #(\d+)\)`)
)

// nmt is a parsed VM.native_memory summary: committed bytes per category.
type nmt struct {
	total     uint64
	committed map[string]uint64
	threads   int
}

func parseNMT(b []byte) (nmt, error) {
	n := nmt{committed: map[string]uint64{}}
	if bytes.Contains(b, []byte("Native memory tracking is not enabled")) {
		return n, ErrNMTOff
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	cat := ""
	sawTotal := false
	for sc.Scan() {
		line := sc.Text()
		if m := reNMTTotal.FindStringSubmatch(line); m != nil {
			v, err := strconv.ParseUint(m[2], 10, 64)
			if err != nil || v > 1<<44 {
				return n, fmt.Errorf("%w: NMT total %q", ErrJcmd, clip(m[2]))
			}
			n.total, sawTotal = v*1024, true
			continue
		}
		if m := reNMTCat.FindStringSubmatch(line); m != nil {
			v, err := strconv.ParseUint(m[3], 10, 64)
			if err != nil || v > 1<<44 {
				return n, fmt.Errorf("%w: NMT category %q", ErrJcmd, clip(m[1]))
			}
			cat = strings.TrimSpace(m[1])
			n.committed[cat] += v * 1024
			continue
		}
		if m := reThreads.FindStringSubmatch(line); m != nil && cat == "Thread" {
			n.threads, _ = strconv.Atoi(m[1])
		}
	}
	if err := sc.Err(); err != nil {
		return n, fmt.Errorf("%w: %w", ErrJcmd, err)
	}
	if !sawTotal {
		return n, fmt.Errorf("%w: no Total line in VM.native_memory summary", ErrJcmd)
	}
	return n, nil
}

// parseVMFlags parses jcmd VM.flags: the options line(s) after the "PID:" header.
func parseVMFlags(b []byte) ([]string, error) {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasSuffix(line, ":") && !strings.Contains(line, " ") {
			continue
		}
		for _, f := range strings.Fields(line) {
			if !strings.HasPrefix(f, "-XX:") {
				return nil, fmt.Errorf("%w: VM.flags token %q", ErrJcmd, clip(f))
			}
			out = append(out, f)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrJcmd, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no flags in VM.flags output", ErrJcmd)
	}
	return out, nil
}
