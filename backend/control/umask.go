package control

import "syscall"

// umask sets the process umask and returns the old one; the socket must be
// created 0600 with no window in which it is wider.
func umask(m int) int { return syscall.Umask(m) }
