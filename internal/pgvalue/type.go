package pgvalue

import "fmt"

// Kind is how a type's values are read and written.
type Kind uint8

// Kinds of types. The comment names the types of each.
const (
	Unknown     Kind = iota // any other type: its text I/O is used in text format; binary is not read
	Text                    // text, varchar, bpchar, name, "char", xml, unknown, refcursor, cstring
	Int                     // int2, int4, int8, oid, xid, cid, xid8
	Float                   // float4, float8
	Numeric                 // numeric
	Money                   // money (lc_monetary C: "$1,234.56")
	Bool                    // bool
	Inet                    // inet, cidr
	Macaddr                 // macaddr, macaddr8
	UUID                    // uuid
	Bytea                   // bytea
	JSON                    // json
	JSONB                   // jsonb
	Date                    // date
	Time                    // time
	TimeTZ                  // timetz
	Timestamp               // timestamp
	TimestampTZ             // timestamptz
	Interval                // interval
	Bit                     // bit, varbit
	Enum                    // any enum: its label
	Array                   // any array; Type.Elem is the element type
	Record                  // record (2249) or a named composite; Type.Fields are its field types
	Range                   // any range; Type.Elem is the subtype
	Multirange              // any multirange; Type.Elem is the range type
	Domain                  // any domain; Type.Elem is the base type
)

var kindNames = [...]string{
	Unknown: "unknown", Text: "text", Int: "int", Float: "float", Numeric: "numeric",
	Money: "money", Bool: "bool", Inet: "inet", Macaddr: "macaddr", UUID: "uuid",
	Bytea: "bytea", JSON: "json", JSONB: "jsonb", Date: "date", Time: "time",
	TimeTZ: "timetz", Timestamp: "timestamp", TimestampTZ: "timestamptz",
	Interval: "interval", Bit: "bit", Enum: "enum", Array: "array", Record: "record",
	Range: "range", Multirange: "multirange", Domain: "domain",
}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Type is what Rewrite needs to know of a type.
type Type struct {
	OID    uint32   // 1041 (inet[])
	Kind   Kind     // Array
	Elem   uint32   // an array's element type, a range's subtype, a multirange's range type, a domain's base type: 869
	Fields []uint32 // a named composite's field types in order, dropped columns left out; nil for record (2249)
	Delim  byte     // an array's delimiter in text format: ',' (';' for box[]); 0 means ','
}

// Types is the caller's catalog, asked for the types Builtin does not know: domains,
// enums, composites, their arrays, ranges of user types, extension types. An error
// makes Rewrite fail: a value of a type nobody can describe is not passed on unread.
type Types interface {
	Type(oid uint32) (Type, error)
}

// Type OIDs of PostgreSQL's built-in types (pg_type.dat), stable across versions.
const (
	OIDBool        = 16
	OIDBytea       = 17
	OIDChar        = 18
	OIDName        = 19
	OIDInt8        = 20
	OIDInt2        = 21
	OIDInt4        = 23
	OIDText        = 25
	OIDOID         = 26
	OIDXID         = 28
	OIDCID         = 29
	OIDJSON        = 114
	OIDXML         = 142
	OIDCIDR        = 650
	OIDFloat4      = 700
	OIDFloat8      = 701
	OIDUnknown     = 705
	OIDMacaddr8    = 774
	OIDMoney       = 790
	OIDMacaddr     = 829
	OIDInet        = 869
	OIDBpchar      = 1042
	OIDVarchar     = 1043
	OIDDate        = 1082
	OIDTime        = 1083
	OIDTimestamp   = 1114
	OIDTimestamptz = 1184
	OIDInterval    = 1186
	OIDTimetz      = 1266
	OIDBit         = 1560
	OIDVarbit      = 1562
	OIDNumeric     = 1700
	OIDRefcursor   = 1790
	OIDRecord      = 2249
	OIDCstring     = 2275
	OIDRecordArray = 2287
	OIDUUID        = 2950
	OIDJSONB       = 3802
	OIDXID8        = 5069
)

// builtinOIDs bounds the OIDs of built-in types: all are below it.
const builtinOIDs = 8192

// builtin is every built-in type Rewrite reads; builtinIndex maps an OID to its
// position in builtin plus one (0: not built in). Both are read-only after init; an
// array index is what keeps the lookup off the hot path's profile.
var builtin, builtinIndex = func() ([]Type, *[builtinOIDs]uint8) {
	m := map[uint32]Type{}
	scalar := func(k Kind, oids ...uint32) {
		for _, o := range oids {
			m[o] = Type{OID: o, Kind: k}
		}
	}
	scalar(Text, OIDText, OIDVarchar, OIDBpchar, OIDName, OIDChar, OIDXML, OIDUnknown, OIDRefcursor, OIDCstring)
	scalar(Int, OIDInt2, OIDInt4, OIDInt8, OIDOID, OIDXID, OIDCID, OIDXID8)
	scalar(Float, OIDFloat4, OIDFloat8)
	scalar(Numeric, OIDNumeric)
	scalar(Money, OIDMoney)
	scalar(Bool, OIDBool)
	scalar(Inet, OIDInet, OIDCIDR)
	scalar(Macaddr, OIDMacaddr, OIDMacaddr8)
	scalar(UUID, OIDUUID)
	scalar(Bytea, OIDBytea)
	scalar(JSON, OIDJSON)
	scalar(JSONB, OIDJSONB)
	scalar(Date, OIDDate)
	scalar(Time, OIDTime)
	scalar(TimeTZ, OIDTimetz)
	scalar(Timestamp, OIDTimestamp)
	scalar(TimestampTZ, OIDTimestamptz)
	scalar(Interval, OIDInterval)
	scalar(Bit, OIDBit, OIDVarbit)
	// Built-in types read through their text I/O only: geometry, reg*, tid, aclitem,
	// tsvector, jsonpath, pg_lsn, snapshots, int2vector and oidvector (space-separated
	// in text), pg_node_tree and the statistics types.
	scalar(Unknown, 22, 24, 27, 30, 194, 600, 601, 602, 603, 604, 628, 718, 1033, 2202, 2203,
		2204, 2205, 2206, 2970, 3220, 3361, 3402, 3614, 3615, 3642, 3734, 3769, 4072, 4089,
		4096, 4191, 4600, 4601, 5017, 5038)
	m[OIDRecord] = Type{OID: OIDRecord, Kind: Record}
	ranges := [][3]uint32{ // range, subtype, multirange
		{3904, OIDInt4, 4451}, {3926, OIDInt8, 4536}, {3906, OIDNumeric, 4532},
		{3908, OIDTimestamp, 4533}, {3910, OIDTimestamptz, 4534}, {3912, OIDDate, 4535},
	}
	for _, r := range ranges {
		m[r[0]] = Type{OID: r[0], Kind: Range, Elem: r[1]}
		m[r[2]] = Type{OID: r[2], Kind: Multirange, Elem: r[0]}
	}
	arrays := [][2]uint32{ // array, element
		{1000, 16}, {1001, 17}, {1002, 18}, {1003, 19}, {1016, 20}, {1005, 21}, {1006, 22},
		{1007, 23}, {1008, 24}, {1009, 25}, {1028, 26}, {1010, 27}, {1011, 28}, {1012, 29},
		{1013, 30}, {199, 114}, {143, 142}, {1017, 600}, {1018, 601}, {1019, 602}, {1020, 603},
		{1027, 604}, {629, 628}, {651, 650}, {1021, 700}, {1022, 701}, {719, 718}, {775, 774},
		{791, 790}, {1040, 829}, {1041, 869}, {1034, 1033}, {1014, 1042}, {1015, 1043},
		{1182, 1082}, {1183, 1083}, {1115, 1114}, {1185, 1184}, {1187, 1186}, {1270, 1266},
		{1561, 1560}, {1563, 1562}, {1231, 1700}, {2201, 1790}, {2207, 2202}, {2208, 2203},
		{2209, 2204}, {2210, 2205}, {2211, 2206}, {1263, 2275}, {2951, 2950}, {2949, 2970},
		{3221, 3220}, {3643, 3614}, {3645, 3615}, {3644, 3642}, {3735, 3734}, {3770, 3769},
		{3807, 3802}, {3905, 3904}, {3907, 3906}, {3909, 3908}, {3911, 3910}, {3913, 3912},
		{3927, 3926}, {4073, 4072}, {4090, 4089}, {4097, 4096}, {4192, 4191}, {6150, 4451},
		{6151, 4532}, {6152, 4533}, {6153, 4534}, {6155, 4535}, {6157, 4536}, {5039, 5038},
		{271, 5069}, {OIDRecordArray, OIDRecord},
	}
	for _, a := range arrays {
		t := Type{OID: a[0], Kind: Array, Elem: a[1], Delim: ','}
		if a[1] == 603 { // box
			t.Delim = ';'
		}
		m[a[0]] = t
	}
	list := make([]Type, 0, len(m))
	index := new([builtinOIDs]uint8)
	for oid, t := range m {
		if oid >= builtinOIDs || len(list) >= 255 {
			panic("pgvalue: built-in type table outgrew its index")
		}
		list = append(list, t)
		index[oid] = uint8(len(list))
	}
	return list, index
}()

// Builtin returns the type with OID oid when it is one of PostgreSQL's built-in types
// that Rewrite knows: every scalar, their arrays, the built-in ranges and multiranges,
// record and record[].
func Builtin(oid uint32) (Type, bool) {
	if oid >= builtinOIDs || builtinIndex[oid] == 0 {
		return Type{}, false
	}
	return builtin[builtinIndex[oid]-1], true
}
