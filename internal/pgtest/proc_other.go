//go:build !unix

package pgtest

import (
	"errors"
	"syscall"
)

// sysUser is the unprivileged user the server runs as; unused here.
type sysUser struct {
	name     string
	uid, gid int
}

// serverUser returns nil: only unix needs a separate user.
func serverUser() (*sysUser, error) { return nil, nil }

func (u *sysUser) checkTraversable(string) error {
	return errors.New("running the server as another user is not supported on this system")
}

func sysProcAttr(*sysUser) *syscall.SysProcAttr { return nil }
