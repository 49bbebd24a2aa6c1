package pgvalue_test

import (
	"bytes"
	"fmt"

	"github.com/hoopgw/hoop/internal/pgvalue"
)

// A text[] in text format with one secret element: only that element changes, and the
// result is quoted as PostgreSQL quotes it.
func ExampleRewrite() {
	v := []byte(`{alice,"4111 1111 1111 1111",NULL}`)
	out, null, err := pgvalue.Rewrite(nil, nil, 1009, false, v, func(l *pgvalue.Leaf) pgvalue.Edit {
		if bytes.HasPrefix(l.Text, []byte("4111")) {
			return pgvalue.Edit{Text: []byte("**** **** **** 1111")}
		}
		return pgvalue.Edit{Keep: true}
	})
	fmt.Println(string(out), null, err)
	// Output: {alice,"**** **** **** 1111",NULL} false <nil>
}

// A binary int8[]: the leaves are the numbers as text; a number that must go is
// replaced by a stand-in of its type, re-encoded in binary.
func ExampleRewrite_binary() {
	v := []byte{
		0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 20, // one dimension, no NULLs, int8
		0, 0, 0, 2, 0, 0, 0, 1, // two elements from index 1
		0, 0, 0, 8, 0, 0x0e, 0x9b, 0x08, 0xa5, 0x68, 0xf1, 0xc7, // 4111111111111111
		0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 42,
	}
	out, _, _ := pgvalue.Rewrite(nil, nil, 1016, true, v, func(l *pgvalue.Leaf) pgvalue.Edit {
		fmt.Printf("%v %s %s\n", l.Path, l.Type.Kind, l.Text)
		if len(l.Text) > 12 {
			return pgvalue.Edit{Text: []byte("0")}
		}
		return pgvalue.Edit{Keep: true}
	})
	fmt.Printf("% x\n", out[20:32])
	// Output:
	// [{0 true}] int 4111111111111111
	// [{1 true}] int 42
	// 00 00 00 08 00 00 00 00 00 00 00 00
}
