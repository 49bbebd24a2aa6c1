//go:build unix

package pgtest

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

// sysUser is the unprivileged user the server runs as when we are root.
type sysUser struct {
	name     string // "postgres"
	uid, gid int
}

// serverUser returns nil when the current user may run PostgreSQL, else the
// "postgres" system user, or "nobody" when there is none.
func serverUser() (*sysUser, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	var firstErr error
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		uid, err1 := strconv.Atoi(u.Uid)
		gid, err2 := strconv.Atoi(u.Gid)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("user %s: bad uid %q or gid %q", name, u.Uid, u.Gid)
		}
		return &sysUser{name: name, uid: uid, gid: gid}, nil
	}
	return nil, fmt.Errorf("running as root and no postgres or nobody user to run the server as: %w", firstErr)
}

// checkTraversable reports an error when u cannot reach into dir and all its
// parents.
func (u *sysUser) checkTraversable(dir string) error {
	for d := dir; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return fmt.Errorf("stat %s: %w", d, err)
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		perm := fi.Mode().Perm()
		switch {
		case perm&0o001 != 0:
		case ok && int(st.Uid) == u.uid && perm&0o100 != 0:
		case ok && int(st.Gid) == u.gid && perm&0o010 != 0:
		default:
			return fmt.Errorf("directory %s (mode %v) cannot be entered by user %s, who runs the server; "+
				"use a directory under /tmp (or set TMPDIR)", d, perm, u.name)
		}
		if parent := filepath.Dir(d); parent == d {
			return nil
		}
	}
}

// sysProcAttr runs a command as u (when not nil) and, where the system
// supports it, ends it when its parent dies.
func sysProcAttr(u *sysUser) *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{}
	if u != nil {
		attr.Credential = &syscall.Credential{Uid: uint32(u.uid), Gid: uint32(u.gid), NoSetGroups: true}
	}
	setParentDeathSignal(attr)
	return attr
}
