package pgcopy_test

import (
	"fmt"

	"github.com/hoopgw/hoop/internal/pgcopy"
)

// Masking the second column of the rows of COPY customers (name, ssn) TO STDOUT (FORMAT csv).
func Example() {
	o := pgcopy.Defaults(true)
	var fields []pgcopy.Field
	var out []byte
	for _, row := range []string{"\"Doe, Jane\",123-45-6789\n", "Bob,\n"} {
		var err error
		fields, err = pgcopy.Split([]byte(row), o, fields)
		if err != nil || len(fields) != 2 {
			fmt.Println("refused:", err)
			return
		}
		if !fields[1].Null {
			fields[1].Value = []byte("***-**-****")
		}
		out = pgcopy.Append(out[:0], fields, o)
		fmt.Printf("%q\n", out)
	}
	// Output:
	// "\"Doe, Jane\",***-**-****\n"
	// "Bob,\n"
}
