// Package hsperf reads the performance counters every HotSpot JVM publishes
// in a memory-mapped file (hsperfdata, what jstat reads): garbage
// collection, heap, metaspace, threads and safepoints, without attaching to
// the JVM or running anything in it.
package hsperf

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// The file starts with a prologue (HotSpot's PerfDataPrologue) and holds an
// entry table (PerfDataEntry): each entry a name, a type, and its data.
const (
	magic        = 0xcafec0c0 // big-endian, whatever the byte order of the rest
	prologueSize = 32
	entryHeader  = 20 // entry_length, name_offset, vector_length, type, flags, units, variability, data_offset
	maxEntries   = 4096
)

// Counters is one reading of a JVM's counters. Times are in ticks of
// Frequency per second; sizes in bytes.
type Counters struct {
	Ticks     int64 // sun.os.hrt.ticks: ticks since the JVM started
	Frequency int64 // sun.os.hrt.frequency: ticks per second

	VMName string // java.property.java.vm.name
	Policy string // sun.gc.policy.name

	Collectors  []Collector  // sun.gc.collector.N, by N
	Generations []Generation // sun.gc.generation.N, by N: 0 young, 1 old

	MetaspaceUsed, MetaspaceCommitted, MetaspaceMax int64 // sun.gc.metaspace.{used,capacity,maxCapacity}
	ClassUsed, ClassCommitted, ClassMax             int64 // sun.gc.compressedclassspace.*
	CompiledCodeBytes                               int64 // sun.ci.nmethodSize: JIT-compiled methods in the code cache

	ThreadsLive, ThreadsDaemon, ThreadsPeak int64 // java.threads.{live,daemon,livePeak}

	Safepoints         int64 // sun.rt.safepoints
	SafepointTicks     int64 // sun.rt.safepointTime: time at safepoints
	SafepointSyncTicks int64 // sun.rt.safepointSyncTime: time bringing threads to them
}

// Collector is one collector's cumulative counters.
type Collector struct {
	Name        string
	Invocations int64
	Ticks       int64
}

// Generation is one heap generation: its capacity and the sum of its spaces' use.
type Generation struct {
	Name                      string
	Used, Committed, MaxBytes int64
}

// Errors a reading can end with.
var (
	ErrNotHSPerf     = errors.New("not an hsperfdata file")
	ErrNotAccessible = errors.New("the JVM has not made its counters accessible yet (it is starting)")
)

// Parse decodes an hsperfdata file. It reads only the counters Counters
// holds; a truncated or garbled file is an error, never a made-up zero.
func Parse(b []byte) (Counters, error) {
	var c Counters
	if len(b) < prologueSize {
		return c, fmt.Errorf("%w: %d bytes, shorter than its %d-byte prologue", ErrNotHSPerf, len(b), prologueSize)
	}
	if m := binary.BigEndian.Uint32(b); m != magic {
		return c, fmt.Errorf("%w: magic %#x, want %#x", ErrNotHSPerf, m, magic)
	}
	var order binary.ByteOrder
	switch b[4] {
	case 0:
		order = binary.BigEndian
	case 1:
		order = binary.LittleEndian
	default:
		return c, fmt.Errorf("%w: byte order %d", ErrNotHSPerf, b[4])
	}
	if major := b[5]; major != 2 {
		return c, fmt.Errorf("hsperfdata version %d.%d is not supported (HotSpot 1.5 and later write 2.x)", major, b[6])
	}
	if b[7] == 0 {
		return c, ErrNotAccessible
	}
	off := int64(int32(order.Uint32(b[24:])))
	n := int64(int32(order.Uint32(b[28:])))
	if n < 0 || n > maxEntries {
		return c, fmt.Errorf("%w: %d entries", ErrNotHSPerf, n)
	}
	for i := int64(0); i < n; i++ {
		if off < prologueSize || off+entryHeader > int64(len(b)) {
			return c, fmt.Errorf("hsperfdata entry %d of %d at offset %d: outside the %d-byte file", i, n, off, len(b))
		}
		e := b[off:]
		length := int64(int32(order.Uint32(e)))
		if length < entryHeader || off+length > int64(len(b)) {
			return c, fmt.Errorf("hsperfdata entry %d: length %d at offset %d does not fit the file", i, length, off)
		}
		e = e[:length]
		nameOff := int64(int32(order.Uint32(e[4:])))
		vecLen := int64(int32(order.Uint32(e[8:])))
		typ := e[12]
		dataOff := int64(int32(order.Uint32(e[16:])))
		if nameOff < entryHeader || nameOff >= length || dataOff < entryHeader || dataOff > length {
			return c, fmt.Errorf("hsperfdata entry %d: name or data outside the entry", i)
		}
		name, _, ok := bytes.Cut(e[nameOff:], []byte{0})
		if !ok {
			return c, fmt.Errorf("hsperfdata entry %d: name not terminated", i)
		}
		switch {
		case typ == 'J' && vecLen == 0:
			if dataOff+8 > length {
				return c, fmt.Errorf("hsperfdata entry %d (%s): value outside the entry", i, name)
			}
			c.setLong(name, int64(order.Uint64(e[dataOff:])))
		case typ == 'B' && vecLen > 0:
			if dataOff+vecLen > length {
				return c, fmt.Errorf("hsperfdata entry %d (%s): string outside the entry", i, name)
			}
			s, _, _ := bytes.Cut(e[dataOff:dataOff+vecLen], []byte{0})
			c.setString(name, s)
		}
		off += length
	}
	if c.Frequency <= 0 {
		return c, fmt.Errorf("%w: no sun.os.hrt.frequency counter", ErrNotHSPerf)
	}
	return c, nil
}

func (c *Counters) setLong(name []byte, v int64) {
	switch string(name) { // no allocation: the compiler compares the bytes
	case "sun.os.hrt.ticks":
		c.Ticks = v
	case "sun.os.hrt.frequency":
		c.Frequency = v
	case "sun.gc.metaspace.used":
		c.MetaspaceUsed = v
	case "sun.gc.metaspace.capacity":
		c.MetaspaceCommitted = v
	case "sun.gc.metaspace.maxCapacity":
		c.MetaspaceMax = v
	case "sun.gc.compressedclassspace.used":
		c.ClassUsed = v
	case "sun.gc.compressedclassspace.capacity":
		c.ClassCommitted = v
	case "sun.gc.compressedclassspace.maxCapacity":
		c.ClassMax = v
	case "sun.ci.nmethodSize":
		c.CompiledCodeBytes = v
	case "java.threads.live":
		c.ThreadsLive = v
	case "java.threads.daemon":
		c.ThreadsDaemon = v
	case "java.threads.livePeak":
		c.ThreadsPeak = v
	case "sun.rt.safepoints":
		c.Safepoints = v
	case "sun.rt.safepointTime":
		c.SafepointTicks = v
	case "sun.rt.safepointSyncTime":
		c.SafepointSyncTicks = v
	default:
		if i, field, ok := indexed(name, "sun.gc.collector."); ok {
			col := grow(&c.Collectors, i)
			switch string(field) {
			case "invocations":
				col.Invocations = v
			case "time":
				col.Ticks = v
			}
		} else if i, field, ok := indexed(name, "sun.gc.generation."); ok {
			gen := grow(&c.Generations, i)
			switch {
			case string(field) == "capacity":
				gen.Committed = v
			case string(field) == "maxCapacity":
				gen.MaxBytes = v
			case bytes.HasPrefix(field, []byte("space.")) && bytes.HasSuffix(field, []byte(".used")):
				gen.Used += v
			}
		}
	}
}

func (c *Counters) setString(name, v []byte) {
	switch string(name) {
	case "java.property.java.vm.name":
		c.VMName = string(v)
	case "sun.gc.policy.name":
		c.Policy = string(v)
	default:
		if i, field, ok := indexed(name, "sun.gc.collector."); ok && string(field) == "name" {
			grow(&c.Collectors, i).Name = string(v)
		} else if i, field, ok := indexed(name, "sun.gc.generation."); ok && string(field) == "name" {
			grow(&c.Generations, i).Name = string(v)
		}
	}
}

// maxIndex bounds collector and generation numbers (HotSpot has at most 3 of each).
const maxIndex = 8

// indexed splits "sun.gc.collector.2.time" into 2 and "time".
func indexed(name []byte, prefix string) (int, []byte, bool) {
	rest, ok := bytes.CutPrefix(name, []byte(prefix))
	if !ok {
		return 0, nil, false
	}
	num, field, ok := bytes.Cut(rest, []byte("."))
	if !ok || len(num) != 1 || num[0] < '0' || num[0] >= '0'+maxIndex {
		return 0, nil, false
	}
	return int(num[0] - '0'), field, true
}

func grow[T any](s *[]T, i int) *T {
	for len(*s) <= i {
		var zero T
		*s = append(*s, zero)
	}
	return &(*s)[i]
}
