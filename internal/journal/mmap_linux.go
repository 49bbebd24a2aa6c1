//go:build linux

package journal

import (
	"errors"
	"math"
	"os"
	"syscall"
)

// canMap says whether segment files can be mapped into memory.
const canMap = true

// reserveBlocks allocates the blocks of f's first size bytes, extending f to
// size bytes if it is shorter, so that writes to them cannot fail for want of
// space. It is a variable for tests.
var reserveBlocks = func(f *os.File, size int64) error {
	for {
		err := syscall.Fallocate(int(f.Fd()), 0, 0, size)
		if err != syscall.EINTR {
			return os.NewSyscallError("fallocate", err)
		}
	}
}

// notSupported reports whether err from reserveBlocks says the file system
// cannot reserve blocks.
func notSupported(err error) bool {
	return errors.Is(err, syscall.EOPNOTSUPP)
}

// mapFile maps f's first size bytes, readable and writable, shared with the
// file.
func mapFile(f *os.File, size int64) ([]byte, error) {
	if size > math.MaxInt {
		return nil, errors.New("too large to map")
	}
	m, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		return nil, os.NewSyscallError("mmap", err)
	}
	return m, nil
}

// unmapFile removes a mapping made by mapFile.
func unmapFile(m []byte) error {
	return os.NewSyscallError("munmap", syscall.Munmap(m))
}
