package tunnel

import (
	"bytes"
	"encoding/binary"
	"net"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// recordConn records each Write as one message.
type recordConn struct {
	net.Conn
	writes [][]byte
}

func (r *recordConn) Write(p []byte) (int, error) {
	r.writes = append(r.writes, bytes.Clone(p))
	return len(p), nil
}

func yamuxHeader(typ byte, length uint32) []byte {
	h := make([]byte, yamuxHeaderSize)
	h[0], h[1] = yamuxVersion, typ
	binary.BigEndian.PutUint32(h[4:], 1) // stream id
	binary.BigEndian.PutUint32(h[8:], length)
	return h
}

func TestCoalescer(t *testing.T) {
	small := bytes.Repeat([]byte("s"), 100)
	large := bytes.Repeat([]byte("L"), maxCoalescedBody+1)
	const typeWindowUpdate = 1
	tests := []struct {
		name   string
		writes [][]byte
		want   []int // length of each message on the wire
	}{
		{"small data frame joined", [][]byte{yamuxHeader(yamuxTypeData, 100), small}, []int{112}},
		{"large data frame passed through", [][]byte{yamuxHeader(yamuxTypeData, uint32(len(large))), large}, []int{12, len(large)}},
		{"window update alone", [][]byte{yamuxHeader(typeWindowUpdate, 0)}, []int{12}},
		{"zero-length data header alone", [][]byte{yamuxHeader(yamuxTypeData, 0)}, []int{12}},
		{
			"frames in a row",
			[][]byte{yamuxHeader(yamuxTypeData, 100), small, yamuxHeader(typeWindowUpdate, 0), yamuxHeader(yamuxTypeData, 100), small},
			[]int{112, 12, 112},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recordConn{}
			c := &coalescer{Conn: rec}
			var sent []byte
			for _, w := range tt.writes {
				n, err := c.Write(w)
				if err != nil || n != len(w) {
					t.Fatalf("write of %d bytes: got (%d, %v)", len(w), n, err)
				}
				sent = append(sent, w...)
			}
			var got []int
			var wire []byte
			for _, w := range rec.writes {
				got = append(got, len(w))
				wire = append(wire, w...)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("message sizes (-want +got):\n%s", diff)
			}
			if !bytes.Equal(wire, sent) {
				t.Error("the byte stream on the wire differs from what yamux wrote")
			}
		})
	}
}
