package pgtest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// Sizes of the sample application's tables.
const (
	AppCustomers = 100
	AppOrders    = 200
)

// App is the sample application database made by CreateApp.
type App struct {
	DB         string // "app"
	ROUser     string // "app_ro": may SELECT
	ROPassword string
	RWUser     string // "app_rw": may SELECT, INSERT, UPDATE, DELETE
	RWPassword string
}

// CreateApp creates database "app" with a sample schema full of personal
// data, and two LOGIN roles with random passwords: app_ro (SELECT only) and
// app_rw (SELECT, INSERT, UPDATE, DELETE, and the sequences). It sets s.App
// and returns it; a second call returns the same App.
//
//	customers(id serial pk, name, email, phone, ssn)            AppCustomers rows
//	orders(id serial pk, customer_id → customers, amount numeric(10,2), created_at timestamptz)  AppOrders rows
//
// The data is fake but realistic (e-mail addresses, US phone numbers and
// SSNs a masking detector accepts) and the same on every call.
func (s *Server) CreateApp(ctx context.Context) (*App, error) {
	if s.App != nil {
		return s.App, nil
	}
	app := &App{
		DB:         "app",
		ROUser:     "app_ro",
		ROPassword: randomPassword(),
		RWUser:     "app_rw",
		RWPassword: randomPassword(),
	}
	roles := fmt.Sprintf(`CREATE ROLE %s LOGIN PASSWORD '%s'; CREATE ROLE %s LOGIN PASSWORD '%s';`,
		app.ROUser, app.ROPassword, app.RWUser, app.RWPassword)
	steps := []struct{ db, sql string }{
		{"postgres", roles},
		{"postgres", "CREATE DATABASE " + app.DB}, // not allowed in a multi-statement query
		{app.DB, appSchema(app)},
	}
	for _, st := range steps {
		if err := s.ExecIn(ctx, st.db, st.sql); err != nil {
			return nil, fmt.Errorf("create app: %w", err)
		}
	}
	s.App = app
	return app, nil
}

// appSchema returns the SQL that fills the app database and grants the roles.
func appSchema(app *App) string {
	var b strings.Builder
	b.WriteString(`
CREATE TABLE customers (
	id    serial PRIMARY KEY,
	name  text NOT NULL,
	email text,
	phone text,
	ssn   text
);
CREATE TABLE orders (
	id          serial PRIMARY KEY,
	customer_id integer NOT NULL REFERENCES customers (id),
	amount      numeric(10,2) NOT NULL,
	created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX orders_customer_id_idx ON orders (customer_id);
`)
	customers, orders := sampleData()
	b.WriteString("INSERT INTO customers (name, email, phone, ssn) VALUES\n")
	for i, c := range customers {
		if i > 0 {
			b.WriteString(",\n")
		}
		fmt.Fprintf(&b, "(%s, %s, %s, %s)", quote(c.name), quote(c.email), quote(c.phone), quote(c.ssn))
	}
	b.WriteString(";\nINSERT INTO orders (customer_id, amount, created_at) VALUES\n")
	for i, o := range orders {
		if i > 0 {
			b.WriteString(",\n")
		}
		fmt.Fprintf(&b, "(%d, %d.%02d, '%s')", o.customerID, o.cents/100, o.cents%100, o.createdAt.Format(time.RFC3339))
	}
	fmt.Fprintf(&b, `;
GRANT USAGE ON SCHEMA public TO %[1]s, %[2]s;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO %[1]s;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO %[2]s;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO %[2]s;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO %[1]s;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO %[2]s;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO %[2]s;
ANALYZE;
`, app.ROUser, app.RWUser)
	return b.String()
}

// quote returns s as an SQL string literal (standard_conforming_strings on).
func quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

type customer struct {
	name, email, phone, ssn string
}

type order struct {
	customerID int
	cents      int
	createdAt  time.Time
}

var (
	firstNames = []string{
		"Olivia", "Liam", "Emma", "Noah", "Ava", "Mateo", "Sophia", "Lucas", "Isabella", "Ethan",
		"Mia", "James", "Amelia", "Benjamin", "Harper", "Elijah", "Chloé", "Daniel", "Zoë", "José",
		"Priya", "Wei", "Aisha", "Kenji", "Fatima", "Siobhan", "Lars", "Ingrid", "Diego", "Nadia",
	}
	lastNames = []string{
		"Smith", "Johnson", "Williams", "Brown", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
		"Hernández", "Lopez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin",
		"Lee", "Nguyen", "O'Brien", "Müller", "Kowalski", "Patel", "Chen", "Tanaka", "Okafor",
		"Johansson", "Rossi", "Dubois",
	}
	emailDomains = []string{"example.com", "example.org", "example.net", "mail.example.com"}
	areaCodes    = []int{212, 310, 312, 415, 503, 617, 646, 702, 718, 917}
	// asciiEmail turns a display name into an e-mail local part.
	asciiEmail = strings.NewReplacer("é", "e", "á", "a", "ë", "e", "ü", "u", "'", "", " ", ".")
)

// sampleData returns the app's rows, the same on every call.
func sampleData() ([]customer, []order) {
	r := rand.New(rand.NewPCG(2024, 1))
	customers := make([]customer, AppCustomers)
	for i := range customers {
		first := firstNames[r.IntN(len(firstNames))]
		last := lastNames[r.IntN(len(lastNames))]
		name := first + " " + last
		local := strings.ToLower(asciiEmail.Replace(name))
		if r.IntN(3) == 0 {
			local += fmt.Sprint(r.IntN(90) + 10)
		}
		area := areaCodes[r.IntN(len(areaCodes))]
		line := 100 + r.IntN(100) // 555-0100..0199 are reserved for fiction
		var phone string
		switch r.IntN(3) {
		case 0:
			phone = fmt.Sprintf("(%d) 555-%04d", area, line)
		case 1:
			phone = fmt.Sprintf("+1 %d-555-%04d", area, line)
		default:
			phone = fmt.Sprintf("%d.555.%04d", area, line)
		}
		customers[i] = customer{
			name:  name,
			email: local + "@" + emailDomains[r.IntN(len(emailDomains))],
			phone: phone,
			ssn:   fakeSSN(r),
		}
	}
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	orders := make([]order, AppOrders)
	for i := range orders {
		orders[i] = order{
			customerID: 1 + r.IntN(AppCustomers),
			cents:      500 + r.IntN(200000),
			createdAt:  start.Add(time.Duration(r.IntN(365*24*3600)) * time.Second),
		}
	}
	return customers, orders
}

// fakeSSN returns a well-formed US SSN: area 001-899 but not 666, group
// 01-99, serial 0001-9999.
func fakeSSN(r *rand.Rand) string {
	area := 1 + r.IntN(899)
	if area == 666 {
		area = 667
	}
	return fmt.Sprintf("%03d-%02d-%04d", area, 1+r.IntN(99), 1+r.IntN(9999))
}
