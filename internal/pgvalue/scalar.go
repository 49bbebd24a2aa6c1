package pgvalue

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
)

// errMalformed wraps every error about bytes that are not a value of their type.
var errMalformed = errors.New("malformed value")

func malformed(what string, args ...any) error {
	return fmt.Errorf("%w: "+what, append([]any{errMalformed}, args...)...)
}

// intSize returns the width in binary format of an Int type, and whether it is unsigned.
func intSize(oid uint32) (int, bool) {
	switch oid {
	case OIDInt2:
		return 2, false
	case OIDInt8:
		return 8, false
	case OIDXID8:
		return 8, true
	case OIDOID, OIDXID, OIDCID:
		return 4, true
	}
	return 4, false
}

// appendBinaryText writes the text PostgreSQL prints for the binary scalar v of type t.
func appendBinaryText(dst []byte, t Type, v []byte) ([]byte, error) {
	be := binary.BigEndian
	switch t.Kind {
	case Int:
		size, unsigned := intSize(t.OID)
		if len(v) != size {
			return nil, malformed("%s of %d bytes", t.Kind, len(v))
		}
		switch {
		case size == 2:
			return strconv.AppendInt(dst, int64(int16(be.Uint16(v))), 10), nil
		case size == 4 && unsigned:
			return strconv.AppendUint(dst, uint64(be.Uint32(v)), 10), nil
		case size == 4:
			return strconv.AppendInt(dst, int64(int32(be.Uint32(v))), 10), nil
		case unsigned:
			return strconv.AppendUint(dst, be.Uint64(v), 10), nil
		}
		return strconv.AppendInt(dst, int64(be.Uint64(v)), 10), nil
	case Float:
		switch len(v) {
		case 4:
			return appendFloat(dst, float64(math.Float32frombits(be.Uint32(v))), 32), nil
		case 8:
			return appendFloat(dst, math.Float64frombits(be.Uint64(v)), 64), nil
		}
		return nil, malformed("float of %d bytes", len(v))
	case Numeric:
		return appendNumericText(dst, v)
	case Money:
		if len(v) != 8 {
			return nil, malformed("money of %d bytes", len(v))
		}
		return appendMoney(dst, int64(be.Uint64(v))), nil
	case Bool:
		if len(v) != 1 {
			return nil, malformed("bool of %d bytes", len(v))
		}
		if v[0] != 0 {
			return append(dst, 't'), nil
		}
		return append(dst, 'f'), nil
	case Inet:
		return appendInetText(dst, v)
	case Macaddr:
		if len(v) != 6 && len(v) != 8 {
			return nil, malformed("macaddr of %d bytes", len(v))
		}
		for i, b := range v {
			if i > 0 {
				dst = append(dst, ':')
			}
			dst = append(dst, hexDigits[b>>4], hexDigits[b&15])
		}
		return dst, nil
	case UUID:
		if len(v) != 16 {
			return nil, malformed("uuid of %d bytes", len(v))
		}
		for i, b := range v {
			if i == 4 || i == 6 || i == 8 || i == 10 {
				dst = append(dst, '-')
			}
			dst = append(dst, hexDigits[b>>4], hexDigits[b&15])
		}
		return dst, nil
	case Date:
		if len(v) != 4 {
			return nil, malformed("date of %d bytes", len(v))
		}
		return appendDate(dst, int32(be.Uint32(v))), nil
	case Time:
		if len(v) != 8 {
			return nil, malformed("time of %d bytes", len(v))
		}
		return appendClock(dst, int64(be.Uint64(v))), nil
	case TimeTZ:
		if len(v) != 12 {
			return nil, malformed("timetz of %d bytes", len(v))
		}
		dst = appendClock(dst, int64(be.Uint64(v)))
		return appendZone(dst, int32(be.Uint32(v[8:]))), nil
	case Timestamp, TimestampTZ:
		if len(v) != 8 {
			return nil, malformed("%s of %d bytes", t.Kind, len(v))
		}
		return appendTimestamp(dst, int64(be.Uint64(v)), t.Kind == TimestampTZ), nil
	case Interval:
		if len(v) != 16 {
			return nil, malformed("interval of %d bytes", len(v))
		}
		return appendInterval(dst, int64(be.Uint64(v)), int32(be.Uint32(v[8:])), int32(be.Uint32(v[12:]))), nil
	case Bit:
		if len(v) < 4 {
			return nil, malformed("bit string of %d bytes", len(v))
		}
		n := int32(be.Uint32(v))
		if n < 0 || int64(len(v)-4) != (int64(n)+7)/8 {
			return nil, malformed("bit string of %d bits in %d bytes", n, len(v)-4)
		}
		for i := range int(n) {
			dst = append(dst, '0'+(v[4+i/8]>>(7-i%8))&1)
		}
		return dst, nil
	}
	return nil, fmt.Errorf("pgvalue: no binary reader for %s", t.Kind)
}

const hexDigits = "0123456789abcdef"

// appendFloat writes f as PostgreSQL does with extra_float_digits > 0 (the default):
// the shortest text that reads back exactly, in exponent form below 1e-4 and from
// 1e15 (1e6 for float4) up.
func appendFloat(dst []byte, f float64, bits int) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, "NaN"...)
	case math.IsInf(f, 1):
		return append(dst, "Infinity"...)
	case math.IsInf(f, -1):
		return append(dst, "-Infinity"...)
	case f == 0:
		if math.Signbit(f) {
			return append(dst, "-0"...)
		}
		return append(dst, '0')
	}
	limit := 15
	if bits == 32 {
		limit = 6
	}
	start := len(dst)
	dst = strconv.AppendFloat(dst, f, 'e', -1, bits) // "1.2345e+06"
	exp, neg := 0, false
	for i := len(dst) - 1; i > start; i-- {
		if dst[i] == 'e' {
			neg = dst[i+1] == '-'
			for _, c := range dst[i+2:] {
				exp = exp*10 + int(c-'0')
			}
			break
		}
	}
	if neg {
		exp = -exp
	}
	if exp < -4 || exp >= limit {
		return dst
	}
	return strconv.AppendFloat(dst[:start], f, 'f', -1, bits)
}

// appendMoney writes cents as cash_out does under lc_monetary C: "-$1,234.56".
func appendMoney(dst []byte, cents int64) []byte {
	u := uint64(cents)
	if cents < 0 {
		dst = append(dst, '-')
		u = uint64(-cents)
	}
	dst = append(dst, '$')
	var digits [24]byte
	s := strconv.AppendUint(digits[:0], u/100, 10)
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, c)
	}
	frac := u % 100
	return append(dst, '.', byte('0'+frac/10), byte('0'+frac%10))
}

// PostgreSQL's address families in inet's binary format.
const (
	pgAFInet  = 2
	pgAFInet6 = 3
)

func appendInetText(dst []byte, v []byte) ([]byte, error) {
	if len(v) < 4 {
		return nil, malformed("inet of %d bytes", len(v))
	}
	family, bits, isCIDR, n := v[0], int(v[1]), v[2], int(v[3])
	var maxBits int
	switch {
	case family == pgAFInet && n == 4:
		maxBits = 32
	case family == pgAFInet6 && n == 16:
		maxBits = 128
	default:
		return nil, malformed("inet family %d of %d bytes", family, n)
	}
	if len(v) != 4+n || bits > maxBits || isCIDR > 1 {
		return nil, malformed("inet of %d bytes, %d bits", len(v), bits)
	}
	if n == 4 {
		for i, b := range v[4:] {
			if i > 0 {
				dst = append(dst, '.')
			}
			dst = strconv.AppendUint(dst, uint64(b), 10)
		}
	} else {
		dst = appendIPv6(dst, v[4:])
	}
	if isCIDR == 1 || bits != maxBits {
		dst = append(dst, '/')
		dst = strconv.AppendInt(dst, int64(bits), 10)
	}
	return dst, nil
}

// appendIPv6 writes a as PostgreSQL's inet_net_ntop does: the longest run of two or
// more zero words (the first of equal ones) as "::", and the IPv4-compatible and
// IPv4-mapped forms with a dotted quad.
func appendIPv6(dst []byte, a []byte) []byte {
	var words [8]uint16
	for i := range words {
		words[i] = binary.BigEndian.Uint16(a[2*i:])
	}
	bestBase, bestLen, curBase, curLen := -1, 0, -1, 0
	for i, w := range words {
		if w == 0 {
			if curBase == -1 {
				curBase, curLen = i, 1
			} else {
				curLen++
			}
			continue
		}
		if curBase != -1 {
			if bestBase == -1 || curLen > bestLen {
				bestBase, bestLen = curBase, curLen
			}
			curBase = -1
		}
	}
	if curBase != -1 && (bestBase == -1 || curLen > bestLen) {
		bestBase, bestLen = curBase, curLen
	}
	if bestBase != -1 && bestLen < 2 {
		bestBase = -1
	}
	for i := 0; i < 8; i++ {
		if bestBase != -1 && i >= bestBase && i < bestBase+bestLen {
			if i == bestBase {
				dst = append(dst, ':')
			}
			continue
		}
		if i != 0 {
			dst = append(dst, ':')
		}
		if i == 6 && bestBase == 0 && (bestLen == 6 || (bestLen == 5 && words[5] == 0xffff)) {
			for k, b := range a[12:16] {
				if k > 0 {
					dst = append(dst, '.')
				}
				dst = strconv.AppendUint(dst, uint64(b), 10)
			}
			return dst
		}
		dst = strconv.AppendUint(dst, uint64(words[i]), 16)
	}
	if bestBase != -1 && bestBase+bestLen == 8 {
		dst = append(dst, ':')
	}
	return dst
}

// errCannotEncode is returned for a replacement text that is not a value of the
// leaf's type, or of a type this package cannot write.
var errCannotEncode = errors.New("replacement cannot be encoded")

// appendBinary writes text, a value of type t in text format, in binary format.
func appendBinary(dst []byte, t Type, text []byte) ([]byte, error) {
	be := binary.BigEndian
	s := string(bytes.TrimSpace(text))
	switch t.Kind {
	case Text, Enum, JSON, Bytea:
		return append(dst, text...), nil
	case JSONB:
		return append(append(dst, 1), text...), nil
	case Int:
		size, unsigned := intSize(t.OID)
		if unsigned {
			n, err := strconv.ParseUint(s, 10, size*8)
			if err != nil {
				return nil, errCannotEncode
			}
			if size == 4 {
				return be.AppendUint32(dst, uint32(n)), nil
			}
			return be.AppendUint64(dst, n), nil
		}
		n, err := strconv.ParseInt(s, 10, size*8)
		if err != nil {
			return nil, errCannotEncode
		}
		switch size {
		case 2:
			return be.AppendUint16(dst, uint16(n)), nil
		case 4:
			return be.AppendUint32(dst, uint32(n)), nil
		}
		return be.AppendUint64(dst, uint64(n)), nil
	case Float:
		f, err := parseFloat(s)
		if err != nil {
			return nil, errCannotEncode
		}
		if t.OID == OIDFloat4 {
			if !math.IsInf(f, 0) && math.Abs(f) > math.MaxFloat32 {
				return nil, errCannotEncode
			}
			return be.AppendUint32(dst, math.Float32bits(float32(f))), nil
		}
		return be.AppendUint64(dst, math.Float64bits(f)), nil
	case Numeric:
		return appendNumericBinary(dst, s)
	case Money:
		c, err := parseMoney(s)
		if err != nil {
			return nil, err
		}
		return be.AppendUint64(dst, uint64(c)), nil
	case Bool:
		switch toLower(s) {
		case "t", "true", "y", "yes", "on", "1":
			return append(dst, 1), nil
		case "f", "false", "n", "no", "off", "0":
			return append(dst, 0), nil
		}
		return nil, errCannotEncode
	case Inet:
		return appendInetBinary(dst, s, t.OID == OIDCIDR)
	case Macaddr:
		n := 6
		if t.OID == OIDMacaddr8 {
			n = 8
		}
		return appendHexBytes(dst, s, n, ":-.")
	case UUID:
		if len(s) > 2 && s[0] == '{' && s[len(s)-1] == '}' {
			s = s[1 : len(s)-1]
		}
		return appendHexBytes(dst, s, 16, "-")
	case Date:
		d, err := parseDate(s)
		if err != nil {
			return nil, err
		}
		return be.AppendUint32(dst, uint32(d)), nil
	case Time:
		us, rest, err := parseClock(s, false)
		if err != nil || rest != "" {
			return nil, errCannotEncode
		}
		return be.AppendUint64(dst, uint64(us)), nil
	case TimeTZ:
		us, rest, err := parseClock(s, false)
		if err != nil {
			return nil, err
		}
		zone, err := parseZone(rest)
		if err != nil {
			return nil, err
		}
		return be.AppendUint32(be.AppendUint64(dst, uint64(us)), uint32(zone)), nil
	case Timestamp, TimestampTZ:
		us, err := parseTimestamp(s, t.Kind == TimestampTZ)
		if err != nil {
			return nil, err
		}
		return be.AppendUint64(dst, uint64(us)), nil
	case Interval:
		us, days, months, err := parseInterval(s)
		if err != nil {
			return nil, err
		}
		dst = be.AppendUint64(dst, uint64(us))
		return be.AppendUint32(be.AppendUint32(dst, uint32(days)), uint32(months)), nil
	case Bit:
		if len(s) > math.MaxInt32 {
			return nil, errCannotEncode
		}
		dst = be.AppendUint32(dst, uint32(len(s)))
		var b byte
		for i := 0; i < len(s); i++ {
			switch s[i] {
			case '0':
			case '1':
				b |= 1 << (7 - i%8)
			default:
				return nil, errCannotEncode
			}
			if i%8 == 7 {
				dst, b = append(dst, b), 0
			}
		}
		if len(s)%8 != 0 {
			dst = append(dst, b)
		}
		return dst, nil
	}
	return nil, errCannotEncode
}

// checkText reports whether text is a value of type t in text format, as far as this
// package can tell: types it cannot write in binary are taken as they are.
func checkText(t Type, text []byte) bool {
	switch t.Kind {
	case Text, Enum, JSON, JSONB, Bytea, Unknown:
		return true
	}
	var buf [32]byte
	_, err := appendBinary(buf[:0], t, text)
	return err == nil
}

func toLower(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for k := i; k < len(b); k++ {
				if 'A' <= b[k] && b[k] <= 'Z' {
					b[k] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

func parseFloat(s string) (float64, error) {
	switch toLower(s) {
	case "nan":
		return math.NaN(), nil
	case "infinity", "+infinity", "inf", "+inf":
		return math.Inf(1), nil
	case "-infinity", "-inf":
		return math.Inf(-1), nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, err
	}
	if math.IsInf(f, 0) {
		return 0, errCannotEncode // PostgreSQL refuses out-of-range input
	}
	return f, nil
}

// parseMoney reads money as cash_in does under lc_monetary C: "-$1,234.56", "(12)", "0".
func parseMoney(s string) (int64, error) {
	neg := false
	if len(s) > 1 && s[0] == '(' && s[len(s)-1] == ')' {
		neg, s = true, s[1:len(s)-1]
	}
	if len(s) > 0 && (s[0] == '-' || s[0] == '+') {
		neg, s = neg || s[0] == '-', s[1:]
	}
	if len(s) > 0 && s[0] == '$' {
		s = s[1:]
	}
	var units, frac uint64
	fracDigits, seenDigit, point := 0, false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			seenDigit = true
			if point {
				if fracDigits == 2 {
					return 0, errCannotEncode
				}
				frac = frac*10 + uint64(c-'0')
				fracDigits++
				continue
			}
			if units > (math.MaxInt64/100-9)/10 {
				return 0, errCannotEncode
			}
			units = units*10 + uint64(c-'0')
		case c == ',' && !point:
		case c == '.' && !point:
			point = true
		default:
			return 0, errCannotEncode
		}
	}
	if !seenDigit {
		return 0, errCannotEncode
	}
	for ; fracDigits < 2; fracDigits++ {
		frac *= 10
	}
	c := int64(units*100 + frac)
	if neg {
		c = -c
	}
	return c, nil
}

func appendInetBinary(dst []byte, s string, cidr bool) ([]byte, error) {
	var p netip.Prefix
	var err error
	if strings.IndexByte(s, '/') >= 0 {
		p, err = netip.ParsePrefix(s)
	} else {
		var a netip.Addr
		a, err = netip.ParseAddr(s)
		if err == nil {
			p = netip.PrefixFrom(a, a.BitLen())
		}
	}
	if err != nil || p.Addr().Zone() != "" {
		return nil, errCannotEncode
	}
	if cidr && p.Masked() != p {
		return nil, errCannotEncode // host bits set: not a cidr
	}
	a := p.Addr()
	family := byte(pgAFInet)
	if a.Is6() {
		family = pgAFInet6
	}
	isCIDR := byte(0)
	if cidr {
		isCIDR = 1
	}
	if a.Is4() {
		raw := a.As4()
		dst = append(dst, family, byte(p.Bits()), isCIDR, 4)
		return append(dst, raw[:]...), nil
	}
	raw := a.As16()
	dst = append(dst, family, byte(p.Bits()), isCIDR, 16)
	return append(dst, raw[:]...), nil
}

// appendHexBytes reads n bytes written as hex digits, with any of seps between them.
func appendHexBytes(dst []byte, s string, n int, seps string) ([]byte, error) {
	start := len(dst)
	var hi byte
	half := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		d, ok := hexDigit(c)
		if !ok {
			if half || strings.IndexByte(seps, c) < 0 {
				return nil, errCannotEncode
			}
			continue
		}
		if half {
			dst = append(dst, hi<<4|d)
		} else {
			hi = d
		}
		half = !half
	}
	if half || len(dst)-start != n {
		return nil, errCannotEncode
	}
	return dst, nil
}

// hexDigit is the value of a hexadecimal digit.
func hexDigit(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
