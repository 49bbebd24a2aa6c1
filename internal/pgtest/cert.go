package pgtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// writeCert generates a self-signed certificate for 127.0.0.1 and localhost
// and writes server.crt and server.key into the data directory, where
// ssl_cert_file and ssl_key_file find them, and a public copy of the
// certificate into Dir for clients' sslrootcert.
func (s *Server) writeCert() error {
	certPEM, keyPEM, err := selfSigned(time.Now())
	if err != nil {
		return fmt.Errorf("ssl: %w", err)
	}
	files := []struct {
		path string
		data []byte
		mode os.FileMode
		own  bool
	}{
		// PostgreSQL refuses a key that others can read.
		{filepath.Join(s.DataDir, "server.crt"), certPEM, 0o600, true},
		{filepath.Join(s.DataDir, "server.key"), keyPEM, 0o600, true},
		{filepath.Join(s.Dir, "server-ca.crt"), certPEM, 0o644, false},
	}
	for _, f := range files {
		if err := os.WriteFile(f.path, f.data, f.mode); err != nil {
			return fmt.Errorf("ssl: %w", err)
		}
		if f.own {
			if err := s.chown(f.path); err != nil {
				return fmt.Errorf("ssl: %w", err)
			}
		}
	}
	s.SSL = true
	s.CACertFile = files[2].path
	s.CACertPEM = certPEM
	return nil
}

// selfSigned returns a PEM certificate and PKCS#8 key, valid from an hour
// before now for ten years, for the names a test client dials.
func selfSigned(now time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, fmt.Errorf("serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "localhost", Organization: []string{"hoop pgtest"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true, // so it can serve as its own sslrootcert
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("create certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("marshal key: %w", err)
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	return certPEM, keyPEM, nil
}
