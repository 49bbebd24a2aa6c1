package pgvalue_test

import (
	"testing"

	"github.com/hoopgw/hoop/internal/pgvalue"
	"github.com/hoopgw/hoop/mask"
)

// fuzzOIDs are the types FuzzRewrite reads its bytes as.
var fuzzOIDs = []uint32{
	pgvalue.OIDBool, pgvalue.OIDBytea, pgvalue.OIDChar, pgvalue.OIDInt8, pgvalue.OIDInt2,
	pgvalue.OIDInt4, pgvalue.OIDText, pgvalue.OIDOID, pgvalue.OIDJSON, pgvalue.OIDCIDR,
	pgvalue.OIDFloat4, pgvalue.OIDFloat8, pgvalue.OIDMoney, pgvalue.OIDMacaddr,
	pgvalue.OIDMacaddr8, pgvalue.OIDInet, pgvalue.OIDDate, pgvalue.OIDTime,
	pgvalue.OIDTimestamp, pgvalue.OIDTimestamptz, pgvalue.OIDInterval, pgvalue.OIDTimetz,
	pgvalue.OIDBit, pgvalue.OIDVarbit, pgvalue.OIDNumeric, pgvalue.OIDUUID, pgvalue.OIDJSONB,
	1007, 1009, 1041, 1231, 1001, 1016, 1020, pgvalue.OIDRecord, pgvalue.OIDRecordArray,
	3904, 3906, 3910, 4451, 4536, 6150, oidCard, oidCardArr, oidMood, oidPosInts, 603,
}

// FuzzRewrite: whatever the bytes and the type, Rewrite never panics; an all-Keep edit
// returns the value itself; and a value it rewrote reads again without error.
func FuzzRewrite(f *testing.F) {
	add := func(oid uint32, bin bool, v []byte) {
		for i, o := range fuzzOIDs {
			if o == oid {
				for mode := range uint8(4) {
					f.Add(v, uint8(i), bin, mode)
				}
			}
		}
	}
	for _, b := range benchValues() {
		add(b.oid, b.bin, b.v)
	}
	add(1009, false, []byte(`[0:2]={"a b",NULL,"c\"d\\"}`))
	add(oidCardArr, false, []byte(`{"(4111,10.0.0.1,\"{a,b}\")",NULL,"(,,)"}`))
	add(3904, false, []byte(`[1,10)`))
	add(6150, false, []byte(`{"{[1,3),[5,7)}",NULL}`))
	add(pgvalue.OIDBytea, false, []byte(`\x00ff`))
	add(pgvalue.OIDBytea, false, []byte(`a\\\000`))
	add(pgvalue.OIDNumeric, true, u16(2, 0xffff, 0x4000, 6, 1, 2000))
	add(pgvalue.OIDInterval, true, cat(u64(1<<40), u32(0xfffffffd, 14)))
	add(1231, true, cat(u32(1, 1, pgvalue.OIDNumeric, 2, 1), u32(8), u16(0, 0, 0xC000, 0), u32(0xffffffff)))
	add(3904, true, cat([]byte{0x02}, u32(4, 1, 4, 10)))
	f.Fuzz(func(t *testing.T, v []byte, typ uint8, bin bool, mode uint8) {
		oid := fuzzOIDs[int(typ)%len(fuzzOIDs)]
		out, null, err := pgvalue.Rewrite(nil, fakeTypes{}, oid, bin, v, keep)
		if err != nil {
			return
		}
		if null || !sameSlice(out, v) {
			t.Fatalf("all-Keep rewrite of %q gave %q (null %v)", v, out, null)
		}
		edit := func(l *pgvalue.Leaf) pgvalue.Edit {
			switch mode % 4 {
			case 1:
				return pgvalue.Edit{Null: true}
			case 2:
				if b, ok := mask.StandIn(l.Type.OID); ok {
					return pgvalue.Edit{Text: b}
				}
				return pgvalue.Edit{Text: []byte(`x "y",{z}\ (w)`)}
			case 3:
				return pgvalue.Edit{Text: l.Text}
			}
			return pgvalue.Edit{Keep: true}
		}
		out, null, err = pgvalue.Rewrite(nil, fakeTypes{}, oid, bin, v, edit)
		if err != nil {
			t.Fatalf("rewrite of a value it reads: %v", err)
		}
		if null {
			return
		}
		if _, _, err := pgvalue.Rewrite(nil, fakeTypes{}, oid, bin, out, keep); err != nil {
			t.Fatalf("rewrite of %q gave %q, which does not read again: %v", v, out, err)
		}
	})
}
