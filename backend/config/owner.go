package config

import (
	"fmt"
	"os"
	"syscall"
)

// owner returns a file's owner and permission bits.
func owner(path string) (uint32, os.FileMode, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, 0, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, fmt.Errorf("%s: cannot tell its owner", path)
	}
	return st.Uid, fi.Mode().Perm(), nil
}
