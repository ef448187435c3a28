package runtime

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/stretchr/testify/require"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// NewTestPKI writes a CA and a server certificate for 127.0.0.1 it signs: the CA as PEM, the
// server's chain and PKCS#8 key as PEM, in dir (for this package's tests and runtime_test's).
func NewTestPKI(t *testing.T, dir string) (caFile, certFile, keyFile string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "atlas test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	require.NoError(t, err)
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	srv := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	caCert, err := x509.ParseCertificate(caDER)
	require.NoError(t, err)
	srvDER, err := x509.CreateCertificate(rand.Reader, srv, caCert, &srvKey.PublicKey, caKey)
	require.NoError(t, err)
	keyDER, err := x509.MarshalPKCS8PrivateKey(srvKey)
	require.NoError(t, err)
	write := func(name string, blocks ...*pem.Block) string {
		var b []byte
		for _, bl := range blocks {
			b = append(b, pem.EncodeToMemory(bl)...)
		}
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, b, 0o600))
		return p
	}
	return write("ca.pem", &pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		write("server.pem", &pem.Block{Type: "CERTIFICATE", Bytes: srvDER}, &pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		write("server-key.pem", &pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
}

func TestSecurityFromEnv(t *testing.T) {
	s, err := SecurityFromEnv(env(nil))
	require.NoError(t, err)
	require.Nil(t, s.TLS, "plaintext unless asked")

	ca, _, _ := NewTestPKI(t, t.TempDir())
	s, err = SecurityFromEnv(env(map[string]string{"KAFKA_TLS_CA_FILE": ca, "KAFKA_SASL_MECHANISM": "scram-sha-512",
		"KAFKA_SASL_USERNAME": "atlas", "KAFKA_SASL_PASSWORD": "s3cret-value"}))
	require.NoError(t, err)
	require.NotNil(t, s.TLS.RootCAs)
	require.Equal(t, SASLScramSHA512, s.SASLMechanism)
	c := sarama.NewConfig()
	s.applySarama(c)
	require.True(t, c.Net.TLS.Enable)
	require.True(t, c.Net.SASL.Enable)
	require.Equal(t, sarama.SASLMechanism(sarama.SASLTypeSCRAMSHA512), c.Net.SASL.Mechanism)
	require.NotNil(t, c.Net.SASL.SCRAMClientGeneratorFunc)
	require.NoError(t, c.Validate(), "a configuration Sarama accepts")

	for name, m := range map[string]map[string]string{
		"KAFKA_TLS":                             {"KAFKA_TLS": "maybe"},
		"KAFKA_TLS_CA_FILE":                     {"KAFKA_TLS_CA_FILE": filepath.Join(t.TempDir(), "missing.pem")},
		"KAFKA_TLS_KEY_FILE":                    {"KAFKA_TLS_CERT_FILE": ca},
		"KAFKA_SASL_MECHANISM":                  {"KAFKA_SASL_MECHANISM": "GSSAPI", "KAFKA_SASL_USERNAME": "u", "KAFKA_SASL_PASSWORD": "s3cret-value"},
		"KAFKA_SASL_USERNAME":                   {"KAFKA_SASL_MECHANISM": "SCRAM-SHA-256", "KAFKA_SASL_PASSWORD": "s3cret-value"},
		"PLAIN sends the password in the clear": {"KAFKA_SASL_MECHANISM": "PLAIN", "KAFKA_SASL_USERNAME": "u", "KAFKA_SASL_PASSWORD": "s3cret-value"},
		"KAFKA_SASL_MECHANISM is not":           {"KAFKA_SASL_USERNAME": "u", "KAFKA_SASL_PASSWORD": "s3cret-value"},
	} {
		_, err := SecurityFromEnv(env(m))
		require.ErrorContains(t, err, name)
		require.NotContains(t, err.Error(), "s3cret-value", "an error never quotes the password")
	}
}
