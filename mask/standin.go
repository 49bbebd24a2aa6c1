package mask

// A stand-in is a valid value of a column's type that replaces a masked value the
// masker cannot rewrite in place (a masked int is still an int). Zero values, so a
// stand-in is recognisable and never a plausible real one.

// Type OIDs from PostgreSQL's pg_type.dat: stable across versions.
const (
	oidBool        = 16
	oidBytea       = 17
	oidInt8        = 20
	oidInt2        = 21
	oidInt4        = 23
	oidOID         = 26
	oidJSON        = 114
	oidPoint       = 600
	oidCIDR        = 650
	oidFloat4      = 700
	oidFloat8      = 701
	oidMacaddr8    = 774
	oidMacaddr     = 829
	oidInet        = 869
	oidDate        = 1082
	oidTime        = 1083
	oidTimestamp   = 1114
	oidTimestamptz = 1184
	oidInterval    = 1186
	oidTimetz      = 1266
	oidNumeric     = 1700
	oidUUID        = 2950
	oidJSONB       = 3802
)

// arrayOIDs are the array types whose stand-in is the empty array.
var arrayOIDs = []uint32{
	1000, 1001, 1005, 1007, 1016, 1009, 1014, 1015, 1021, 1022, 1231, 2951, 1182, 1183,
	1115, 1185, 1187, 199, 3807, 1041, 651, 1028, // bool … oid
}

// Days and microseconds from PostgreSQL's epoch, 2000-01-01, back to 1970-01-01: the
// binary stand-ins are the same instant as the text ones.
const (
	epochDays   = -10957
	epochMicros = -946684800000000
)

var (
	textStandIns = map[uint32][]byte{
		oidBool:        []byte("f"), // what PostgreSQL prints; drivers that read 't'/'f' only read it too
		oidBytea:       []byte(`\x`),
		oidInt8:        []byte("0"),
		oidInt2:        []byte("0"),
		oidInt4:        []byte("0"),
		oidOID:         []byte("0"),
		oidJSON:        []byte("null"),
		oidJSONB:       []byte("null"),
		oidPoint:       []byte("(0,0)"),
		oidCIDR:        []byte("0.0.0.0/32"),
		oidFloat4:      []byte("0"),
		oidFloat8:      []byte("0"),
		oidMacaddr:     []byte("00:00:00:00:00:00"),
		oidMacaddr8:    []byte("00:00:00:00:00:00:00:00"),
		oidInet:        []byte("0.0.0.0"),
		oidDate:        []byte("1970-01-01"),
		oidTime:        []byte("00:00:00"),
		oidTimetz:      []byte("00:00:00+00"),
		oidTimestamp:   []byte("1970-01-01 00:00:00"),
		oidTimestamptz: []byte("1970-01-01 00:00:00+00"),
		oidInterval:    []byte("00:00:00"),
		oidNumeric:     []byte("0"),
		oidUUID:        []byte("00000000-0000-0000-0000-000000000000"),
	}
	binaryStandIns = map[uint32][]byte{
		oidBool:        {0},
		oidBytea:       {},
		oidInt8:        make([]byte, 8),
		oidInt2:        make([]byte, 2),
		oidInt4:        make([]byte, 4),
		oidOID:         make([]byte, 4),
		oidJSON:        []byte("null"),
		oidJSONB:       []byte("\x01null"), // version 1, then the text
		oidPoint:       make([]byte, 16),
		oidCIDR:        {2, 32, 1, 4, 0, 0, 0, 0}, // family AF_INET, bits, is_cidr, length, address
		oidFloat4:      make([]byte, 4),
		oidFloat8:      make([]byte, 8),
		oidMacaddr:     make([]byte, 6),
		oidMacaddr8:    make([]byte, 8),
		oidInet:        {2, 32, 0, 4, 0, 0, 0, 0},
		oidDate:        be(epochDays, 4),
		oidTime:        make([]byte, 8),
		oidTimetz:      make([]byte, 12), // microseconds, then the zone's offset in seconds
		oidTimestamp:   be(epochMicros, 8),
		oidTimestamptz: be(epochMicros, 8),
		oidInterval:    make([]byte, 16), // microseconds, days, months
		oidNumeric:     make([]byte, 8),  // no digits, weight 0, positive, scale 0
		oidUUID:        make([]byte, 16),
	}
	emptyArrayText   = []byte("{}")
	emptyArrayBinary = []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0} // no dimensions, no nulls, element type 0
)

func be(v int64, size int) []byte {
	b := make([]byte, size)
	for k := size - 1; k >= 0; k-- {
		b[k] = byte(v)
		v >>= 8
	}
	return b
}

// StandIn returns a valid value in text format of the type with OID oid, to send in
// place of a masked value of a type that is not text: "0" for integers, numeric and
// floats, "f" for bool (PostgreSQL's own spelling), the nil UUID, 1970-01-01 for dates
// and timestamps, "0.0.0.0" for inet, "null" for json and jsonb, an empty bytea ("\x")
// and "{}" for arrays of those and of text. ok is false for any other type (text types
// included: mask their text): the caller then sends NULL or fails the statement, never
// the value. The bytes are shared: do not modify them.
func StandIn(oid uint32) (b []byte, ok bool) {
	if b, ok := textStandIns[oid]; ok {
		return b[:len(b):len(b)], true
	}
	for _, a := range arrayOIDs {
		if a == oid {
			return emptyArrayText[:2:2], true
		}
	}
	return nil, false
}

// StandInBinary is StandIn in binary format: the same values as PostgreSQL's send
// functions write them (the same instant for dates and timestamps). An empty array
// carries element type 0: decoders read its dimensions, which are none.
func StandInBinary(oid uint32) (b []byte, ok bool) {
	if b, ok := binaryStandIns[oid]; ok {
		return b[:len(b):len(b)], true
	}
	for _, a := range arrayOIDs {
		if a == oid {
			return emptyArrayBinary[:len(emptyArrayBinary):len(emptyArrayBinary)], true
		}
	}
	return nil, false
}
