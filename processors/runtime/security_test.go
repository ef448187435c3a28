package runtime

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/stretchr/testify/require"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// writeCA writes a self-signed CA certificate as PEM and returns its path.
func writeCA(t *testing.T) string {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	p := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	return p
}

func TestSecurityFromEnv(t *testing.T) {
	s, err := SecurityFromEnv(env(nil))
	require.NoError(t, err)
	require.Nil(t, s.TLS, "plaintext unless asked")

	ca := writeCA(t)
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
