package memory

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/diagnose-sh/diagnose/probes/probe"
)

// parseVmstat reads the paging counters of /proc/vmstat ("key value" lines).
// Unknown keys are ignored; a malformed line of a key we use is an error, as
// is a file with none of our keys.
func parseVmstat(b []byte) (vmstat, error) {
	var v vmstat
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		k, val, ok := bytes.Cut(line, []byte(" "))
		key := string(k)
		var add *uint64
		var bit uint8
		switch {
		case key == "pswpin":
			add, bit = &v.pswpin, hasSwap
		case key == "pswpout":
			add, bit = &v.pswpout, hasSwap
		case key == "pgmajfault":
			add, bit = &v.pgmajfault, hasMajflt
		case key == "pgscan_kswapd" || strings.HasPrefix(key, "pgscan_kswapd_"):
			add, bit = &v.scanKswapd, hasScanKswapd
		case key == "pgscan_direct_throttle":
			continue
		case key == "pgscan_direct" || strings.HasPrefix(key, "pgscan_direct_"):
			add, bit = &v.scanDirect, hasScanDirect
		case key == "pgscan_khugepaged":
			add, bit = &v.scanKhugepaged, hasScanKhugepaged
		default:
			continue
		}
		if !ok {
			return vmstat{}, fmt.Errorf("%w: %s has no value", probe.ErrFormat, key)
		}
		n, err := strconv.ParseUint(string(bytes.TrimSpace(val)), 10, 64)
		if err != nil {
			return vmstat{}, fmt.Errorf("%w: %s: %w", probe.ErrFormat, key, err)
		}
		*add += n
		v.has |= bit
	}
	if v.has == 0 {
		return vmstat{}, fmt.Errorf("%w: /proc/vmstat has none of pswpin, pgmajfault, pgscan_*", probe.ErrFormat)
	}
	return v, nil
}
