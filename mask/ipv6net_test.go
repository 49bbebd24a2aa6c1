package mask

import "testing"

// TestIPv6NetworksFound: an IPv6 address or network written with a trailing "::" after two
// groups or more ("2001:db8:abcd::/48", as cidr prints a network) is an address; one group
// and "::" ("std::", "fe80::" in prose) is left alone.
func TestIPv6NetworksFound(t *testing.T) {
	m, err := New(&Config{Detectors: []Detector{IPAddress}, Mode: Redact})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ in, want string }{
		{"2001:db8:abcd::/48", "[REDACTED:ip_address]/48"},
		{"net 2001:db8::/32 routed", "net [REDACTED:ip_address]/32 routed"},
		{"2001:db8:abcd:12::", "[REDACTED:ip_address]"},
		{`{"2001:db8:1::/48","10.0.0.0/8"}`, `{"[REDACTED:ip_address]/48","[REDACTED:ip_address]/8"}`},
		{"std::vector", "std::vector"},
		{"use fe80:: here", "use fe80:: here"},
		{"a::", "a::"},
	} {
		out, _, _ := m.Mask(nil, []byte(c.in))
		if string(out) != c.want {
			t.Errorf("%q: got %q, want %q", c.in, out, c.want)
		}
	}
}
