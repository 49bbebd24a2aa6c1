//go:build !unix

package journal

import "os"

// lockDir does nothing where flock(2) is not: one gateway per data dir is the operator's
// to keep.
func lockDir(string) (*os.File, error) { return nil, nil }
