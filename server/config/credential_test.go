package config

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/hoopgw/hoop/policy"
)

func TestCredential(t *testing.T) {
	ro, rw, ddl, admin := Credential{"ro", "p1"}, Credential{"rw", "p2"}, Credential{"ddl", "p3"}, Credential{"admin", "p4"}
	tests := []struct {
		name  string
		conn  Connection
		level string
		want  Credential
		err   string // "" for no error
	}{
		{"single login, read", Connection{Name: "db", User: "app", Password: "pw"}, "read", Credential{"app", "pw"}, ""},
		{"single login, admin", Connection{Name: "db", User: "app", Password: "pw"}, "admin", Credential{"app", "pw"}, ""},
		{"read gets read", Connection{Name: "db", Roles: map[string]Credential{"read": ro, "write": rw}}, "read", ro, ""},
		{"write gets write", Connection{Name: "db", Roles: map[string]Credential{"read": ro, "write": rw}}, "write", rw, ""},
		{"write never gets a higher role", Connection{Name: "db", Roles: map[string]Credential{"read": ro, "admin": admin}}, "write", ro, ""},
		{"admin gets the highest below it", Connection{Name: "db", Roles: map[string]Credential{"read": ro, "write": rw}}, "admin", rw, ""},
		{"admin gets admin", Connection{Name: "db", Roles: map[string]Credential{"read": ro, "write": rw, "admin": admin}}, "admin", admin, ""},
		{"ddl gets ddl", Connection{Name: "db", Roles: map[string]Credential{"write": rw, "ddl": ddl, "admin": admin}}, "ddl", ddl, ""},
		// Fail closed: a read session never gets a more powerful role, no level a weaker one.
		{"read never gets write", Connection{Name: "db", Roles: map[string]Credential{"write": rw}}, "read", Credential{},
			"connection db: no database login for read access (roles: write; define roles.read)"},
		{"ddl never gets admin", Connection{Name: "db", Roles: map[string]Credential{"admin": admin}}, "ddl", Credential{},
			"connection db: no database login for ddl access (roles: admin; define a role at ddl or below)"},
		{"unknown level", Connection{Name: "db", User: "app"}, "wirte", Credential{},
			"connection db credential: unknown class 'wirte' (did you mean write?)"},
		{"no login at all", Connection{Name: "db"}, "read", Credential{}, "connection db: no database login"},
	}
	for _, tt := range tests {
		got, err := tt.conn.Credential(tt.level)
		if got != tt.want || errString(err) != tt.err {
			t.Errorf("%s: Credential(%q): got %q, %q; want %q, %q", tt.name, tt.level, got.User, errString(err), tt.want.User, tt.err)
		}
		if err != nil && !errors.Is(err, ErrNoCredential) && !errors.Is(err, policy.ErrUnknownClass) {
			t.Errorf("%s: error %v wraps neither ErrNoCredential nor policy.ErrUnknownClass", tt.name, err)
		}
	}
}

func TestCredentialHidesPassword(t *testing.T) {
	c := Credential{User: "app", Password: "hunter2"}
	for _, format := range []string{"%v", "%s", "%+v", "%#v"} {
		if got := fmt.Sprintf(format, c); got == "" || strings.Contains(got, "hunter2") {
			t.Errorf("Sprintf(%q): got %q, want no password", format, got)
		}
	}
}

func TestExpand(t *testing.T) {
	env := envOf(map[string]string{"DIR": "/var/lib/hoop", "EMPTY": "", "PW": "a$b}c"})
	tests := []struct {
		in, want, unset, err string
	}{
		{"plain", "plain", "", ""},
		{"${DIR}", "/var/lib/hoop", "", ""},
		{"sqlite://${DIR}/hoop.db", "sqlite:///var/lib/hoop/hoop.db", "", ""},
		{"${NOPE:-fallback}", "fallback", "", ""},
		{"${NOPE:-}", "", "", ""},
		{"${EMPTY:-x}", "x", "", ""}, // like the shell: an empty value takes the default
		{"${EMPTY}", "", "", ""},
		{"${DIR:-x}", "/var/lib/hoop", "", ""},
		{"${PW}", "a$b}c", "", ""}, // a value is not expanded again
		{"${NOPE}", "", "NOPE", ""},
		{"${A}-${B}", "-", "A,B", ""},
		{"$$", "$", "", ""},
		{"$${DIR}", "${DIR}", "", ""},
		{"pa$word$", "pa$word$", "", ""},
		{"${DIR", "", "", "unterminated ${ (write $$ for a literal $)"},
		{"${}", "", "", "bad variable reference: want ${NAME} or ${NAME:-default} (write $$ for a literal $)"},
		{"${1X}", "", "", "bad variable reference: want ${NAME} or ${NAME:-default} (write $$ for a literal $)"},
	}
	for _, tt := range tests {
		got, unset, err := expand(tt.in, env)
		gotUnset := strings.Join(unset, ",")
		if err == nil && got != tt.want || gotUnset != tt.unset || errString(err) != tt.err {
			t.Errorf("expand(%q): got %q, unset %q, err %q; want %q, %q, %q", tt.in, got, gotUnset, errString(err), tt.want, tt.unset, tt.err)
		}
	}
}

func FuzzExpand(f *testing.F) {
	for _, s := range []string{"${A}", "${A:-x}", "$$", "${", "a$b", "${A:-${B}}", "}${"} {
		f.Add(s)
	}
	env := envOf(map[string]string{"A": "1"})
	f.Fuzz(func(t *testing.T, s string) {
		got, unset, err := expand(s, env)
		if !strings.Contains(s, "$") && (got != s || unset != nil || err != nil) {
			t.Errorf("expand(%q): got %q, %q, %v; want it unchanged", s, got, unset, err)
		}
	})
}
