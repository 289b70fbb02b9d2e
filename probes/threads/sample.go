package threads

// The sample phase: each reading is one round over the target's threads
// (all of them, or the next slice of a large process), at the rate the
// thread count allows.

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/diagnose-sh/diagnose/probes/probe"
)

// Read takes one round of thread samples.
func (r *reader) Read(ctx context.Context, h probe.Host) {
	if r.pid <= 0 || r.ended {
		return
	}
	if r.files == nil || h.Root != r.root {
		r.files.Close()
		r.files = probe.NewTaskFiles(h, r.pid, 4096, "stat", "wchan", "syscall", "schedstat")
		r.root = h.Root
	}
	if r.rounds > 0 && h.Now.Before(r.next) {
		return
	}
	tids, err := r.taskIDs(h)
	if err != nil {
		if r.rounds > 0 {
			r.ended = true
		} else if r.firstErr == nil {
			r.firstErr = err
		}
		return
	}
	if len(tids) > maxThreadsPerRound {
		start := r.offset % len(tids)
		tids = append(append([]int(nil), tids[start:]...), tids[:start]...)[:maxThreadsPerRound]
		r.offset += maxThreadsPerRound
	}
	fdCache := map[int]fdKind{}
	kind := func(fd int) fdKind {
		if k, ok := fdCache[fd]; ok {
			return k
		}
		link, err := h.Readlink("proc", strconv.Itoa(r.pid), "fd", strconv.Itoa(fd))
		k := fdUnknown
		if err == nil {
			k = kindOfLink(link)
		}
		fdCache[fd] = k
		return k
	}
	futexGroups := map[uint64]int{}
	seen := 0
	live := map[int]bool{}
	for _, tid := range tids {
		sched, schedErr := r.schedstat(tid)
		a := r.acc[tid]
		var smp sample
		if a != nil && a.blocked && schedErr == nil && sched.RunNS == a.last.RunNS && sched.Slices == a.last.Slices {
			smp = r.reuse(tid, a)
			live[tid] = true
		} else {
			var alive bool
			if smp, alive = r.observe(tid, kind); alive {
				live[tid] = true
			}
			if smp.state == 0 {
				continue // gone, or a zombie: no longer part of the profile
			}
		}
		c := classify(smp.state, smp.wchan, smp.sc, kind)
		r.counts[c]++
		seen++
		if a == nil {
			a = &threadAcc{}
			r.acc[tid] = a
		}
		r.account(a, smp, c, futexGroups)
		if schedErr == nil {
			if !a.hasFirst {
				a.first, a.firstAt, a.hasFirst = sched, h.Now, true
			}
			a.last, a.lastAt, a.hasLast = sched, h.Now, true
		}
	}
	r.files.Prune(live)
	if seen == 0 {
		if r.rounds > 0 {
			r.ended = true
		}
		return
	}
	r.endRound(h, seen, futexGroups)
}

// account adds one thread's sample of this round to its accumulator and to
// the process's wait counts; futexGroups counts the lock waiters per futex.
func (r *reader) account(a *threadAcc, smp sample, c class, futexGroups map[uint64]int) {
	a.samples++
	a.cls[c]++
	a.blocked = smp.state == 'S' || smp.state == 'D'
	a.held = smp
	if c == clsLock {
		a.lock++
		if addr, mutex, ok := futexWait(smp.sc); ok {
			futexGroups[addr]++
			if mutex {
				r.mutexWaits++
			}
		}
	}
	if !a.blocked {
		return
	}
	if smp.wchan != "" && smp.wchan != "0" {
		r.wchans[smp.wchan] += smp.wchanWeight
	}
	if sc := smp.sc; sc != nil && !sc.Running && !sc.Outside {
		r.syscalls[syscallName(sc.Nr)]++
	} else if sc != nil && sc.Outside {
		r.syscalls["(page fault)"]++
	}
}

// endRound records a round of seen threads: the futex most waited on, the
// target's name at the first round, and when the next round may come.
func (r *reader) endRound(h probe.Host, seen int, futexGroups map[uint64]int) {
	best, bestAddr := 0, uint64(0)
	for addr, n := range futexGroups {
		if n > best || n == best && addr < bestAddr {
			best, bestAddr = n, addr
		}
	}
	r.sameSum += best
	if best > r.sameMax {
		r.sameMax, r.sameAddr = best, bestAddr
	}
	if r.rounds == 0 {
		r.firstAt = h.Now
		r.run = h.Run
		r.isJVM = isJVM(h, r.pid)
		if b, err := h.ReadFile("proc", strconv.Itoa(r.pid), "comm"); err == nil {
			r.comm = probe.Sanitize(strings.TrimSpace(string(b)))
		}
	}
	r.lastAt = h.Now
	r.rounds++
	r.samples += seen
	r.maxThreads = max(r.maxThreads, seen)
	// Adapt: a round of n threads may come at most every n/budget seconds.
	r.next = h.Now.Add(time.Duration(float64(seen) / r.budget * float64(time.Second)))
}

// sample is one thread's state at one round.
type sample struct {
	state       byte   // 0: the thread is gone or a zombie
	sc          *sysc  // nil when unreadable
	wchan       string // "" when not read
	wchanWeight int    // thread-samples this wchan reading stands for in top_wchans
	needWchan   bool   // the syscall does not explain the wait: wchan classifies it
}

// reuse returns the last sample of a blocked thread that has not been
// scheduled in since: it is still in that wait (or woken and not yet on a
// CPU, which its schedstat run-queue time accounts for), so stat, syscall
// and wchan would read the same. An idle thread pool costs one read per
// thread. Only a display sample may read wchan, once per wait.
func (r *reader) reuse(tid int, a *threadAcc) sample {
	r.reused++
	smp := &a.held
	if smp.needWchan {
		return *smp
	}
	smp.wchanWeight = 0
	if (tid+r.rounds)%wchanSubsample == 0 {
		if smp.wchan == "" {
			smp.wchan = r.readWchan(tid)
		}
		smp.wchanWeight = wchanSubsample
	}
	return *smp
}

// observe reads a thread's stat and, when it is blocked, its syscall and
// wchan. alive says whether its files are still there (a zombie's are).
func (r *reader) observe(tid int, kind func(fd int) fdKind) (smp sample, alive bool) {
	b, err := r.files.Read(tid, fileStat)
	if err != nil {
		r.files.Drop(tid)
		return smp, false
	}
	ts, err := parseTaskStat(b)
	if err != nil {
		return smp, true
	}
	if ts.State == 'Z' || ts.State == 'X' {
		return smp, true // exited, not yet reaped
	}
	smp.state = ts.State
	if ts.State != 'S' && ts.State != 'D' {
		return smp, true
	}
	if ts.HasField {
		r.blockedSeen++
		if ts.WchanSet {
			r.wchanFlagSeen++
		}
	}
	if r.syscallOK > 0 || r.syscallFails < 10 {
		b, err := r.files.Read(tid, fileSyscall)
		switch {
		case err != nil:
			r.syscallFails++
			r.syscallErr = err
		default:
			r.syscallOK++
			if s, err := parseSyscall(b); err == nil {
				smp.sc = &s
			}
		}
	}
	// wchan classifies a wait its syscall does not explain; where the
	// syscall does, it is only shown (top_wchans), so a rotating quarter
	// of those samples is read and each stands for four.
	sc := smp.sc
	switch {
	case sc == nil || sc.Running || sc.Outside || !explains(sc, kind):
		smp.needWchan, smp.wchanWeight = true, 1
	case (tid+r.rounds)%wchanSubsample == 0:
		smp.wchanWeight = wchanSubsample
	}
	if smp.wchanWeight > 0 {
		smp.wchan = r.readWchan(tid)
	}
	return smp, true
}

func (r *reader) readWchan(tid int) string {
	b, err := r.files.Read(tid, fileWchan)
	if err != nil {
		return ""
	}
	return stripWchan(string(b))
}

func (r *reader) schedstat(tid int) (probe.Schedstat, error) {
	b, err := r.files.Read(tid, fileSchedstat)
	if err != nil {
		return probe.Schedstat{}, err
	}
	return probe.ParseSchedstat(b)
}

// taskIDs lists the process's threads, sorted, at most every relistEvery:
// in between, threads that ended fail their reads and new ones wait for the
// next listing (listing 200 threads costs as much as sampling 30 of them).
func (r *reader) taskIDs(h probe.Host) ([]int, error) {
	if r.tids != nil && h.Now.Sub(r.listedAt) < relistEvery {
		return r.tids, nil
	}
	names, err := h.DirNames(probe.MaxThreads, "proc", strconv.Itoa(r.pid), "task")
	if err != nil {
		return nil, err
	}
	tids := make([]int, 0, len(names))
	for _, n := range names {
		if tid, err := strconv.Atoi(n); err == nil {
			tids = append(tids, tid)
		}
	}
	if len(tids) == 0 {
		return nil, fmt.Errorf("%w: no threads", probe.ErrNoProcess)
	}
	sort.Ints(tids)
	r.tids, r.listedAt = tids, h.Now
	return tids, nil
}

// NextRead is when the next round may come (probe.Pacer).
func (r *reader) NextRead() time.Time { return r.next }
