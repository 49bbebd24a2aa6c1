//go:build !linux

package journal

import (
	"errors"
	"os"
)

// canMap says whether segment files can be mapped into memory.
const canMap = false

// The functions below are never called where canMap is false.

var reserveBlocks = func(*os.File, int64) error { return errors.ErrUnsupported }

func notSupported(err error) bool { return errors.Is(err, errors.ErrUnsupported) }

func mapFile(*os.File, int64) ([]byte, error) { return nil, errors.ErrUnsupported }

func unmapFile([]byte) error { return errors.ErrUnsupported }
