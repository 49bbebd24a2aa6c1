package pgvalue

import (
	"encoding/binary"
	"strconv"
)

// numeric's binary format: ndigits, weight, sign, dscale (int16 each), then ndigits
// base-10000 digits, the first of them worth 10000^weight.
const (
	numericPos      = 0x0000
	numericNeg      = 0x4000
	numericNaN      = 0xC000
	numericPInf     = 0xD000
	numericNInf     = 0xF000
	numericMaxScale = 0x3FFF
	// maxNumericExp bounds the exponent of a replacement text, so that "1e999999999"
	// cannot make a huge value.
	maxNumericExp = 1000
)

// appendNumericText writes a binary numeric as numeric_out does: every digit of the
// integer part, then exactly dscale fraction digits.
func appendNumericText(dst, v []byte) ([]byte, error) {
	be := binary.BigEndian
	if len(v) < 8 {
		return nil, malformed("numeric of %d bytes", len(v))
	}
	ndigits := int(be.Uint16(v))
	weight := int(int16(be.Uint16(v[2:])))
	sign := be.Uint16(v[4:])
	dscale := int(be.Uint16(v[6:]))
	if len(v) != 8+2*ndigits || dscale > numericMaxScale {
		return nil, malformed("numeric of %d bytes, %d digits", len(v), ndigits)
	}
	switch sign {
	case numericNaN:
		return append(dst, "NaN"...), nil
	case numericPInf:
		return append(dst, "Infinity"...), nil
	case numericNInf:
		return append(dst, "-Infinity"...), nil
	case numericNeg:
		dst = append(dst, '-')
	case numericPos:
	default:
		return nil, malformed("numeric sign %#x", sign)
	}
	digit := func(i int) int {
		if i < 0 || i >= ndigits {
			return 0
		}
		return int(be.Uint16(v[8+2*i:]))
	}
	for i := range ndigits {
		if digit(i) > 9999 {
			return nil, malformed("numeric digit %d", digit(i))
		}
	}
	if weight < 0 {
		dst = append(dst, '0')
	}
	for i := 0; i <= weight; i++ {
		d := digit(i)
		if i == 0 {
			dst = strconv.AppendInt(dst, int64(d), 10)
		} else {
			dst = append(dst, byte('0'+d/1000), byte('0'+d/100%10), byte('0'+d/10%10), byte('0'+d%10))
		}
	}
	if dscale > 0 {
		dst = append(dst, '.')
		end := len(dst) + dscale
		for i := weight + 1; len(dst) < end; i++ {
			d := digit(i)
			dst = append(dst, byte('0'+d/1000), byte('0'+d/100%10), byte('0'+d/10%10), byte('0'+d%10))
		}
		dst = dst[:end]
	}
	return dst, nil
}

// appendNumericBinary writes a numeric in text ("-12.50", "1e3", "NaN", "Infinity") in
// binary format.
func appendNumericBinary(dst []byte, s string) ([]byte, error) {
	be := binary.BigEndian
	special := func(sign uint16) []byte {
		dst = be.AppendUint16(dst, 0)
		dst = be.AppendUint16(dst, 0)
		dst = be.AppendUint16(dst, sign)
		return be.AppendUint16(dst, 0)
	}
	switch toLower(s) {
	case "nan":
		return special(numericNaN), nil
	case "infinity", "+infinity", "inf", "+inf":
		return special(numericPInf), nil
	case "-infinity", "-inf":
		return special(numericNInf), nil
	}
	sign := uint16(numericPos)
	if len(s) > 0 && (s[0] == '-' || s[0] == '+') {
		if s[0] == '-' {
			sign = numericNeg
		}
		s = s[1:]
	}
	// digits are every decimal digit; point is how many of them stand before the point.
	var digits []byte
	point, seenPoint := 0, false
	i := 0
	for ; i < len(s); i++ {
		c := s[i]
		if c >= '0' && c <= '9' {
			digits = append(digits, c-'0')
			if !seenPoint {
				point++
			}
			continue
		}
		if c == '.' && !seenPoint {
			seenPoint = true
			continue
		}
		break
	}
	if len(digits) == 0 {
		return nil, errCannotEncode
	}
	exp := 0
	if i < len(s) {
		if s[i] != 'e' && s[i] != 'E' {
			return nil, errCannotEncode
		}
		e, err := strconv.Atoi(s[i+1:])
		if err != nil || e > maxNumericExp || e < -maxNumericExp {
			return nil, errCannotEncode
		}
		exp = e
	}
	dscale := max(len(digits)-point-exp, 0)
	if dscale > numericMaxScale {
		return nil, errCannotEncode
	}
	point += exp
	if point < 0 {
		digits = append(make([]byte, -point), digits...)
		point = 0
	}
	for len(digits) < point {
		digits = append(digits, 0)
	}
	// Align to base-10000 groups around the point.
	lead := (4 - point%4) % 4
	digits = append(make([]byte, lead), digits...)
	point += lead
	for len(digits)%4 != 0 {
		digits = append(digits, 0)
	}
	groups := make([]uint16, 0, len(digits)/4)
	for k := 0; k < len(digits); k += 4 {
		groups = append(groups, uint16(digits[k])*1000+uint16(digits[k+1])*100+uint16(digits[k+2])*10+uint16(digits[k+3]))
	}
	weight := point/4 - 1
	for len(groups) > 0 && groups[0] == 0 {
		groups = groups[1:]
		weight--
	}
	for len(groups) > 0 && groups[len(groups)-1] == 0 {
		groups = groups[:len(groups)-1]
	}
	if len(groups) == 0 {
		weight, sign = 0, numericPos
	}
	dst = be.AppendUint16(dst, uint16(len(groups)))
	dst = be.AppendUint16(dst, uint16(int16(weight)))
	dst = be.AppendUint16(dst, sign)
	dst = be.AppendUint16(dst, uint16(dscale))
	for _, g := range groups {
		dst = be.AppendUint16(dst, g)
	}
	return dst, nil
}
