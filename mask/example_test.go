package mask_test

import (
	"fmt"

	"github.com/hoopgw/hoop/mask"
)

func ExampleMasker_Mask() {
	m, err := mask.New(&mask.Config{Detectors: mask.Detectors(), Mode: mask.Partial})
	if err != nil {
		panic(err)
	}
	out, found, null := m.Mask(nil, []byte("card 4111 1111 1111 1111, bob@example.com"))
	fmt.Println(string(out))
	fmt.Println(found, null)
	// Output:
	// card **** **** **** 1111, ***@example.com
	// credit_card=1 email=1 false
}

func ExampleMasker_MaskWhole() {
	m, err := mask.New(&mask.Config{Mode: mask.Partial}) // a column rule: "*.ssn"
	if err != nil {
		panic(err)
	}
	out, _ := m.MaskWhole(nil, []byte("078-05-1120"))
	fmt.Println(string(out))
	// Output: ***-**-1120
}

func ExampleStandIn() {
	const int8OID = 20
	b, ok := mask.StandIn(int8OID) // a masked bigint is still a bigint
	fmt.Println(string(b), ok)
	// Output: 0 true
}
