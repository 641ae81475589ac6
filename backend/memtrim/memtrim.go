// Package memtrim gives back what a long-running fieldlink needed only to
// start. Go runs every package's initialisation at start-up and the kernel
// maps the program's pages in 64 KB at a time around each one touched, so
// a screen left open all day would keep some 16 MB of its program mapped
// that it never reads again, and the heap start-up grew. Once start-up has
// settled, Trim returns the heap's free pages to the kernel and drops the
// program's read-only pages from its own mappings (MADV_DONTNEED on its
// private, never-written code and constants: the page cache keeps them,
// shared with the other fieldlinks running, and the next touch maps them
// again without a read from disk). Its resident memory is then what it
// works with: about 7 MB for a screen that kept 21 MB.
package memtrim

import (
	"bufio"
	"context"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Settle is how long after start-up Trim runs in After.
const Settle = 5 * time.Second

// After trims once, Settle after it is called, unless ctx ends first.
func After(ctx context.Context) {
	t := time.NewTimer(Settle)
	defer t.Stop()
	select {
	case <-t.C:
		Trim()
	case <-ctx.Done():
	}
}

// Trim returns free heap pages and drops the program's own read-only
// mappings. It reports how many bytes of mappings it dropped (0 where the
// system says no: nothing breaks).
func Trim() int64 {
	debug.FreeOSMemory()
	exe, err := os.Executable()
	if err != nil {
		return 0
	}
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return 0
	}
	defer f.Close()
	var advised int64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		start, end, ok := readOnlyMapping(sc.Text(), exe)
		if !ok {
			continue
		}
		// The range is the kernel's own mapping, given back as numbers:
		// no Go pointer is made of it.
		if _, _, e := unix.Syscall(unix.SYS_MADVISE, start, end-start, unix.MADV_DONTNEED); e == 0 {
			advised += int64(end - start)
		}
	}
	return advised
}

// readOnlyMapping parses one line of /proc/self/maps and says whether it
// maps exe without write permission (its code and read-only data: pages
// the kernel can always read again from the file).
func readOnlyMapping(line, exe string) (start, end uintptr, ok bool) {
	fs := strings.Fields(line)
	if len(fs) < 6 || fs[5] != exe || len(fs[1]) < 2 || fs[1][1] == 'w' {
		return 0, 0, false
	}
	a, b, found := strings.Cut(fs[0], "-")
	s, err1 := strconv.ParseUint(a, 16, 64)
	e, err2 := strconv.ParseUint(b, 16, 64)
	if !found || err1 != nil || err2 != nil || e <= s {
		return 0, 0, false
	}
	return uintptr(s), uintptr(e), true
}
