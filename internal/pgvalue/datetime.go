package pgvalue

import (
	"math"
	"strconv"
	"strings"
)

// Dates count days, and timestamps microseconds, from PostgreSQL's epoch 2000-01-01.
const (
	postgresEpochJDate = 2451545 // date2j(2000, 1, 1)
	usecsPerSec        = int64(1000000)
	usecsPerMinute     = 60 * usecsPerSec
	usecsPerHour       = 60 * usecsPerMinute
	usecsPerDay        = 24 * usecsPerHour
)

// date2j and j2date convert between a proleptic Gregorian date and a Julian day, as
// PostgreSQL's datetime.c does.
func date2j(year, month, day int) int {
	if month > 2 {
		month++
		year += 4800
	} else {
		month += 13
		year += 4799
	}
	century := year / 100
	julian := year*365 - 32167
	julian += year/4 - century + century/4
	julian += 7834*month/256 + day
	return julian
}

func j2date(jd int) (year, month, day int) {
	julian := uint64(uint32(jd)) + 32044
	quad := julian / 146097
	extra := (julian-quad*146097)*4 + 3
	julian += 60 + quad*3 + extra/146097
	quad = julian / 1461
	julian -= quad * 1461
	y := julian * 4 / 1461
	if y != 0 {
		julian = (julian+305)%365 + 123
	} else {
		julian = (julian+306)%366 + 123
	}
	y += quad * 4
	year = int(y) - 4800
	quad = julian * 2141 / 65536
	day = int(julian - 7834*quad/256)
	month = int((quad+10)%12 + 1)
	return year, month, day
}

func appendPad(dst []byte, n int64, width int) []byte {
	var buf [24]byte
	s := strconv.AppendInt(buf[:0], n, 10)
	for i := len(s); i < width; i++ {
		dst = append(dst, '0')
	}
	return append(dst, s...)
}

// appendYMD writes a Julian day as "YYYY-MM-DD"; bc reports a year before 1 AD, which
// PostgreSQL writes as its positive number followed by " BC".
func appendYMD(dst []byte, jd int) ([]byte, bool) {
	y, m, d := j2date(jd)
	bc := y <= 0
	if bc {
		y = 1 - y
	}
	dst = appendPad(dst, int64(y), 4)
	dst = append(dst, '-')
	dst = appendPad(dst, int64(m), 2)
	dst = append(dst, '-')
	return appendPad(dst, int64(d), 2), bc
}

func appendDate(dst []byte, d int32) []byte {
	switch d {
	case math.MinInt32:
		return append(dst, "-infinity"...)
	case math.MaxInt32:
		return append(dst, "infinity"...)
	}
	dst, bc := appendYMD(dst, int(d)+postgresEpochJDate)
	if bc {
		dst = append(dst, " BC"...)
	}
	return dst
}

// appendSeconds writes seconds as two digits, then the fraction without its trailing
// zeros.
func appendSeconds(dst []byte, sec, usec int64) []byte {
	dst = appendPad(dst, sec, 2)
	if usec == 0 {
		return dst
	}
	dst = append(dst, '.')
	frac := appendPad(dst, usec, 6)
	for frac[len(frac)-1] == '0' {
		frac = frac[:len(frac)-1]
	}
	return frac
}

// appendClock writes microseconds since midnight as "HH:MM:SS[.ffffff]".
func appendClock(dst []byte, us int64) []byte {
	h := us / usecsPerHour
	us -= h * usecsPerHour
	m := us / usecsPerMinute
	us -= m * usecsPerMinute
	dst = appendPad(dst, h, 2)
	dst = append(dst, ':')
	dst = appendPad(dst, m, 2)
	dst = append(dst, ':')
	return appendSeconds(dst, us/usecsPerSec, us%usecsPerSec)
}

// appendZone writes a zone stored as seconds west of UTC as PostgreSQL prints it:
// "+05:30", "-03", "-03:00:15".
func appendZone(dst []byte, west int32) []byte {
	sec := int64(west)
	if west <= 0 {
		dst = append(dst, '+')
		sec = -sec
	} else {
		dst = append(dst, '-')
	}
	h, m, s := sec/3600, sec/60%60, sec%60
	dst = appendPad(dst, h, 2)
	if m != 0 || s != 0 {
		dst = append(dst, ':')
		dst = appendPad(dst, m, 2)
	}
	if s != 0 {
		dst = append(dst, ':')
		dst = appendPad(dst, s, 2)
	}
	return dst
}

// appendTimestamp writes a timestamp as PostgreSQL does with DateStyle ISO. A
// timestamptz is written in UTC ("+00"): the session's TimeZone is not known here.
func appendTimestamp(dst []byte, us int64, tz bool) []byte {
	switch us {
	case math.MinInt64:
		return append(dst, "-infinity"...)
	case math.MaxInt64:
		return append(dst, "infinity"...)
	}
	days := us / usecsPerDay
	us -= days * usecsPerDay
	if us < 0 {
		us += usecsPerDay
		days--
	}
	dst, bc := appendYMD(dst, int(days)+postgresEpochJDate)
	dst = append(dst, ' ')
	dst = appendClock(dst, us)
	if tz {
		dst = append(dst, "+00"...)
	}
	if bc {
		dst = append(dst, " BC"...)
	}
	return dst
}

// appendInterval writes an interval as PostgreSQL does with IntervalStyle postgres:
// "1 year 2 mons -3 days +04:05:06.5".
func appendInterval(dst []byte, us int64, days, months int32) []byte {
	isZero, isBefore := true, false
	part := func(v int64, unit string) {
		if v == 0 {
			return
		}
		if !isZero {
			dst = append(dst, ' ')
		}
		if isBefore && v > 0 {
			dst = append(dst, '+')
		}
		dst = strconv.AppendInt(dst, v, 10)
		dst = append(dst, ' ')
		dst = append(dst, unit...)
		if v != 1 {
			dst = append(dst, 's')
		}
		isBefore, isZero = v < 0, false
	}
	part(int64(months/12), "year")
	part(int64(months%12), "mon")
	part(int64(days), "day")
	h := us / usecsPerHour
	us -= h * usecsPerHour
	m := us / usecsPerMinute
	us -= m * usecsPerMinute
	s := us / usecsPerSec
	f := us - s*usecsPerSec
	if isZero || h != 0 || m != 0 || s != 0 || f != 0 {
		if !isZero {
			dst = append(dst, ' ')
		}
		switch {
		case h < 0 || m < 0 || s < 0 || f < 0:
			dst = append(dst, '-')
		case isBefore:
			dst = append(dst, '+')
		}
		abs := func(v int64) int64 {
			if v < 0 {
				return -v
			}
			return v
		}
		dst = appendPad(dst, abs(h), 2)
		dst = append(dst, ':')
		dst = appendPad(dst, abs(m), 2)
		dst = append(dst, ':')
		dst = appendSeconds(dst, abs(s), abs(f))
	}
	return dst
}

// parseDate reads "YYYY-MM-DD[ BC]", "infinity" or "-infinity" as days from the epoch.
func parseDate(s string) (int32, error) {
	switch toLower(s) {
	case "infinity":
		return math.MaxInt32, nil
	case "-infinity":
		return math.MinInt32, nil
	}
	jd, rest, err := parseYMD(s)
	if err != nil {
		return 0, err
	}
	if rest != "" {
		return 0, errCannotEncode
	}
	return int32(jd - postgresEpochJDate), nil
}

// parseYMD reads "YYYY-MM-DD" and an optional " BC" anywhere after it, and returns the
// Julian day and what follows the date.
func parseYMD(s string) (jd int, rest string, err error) {
	bc := false
	if t, ok := strings.CutSuffix(s, " BC"); ok {
		s, bc = t, true
	}
	parts := strings.SplitN(s, "-", 3)
	if len(parts) != 3 || len(parts[2]) < 2 {
		return 0, "", errCannotEncode
	}
	y, err1 := strconv.Atoi(parts[0])
	mo, err2 := strconv.Atoi(parts[1])
	d, err3 := strconv.Atoi(parts[2][:2])
	if err1 != nil || err2 != nil || err3 != nil || y < 1 || y > 294276 || mo < 1 || mo > 12 || d < 1 || d > 31 {
		return 0, "", errCannotEncode
	}
	if bc {
		y = 1 - y
	}
	if _, m2, d2 := j2date(date2j(y, mo, d)); m2 != mo || d2 != d {
		return 0, "", errCannotEncode // 2023-02-30
	}
	return date2j(y, mo, d), parts[2][2:], nil
}

// parseClock reads "HH:MM[:SS[.ffffff]]" at the start of s as microseconds, and returns
// what follows. interval allows more than 24 hours.
func parseClock(s string, interval bool) (us int64, rest string, err error) {
	num := func() (int64, bool) {
		i := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == 0 || i > 12 {
			return 0, false
		}
		n, _ := strconv.ParseInt(s[:i], 10, 64)
		s = s[i:]
		return n, true
	}
	h, ok := num()
	if !ok || len(s) == 0 || s[0] != ':' {
		return 0, "", errCannotEncode
	}
	s = s[1:]
	m, ok := num()
	if !ok || m > 59 {
		return 0, "", errCannotEncode
	}
	var sec, frac int64
	if len(s) > 0 && s[0] == ':' {
		s = s[1:]
		if sec, ok = num(); !ok || sec > 60 {
			return 0, "", errCannotEncode
		}
		if len(s) > 0 && s[0] == '.' {
			s = s[1:]
			digits := 0
			for len(s) > 0 && s[0] >= '0' && s[0] <= '9' {
				if digits < 6 {
					frac = frac*10 + int64(s[0]-'0')
					digits++
				}
				s = s[1:]
			}
			for ; digits < 6; digits++ {
				frac *= 10
			}
		}
	}
	if !interval && h > 24 {
		return 0, "", errCannotEncode
	}
	if h > math.MaxInt64/usecsPerHour-1 {
		return 0, "", errCannotEncode
	}
	us = h*usecsPerHour + m*usecsPerMinute + sec*usecsPerSec + frac
	if !interval && us > usecsPerDay {
		return 0, "", errCannotEncode
	}
	return us, s, nil
}

// parseZone reads "+HH[:MM[:SS]]" (or "Z", or nothing for UTC) as seconds west of UTC.
func parseZone(s string) (int32, error) {
	if s == "" || s == "Z" || s == "z" {
		return 0, nil
	}
	if s[0] != '+' && s[0] != '-' {
		return 0, errCannotEncode
	}
	east := s[0] == '+'
	var parts [3]int
	n := 0
	for _, p := range strings.Split(s[1:], ":") {
		if n == 3 {
			return 0, errCannotEncode
		}
		v, err := strconv.Atoi(p)
		if err != nil || v < 0 || v > 99 {
			return 0, errCannotEncode
		}
		parts[n] = v
		n++
	}
	sec := int32(parts[0]*3600 + parts[1]*60 + parts[2])
	if sec > 15*3600+59*60+59 {
		return 0, errCannotEncode
	}
	if east {
		sec = -sec
	}
	return sec, nil
}

// parseTimestamp reads "YYYY-MM-DD HH:MM:SS[.ffffff][+HH[:MM]][ BC]" (or with a "T"),
// "infinity" or "-infinity" as microseconds from the epoch; a zone is allowed only
// for timestamptz, which is converted to UTC.
func parseTimestamp(s string, tz bool) (int64, error) {
	switch toLower(s) {
	case "infinity":
		return math.MaxInt64, nil
	case "-infinity":
		return math.MinInt64, nil
	}
	jd, rest, err := parseYMD(s)
	if err != nil {
		return 0, err
	}
	var clock int64
	if rest != "" {
		if rest[0] != ' ' && rest[0] != 'T' {
			return 0, errCannotEncode
		}
		if clock, rest, err = parseClock(rest[1:], false); err != nil {
			return 0, err
		}
	}
	var west int32
	if tz {
		if west, err = parseZone(rest); err != nil {
			return 0, err
		}
	} else if rest != "" {
		return 0, errCannotEncode
	}
	days := int64(jd - postgresEpochJDate)
	return days*usecsPerDay + clock + int64(west)*usecsPerSec, nil
}

// parseInterval reads an interval as PostgreSQL prints it with IntervalStyle postgres:
// "[N year[s]] [N mon[s]] [N day[s]] [[+-]HH:MM:SS[.ffffff]]".
func parseInterval(s string) (us int64, days, months int32, err error) {
	fields := strings.Fields(s)
	if len(fields) == 0 {
		return 0, 0, 0, errCannotEncode
	}
	for i := 0; i < len(fields); i++ {
		f := fields[i]
		if strings.IndexByte(f, ':') >= 0 {
			if i != len(fields)-1 {
				return 0, 0, 0, errCannotEncode
			}
			neg := f[0] == '-'
			if f[0] == '-' || f[0] == '+' {
				f = f[1:]
			}
			c, rest, err := parseClock(f, true)
			if err != nil || rest != "" {
				return 0, 0, 0, errCannotEncode
			}
			if neg {
				c = -c
			}
			us = c
			continue
		}
		n, err := strconv.ParseInt(f, 10, 32)
		if err != nil || i+1 == len(fields) {
			return 0, 0, 0, errCannotEncode
		}
		i++
		switch strings.TrimSuffix(toLower(fields[i]), "s") {
		case "year":
			if n > math.MaxInt32/12 || n < math.MinInt32/12 {
				return 0, 0, 0, errCannotEncode
			}
			months += int32(n * 12)
		case "mon":
			months += int32(n)
		case "day":
			days += int32(n)
		default:
			return 0, 0, 0, errCannotEncode
		}
	}
	return us, days, months, nil
}
