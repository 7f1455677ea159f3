package lab

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

// The lab's TLS files (DIR/tls/): a CA of its own, and one certificate
// for 127.0.0.1 that every node of the lab's controller serves and dials
// with (controller.tls: mutual TLS on Raft).
const (
	TLSCAFile   = "tls/ca.pem"
	TLSCertFile = "tls/node.pem"
	TLSKeyFile  = "tls/node-key.pem"
)

// writeTLS makes the lab's CA and node certificate under dir, unless
// they exist (a lab keeps them across restarts).
func writeTLS(dir string) error {
	if _, err := os.Stat(filepath.Join(dir, TLSCertFile)); err == nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Join(dir, "tls"), 0o700); err != nil {
		return err
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	now := time.Now()
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "region lab CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(5, 0, 0), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		return fmt.Errorf("lab CA: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "region lab node"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(5, 0, 0), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, ca, &key.PublicKey, caKey)
	if err != nil {
		return fmt.Errorf("lab node certificate: %w", err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	for f, b := range map[string]*pem.Block{
		TLSCAFile:   {Type: "CERTIFICATE", Bytes: caDER},
		TLSCertFile: {Type: "CERTIFICATE", Bytes: leafDER},
		TLSKeyFile:  {Type: "EC PRIVATE KEY", Bytes: keyDER},
	} {
		if err := os.WriteFile(filepath.Join(dir, f), pem.EncodeToMemory(b), 0o600); err != nil {
			return err
		}
	}
	return nil
}
