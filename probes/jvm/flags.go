package jvm

// Pure parsing of JVM options and the heap ergonomics of HotSpot
// (Arguments::set_heap_size, JDK 11-21), verified on JDK 17.0.15:
//
//	phys   = -XX:MaxRAM if given, else min(container limit or host RAM, 128 GiB)
//	if phys×MinRAMPercentage(50) < MaxHeapSize default (≈125 MiB): heap = phys×MinRAMPercentage
//	else heap = max(phys×MaxRAMPercentage(25), ≈125 MiB)
//
// 200 MiB → 100 MiB (MaxRAMPercentage ignored), 256 MiB → 126 MiB, 512 MiB →
// 128 MiB, 1 GiB → 256 MiB, 4 GiB → 1 GiB.

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// ErrBadFlag means a JVM option value did not parse.
var ErrBadFlag = errors.New("bad JVM option")

const (
	mib = 1 << 20
	// defaultMaxHeapSize is HotSpot's built-in MaxHeapSize on 64-bit:
	// ScaleForWordSize(96 MiB) = 96 MiB × 1.3.
	defaultMaxHeapSize = 96 * mib * 13 / 10
	defaultMaxRAM      = 128 << 30
	heapAlign          = 2 * mib
	defaultStack       = 1 * mib
	codeCacheTiered    = 240 * mib
	codeCacheNoTiered  = 48 * mib
	// Cloud Foundry memory calculator's assumptions for what flags don't say.
	assumedDirect  = 10 * mib
	assumedClasses = 10000
	metaspacePer   = 5800
	metaspaceBase  = 14000000
	otherNative    = 20 * mib
)

// options is what the JVM flags say, last occurrence winning.
type options struct {
	xmx, maxRAM, xss, maxMeta, codeCache, maxDirect uint64
	maxRAMPct, minRAMPct                            float64
	hasMaxRAMPct, hasMinRAMPct                      bool
	xmxFlag                                         string // "-Xmx" or "-XX:MaxHeapSize"
	xmxFrom                                         string // where the heap flag came from
	containerSupport                                bool
	tiered                                          bool
	gc                                              string
	nmt                                             string
	attachDisabled                                  bool
	argfile                                         bool
}

// splitOptions splits an environment variable's options on white space,
// honouring single and double quotes as JDK_JAVA_OPTIONS does.
func splitOptions(s string) []string {
	var out []string
	var cur strings.Builder
	var quote rune
	in := false
	for _, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '"' || r == '\'':
			quote, in = r, true
		case unicode.IsSpace(r):
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if in {
		out = append(out, cur.String())
	}
	return out
}

// takesValue lists java launcher options followed by a separate value.
var takesValue = map[string]bool{
	"-cp": true, "-classpath": true, "--class-path": true, "-p": true, "--module-path": true,
	"--upgrade-module-path": true, "--add-modules": true, "--limit-modules": true, "--add-reads": true,
	"--add-exports": true, "--add-opens": true, "--patch-module": true, "--enable-native-access": true,
}

// launcherOptions returns the JVM options of a java command line (argv
// without argv[0]): everything before the main class, -jar or -m.
func launcherOptions(args []string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-jar" || a == "-m" || a == "--module" || a == "--source":
			return out
		case takesValue[a]:
			i++
		case !strings.HasPrefix(a, "-") && !strings.HasPrefix(a, "@"):
			return out
		default:
			out = append(out, a)
		}
	}
	return out
}

// embeddedOptions picks JVM-looking options anywhere in the arguments of a
// launcher that embeds libjvm (jsvc, custom launchers).
func embeddedOptions(args []string) []string {
	var out []string
	for _, a := range args {
		if strings.HasPrefix(a, "-X") || strings.HasPrefix(a, "-D") {
			out = append(out, a)
		}
	}
	return out
}

// parseSize parses a JVM size: digits with an optional k/m/g/t suffix.
func parseSize(s string) (uint64, error) {
	if s == "" {
		return 0, fmt.Errorf("%w: empty size", ErrBadFlag)
	}
	mult := uint64(1)
	switch s[len(s)-1] {
	case 'k', 'K':
		mult = 1 << 10
	case 'm', 'M':
		mult = 1 << 20
	case 'g', 'G':
		mult = 1 << 30
	case 't', 'T':
		mult = 1 << 40
	}
	if mult != 1 {
		s = s[:len(s)-1]
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: size %q", ErrBadFlag, clip(s))
	}
	if v > (1<<63)/mult {
		return 0, fmt.Errorf("%w: size %q overflows", ErrBadFlag, clip(s))
	}
	return v * mult, nil
}

func parsePct(s string) (float64, error) {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v < 0 || v > 100 {
		return 0, fmt.Errorf("%w: percentage %q", ErrBadFlag, clip(s))
	}
	return v, nil
}

// source is one group of options and where it came from.
type source struct {
	from string // "command line", "JAVA_TOOL_OPTIONS", ...
	opts []string
}

// parseOptions applies option groups in order (later wins). Bad values are
// collected and returned, never fatal: a JVM refuses to start with them, so
// they only appear in hostile or garbled input.
func parseOptions(groups []source) (options, []error) {
	o := options{containerSupport: true, tiered: true}
	var errs []error
	for _, g := range groups {
		for _, a := range g.opts {
			if err := o.apply(a, g.from); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return o, errs
}

func (o *options) apply(a, from string) error {
	size := func(v string, dst *uint64) error {
		n, err := parseSize(v)
		if err == nil {
			*dst = n
		}
		return err
	}
	xx := func(name string) (string, bool) {
		p := "-XX:" + name + "="
		if strings.HasPrefix(a, p) {
			return a[len(p):], true
		}
		return "", false
	}
	switch {
	case strings.HasPrefix(a, "@"):
		o.argfile = true
	case strings.HasPrefix(a, "-Xmx"):
		if err := size(a[4:], &o.xmx); err != nil {
			return err
		}
		o.xmxFlag, o.xmxFrom = "-Xmx", from
	case strings.HasPrefix(a, "-Xss"):
		return size(a[4:], &o.xss)
	case a == "-Xrs":
		o.attachDisabled = true
	case a == "-XX:+UseContainerSupport":
		o.containerSupport = true
	case a == "-XX:-UseContainerSupport":
		o.containerSupport = false
	case a == "-XX:-TieredCompilation":
		o.tiered = false
	case a == "-XX:+TieredCompilation":
		o.tiered = true
	case a == "-XX:+DisableAttachMechanism":
		o.attachDisabled = true
	case a == "-XX:+UseSerialGC", a == "-XX:+UseParallelGC", a == "-XX:+UseG1GC", a == "-XX:+UseZGC", a == "-XX:+UseShenandoahGC", a == "-XX:+UseEpsilonGC":
		o.gc = strings.TrimSuffix(strings.TrimPrefix(a, "-XX:+Use"), "GC")
	default:
		if v, ok := xx("MaxHeapSize"); ok {
			if err := size(v, &o.xmx); err != nil {
				return err
			}
			o.xmxFlag, o.xmxFrom = "-XX:MaxHeapSize", from
		} else if v, ok := xx("MaxRAM"); ok {
			return size(v, &o.maxRAM)
		} else if v, ok := xx("MaxRAMPercentage"); ok {
			p, err := parsePct(v)
			if err == nil {
				o.maxRAMPct, o.hasMaxRAMPct = p, true
			}
			return err
		} else if v, ok := xx("MinRAMPercentage"); ok {
			p, err := parsePct(v)
			if err == nil {
				o.minRAMPct, o.hasMinRAMPct = p, true
			}
			return err
		} else if v, ok := xx("MaxRAMFraction"); ok {
			n, err := strconv.ParseUint(v, 10, 32)
			if err != nil || n == 0 {
				return fmt.Errorf("%w: MaxRAMFraction %q", ErrBadFlag, clip(v))
			}
			o.maxRAMPct, o.hasMaxRAMPct = 100/float64(n), true
		} else if v, ok := xx("ThreadStackSize"); ok {
			n, err := parseSize(v)
			if err == nil {
				o.xss = n * 1024 // in KiB
			}
			return err
		} else if v, ok := xx("MaxMetaspaceSize"); ok {
			return size(v, &o.maxMeta)
		} else if v, ok := xx("ReservedCodeCacheSize"); ok {
			return size(v, &o.codeCache)
		} else if v, ok := xx("MaxDirectMemorySize"); ok {
			return size(v, &o.maxDirect)
		} else if v, ok := xx("NativeMemoryTracking"); ok {
			o.nmt = v
		}
	}
	return nil
}

// heap is the ergonomic result.
type heap struct {
	bytes  uint64
	source string
	basis  uint64 // the "physical memory" the percentages applied to
}

// maxHeap computes the effective max heap from options and the memory the
// JVM sees (the container limit with container support, else host RAM).
func maxHeap(o options, sees uint64) heap {
	if o.xmx > 0 {
		return heap{bytes: o.xmx, source: o.xmxFlag}
	}
	phys := sees
	if phys > defaultMaxRAM {
		phys = defaultMaxRAM
	}
	explicitMaxRAM := o.maxRAM > 0
	if explicitMaxRAM {
		phys = o.maxRAM
	}
	maxPct, minPct := 25.0, 50.0
	if o.hasMaxRAMPct {
		maxPct = o.maxRAMPct
	}
	if o.hasMinRAMPct {
		minPct = o.minRAMPct
	}
	reasonableMax := uint64(float64(phys) * maxPct / 100)
	reasonableMin := uint64(float64(phys) * minPct / 100)
	var h heap
	h.basis = phys
	if reasonableMin < defaultMaxHeapSize {
		h.bytes = reasonableMin
		h.source = "default small-memory share (MinRAMPercentage)"
		if o.hasMinRAMPct {
			h.source = "-XX:MinRAMPercentage"
		}
	} else {
		h.bytes = max(reasonableMax, defaultMaxHeapSize)
		switch {
		case h.bytes == defaultMaxHeapSize && reasonableMax < defaultMaxHeapSize:
			h.source = "built-in default MaxHeapSize"
		case o.hasMaxRAMPct:
			h.source = "-XX:MaxRAMPercentage"
		default:
			h.source = "default share (MaxRAMPercentage 25%)"
		}
	}
	if explicitMaxRAM {
		h.source = "-XX:MaxRAM"
	}
	h.bytes = (h.bytes + heapAlign - 1) / heapAlign * heapAlign
	return h
}

// chooseGC returns the collector HotSpot picks: server-class machines (2+
// CPUs and 1792+ MiB) get G1, others Serial.
func chooseGC(o options, cpus int, phys uint64) string {
	if o.gc != "" {
		return o.gc
	}
	if cpus >= 2 && phys >= 1792*mib {
		return "G1"
	}
	return "Serial"
}

// gcOverhead estimates GC data structures as a share of the heap (NMT on
// JDK 17: G1 ≈ 18 % for a 256 MiB heap, less for larger; Serial/Parallel a few %).
func gcOverhead(gc string) float64 {
	switch gc {
	case "G1":
		return 0.10
	case "Z", "Shenandoah":
		return 0.05
	case "Epsilon":
		return 0
	}
	return 0.03
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
