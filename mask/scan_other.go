//go:build !amd64 || purego

package mask

// useSIMD is false: there is no vector code for this architecture.
var useSIMD = false

const minSIMD = 0

// scan fills b for src[i:end].
func (m *Masker) scan(src []byte, i, end int, b *blockBits) {
	m.scanGeneric(src, i, end, b)
}
