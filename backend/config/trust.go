package config

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

// Distrust says why the file this config came from may not set what runs
// a program or widens who may act ([app], [kiosk] admin_keys,
// [technician]) for a process others rely on (fieldlink as root, or the
// kiosk): it must be owned by root and writable by no one else, in
// directories only root can change. "" means it may.
func (c *Config) Distrust() string {
	if c.Path == "" {
		return ""
	}
	abs, fi, err := c.judged()
	if err != nil {
		return fmt.Sprintf("config %s: %v", c.Path, err)
	}
	if why := unsafeEntry(fi, false); why != "" {
		return fmt.Sprintf("config %s %s", c.Path, why)
	}
	// A directory others can write lets them swap the file for their own.
	for dir := filepath.Dir(abs); ; dir = filepath.Dir(dir) {
		di, err := os.Stat(dir)
		if err != nil {
			return fmt.Sprintf("config %s: %v", c.Path, err)
		}
		if why := unsafeEntry(di, true); why != "" {
			return fmt.Sprintf("config %s is in %s, which %s", c.Path, dir, why)
		}
		if dir == "/" {
			break
		}
	}
	return ""
}

// judged is the file to judge and where it really is: the one LoadFile
// read (a symlink resolved to its target, whose directories are walked),
// else what the path names now.
func (c *Config) judged() (string, os.FileInfo, error) {
	if c.opened != nil {
		return c.opened.real, c.opened.info, nil
	}
	abs, err := filepath.EvalSymlinks(c.Path)
	if err == nil {
		abs, err = filepath.Abs(abs)
	}
	if err != nil {
		return "", nil, err
	}
	fi, err := os.Stat(abs)
	return abs, fi, err
}

// unsafeEntry says what is wrong with a file or directory that only root
// should be able to change, or "".
func unsafeEntry(fi os.FileInfo, dir bool) string {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "has no owner this system can tell"
	}
	mode := fi.Mode()
	// A sticky directory (/tmp) lets no one replace another's file.
	writable := mode.Perm()&0o022 != 0 && !(dir && mode&os.ModeSticky != 0)
	switch {
	case st.Uid != 0 && dir:
		return fmt.Sprintf("is owned by %s, not root", account(st.Uid))
	case st.Uid != 0:
		return fmt.Sprintf("is owned by %s with mode %04o, not by root", account(st.Uid), mode.Perm())
	case writable && dir:
		return fmt.Sprintf("others can write (mode %04o)", mode.Perm())
	case writable:
		return fmt.Sprintf("is owned by root but writable by others (mode %04o)", mode.Perm())
	}
	return ""
}

func account(uid uint32) string {
	id := strconv.FormatUint(uint64(uid), 10)
	if u, err := user.LookupId(id); err == nil {
		return u.Username + " (uid " + id + ")"
	}
	return "uid " + id
}

// Restrict drops what an untrusted file may not set (see Distrust) back to
// the defaults, and says so; "" when nothing was dropped.
func (c *Config) Restrict() string {
	why := c.Distrust()
	if why == "" {
		return ""
	}
	d := Default()
	set := len(c.App.Command) > 0 || len(c.Kiosk.AdminKeys) > 0 || c.Technician.Act ||
		c.App.Dir != "" || len(c.App.Env) > 0 || c.Sync != d.Sync
	// [sync] names a file the instance in charge reads and a server it
	// sends it to: from an untrusted file, a way to read root's files.
	c.App, c.Kiosk, c.Technician, c.Sync = d.App, d.Kiosk, d.Technician, d.Sync
	if !set {
		return ""
	}
	return why + ": its [app], [kiosk] admin_keys, [technician] and [sync] are ignored, and their defaults used " +
		"(only a file root owns and no one else can change may start programs, let others act or send the journal away)"
}
