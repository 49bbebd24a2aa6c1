package pgtest

import "syscall"

// setParentDeathSignal asks Linux to send postgres SIGINT (fast shutdown) if
// the test process dies without calling Stop, so no server is left behind.
func setParentDeathSignal(attr *syscall.SysProcAttr) {
	attr.Pdeathsig = syscall.SIGINT
}
