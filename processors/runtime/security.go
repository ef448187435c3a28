package runtime

import (
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"hash"
	"os"
	"strings"

	"github.com/IBM/sarama"
	"github.com/lovoo/goka"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
	xscram "github.com/xdg-go/scram"
)

// Security is how every client of this process authenticates to Kafka and protects the
// connection: TLS (the cluster's CA, optionally a client certificate) and SASL. The zero
// value is plaintext without authentication, which only a development broker should accept.
type Security struct {
	// TLS, when set, encrypts every connection.
	TLS *tls.Config
	// SASLMechanism is "" (none), PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512.
	SASLMechanism string
	SASLUser      string
	SASLPassword  string
}

// SASL mechanisms this product speaks.
const (
	SASLPlain       = "PLAIN"
	SASLScramSHA256 = "SCRAM-SHA-256"
	SASLScramSHA512 = "SCRAM-SHA-512"
)

// SecurityFromEnv reads the security settings. Errors name the setting and never quote a
// secret:
//
//	KAFKA_TLS              true: TLS with the system's CAs (implied by KAFKA_TLS_CA_FILE)
//	KAFKA_TLS_CA_FILE      PEM file of the CAs that sign the brokers' certificates
//	KAFKA_TLS_CERT_FILE    PEM client certificate (with KAFKA_TLS_KEY_FILE: mutual TLS)
//	KAFKA_TLS_KEY_FILE     PEM private key of that certificate
//	KAFKA_TLS_SERVER_NAME  the name the brokers' certificates carry, when not their address
//	KAFKA_SASL_MECHANISM   PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512
//	KAFKA_SASL_USERNAME    the SASL user
//	KAFKA_SASL_PASSWORD    its password (or KAFKA_SASL_PASSWORD_FILE, a mounted secret)
func SecurityFromEnv(getenv func(string) string) (Security, error) {
	var s Security
	var errs []string
	ca, certFile, keyFile := getenv("KAFKA_TLS_CA_FILE"), getenv("KAFKA_TLS_CERT_FILE"), getenv("KAFKA_TLS_KEY_FILE")
	enabled := ca != "" || certFile != "" || keyFile != ""
	switch v := strings.ToLower(getenv("KAFKA_TLS")); v {
	case "", "false", "0":
	case "true", "1":
		enabled = true
	default:
		errs = append(errs, fmt.Sprintf("KAFKA_TLS=%q: want true or false", v))
	}
	if enabled {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: getenv("KAFKA_TLS_SERVER_NAME")}
		if ca != "" {
			pem, err := os.ReadFile(ca)
			pool := x509.NewCertPool()
			switch {
			case err != nil:
				errs = append(errs, fmt.Sprintf("KAFKA_TLS_CA_FILE: %v", err))
			case !pool.AppendCertsFromPEM(pem):
				errs = append(errs, fmt.Sprintf("KAFKA_TLS_CA_FILE %s: no PEM certificate in it", ca))
			default:
				cfg.RootCAs = pool
			}
		}
		switch {
		case (certFile == "") != (keyFile == ""):
			errs = append(errs, "KAFKA_TLS_CERT_FILE and KAFKA_TLS_KEY_FILE go together (a client certificate and its key)")
		case certFile != "":
			cert, err := tls.LoadX509KeyPair(certFile, keyFile)
			if err != nil {
				errs = append(errs, fmt.Sprintf("KAFKA_TLS_CERT_FILE / KAFKA_TLS_KEY_FILE: %v", err))
			} else {
				cfg.Certificates = []tls.Certificate{cert}
			}
		}
		s.TLS = cfg
	}
	s.SASLMechanism = strings.ToUpper(getenv("KAFKA_SASL_MECHANISM"))
	s.SASLUser = getenv("KAFKA_SASL_USERNAME")
	pw, err := SecretFromEnv(getenv, "KAFKA_SASL_PASSWORD")
	if err != nil {
		errs = append(errs, err.Error())
	}
	s.SASLPassword = pw
	switch s.SASLMechanism {
	case "":
		if s.SASLUser != "" || s.SASLPassword != "" {
			errs = append(errs, "KAFKA_SASL_USERNAME / KAFKA_SASL_PASSWORD are set but KAFKA_SASL_MECHANISM is not (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)")
		}
	case SASLPlain, SASLScramSHA256, SASLScramSHA512:
		if s.SASLUser == "" || s.SASLPassword == "" {
			errs = append(errs, fmt.Sprintf("KAFKA_SASL_MECHANISM=%s needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD (or _FILE)", s.SASLMechanism))
		}
		if s.SASLMechanism == SASLPlain && s.TLS == nil {
			errs = append(errs, "KAFKA_SASL_MECHANISM=PLAIN sends the password in the clear: set KAFKA_TLS (or a CA file) too")
		}
	default:
		errs = append(errs, fmt.Sprintf("KAFKA_SASL_MECHANISM=%q: want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", s.SASLMechanism))
	}
	if len(errs) > 0 {
		return Security{}, errors.New(strings.Join(errs, "; "))
	}
	return s, nil
}

// applySarama sets the security of a Sarama configuration (every Goka and admin client).
func (s Security) applySarama(c *sarama.Config) {
	if s.TLS != nil {
		c.Net.TLS.Enable = true
		c.Net.TLS.Config = s.TLS.Clone()
	}
	if s.SASLMechanism == "" {
		return
	}
	c.Net.SASL.Enable = true
	c.Net.SASL.Handshake = true
	c.Net.SASL.User, c.Net.SASL.Password = s.SASLUser, s.SASLPassword
	switch s.SASLMechanism {
	case SASLPlain:
		c.Net.SASL.Mechanism = sarama.SASLTypePlaintext
	case SASLScramSHA256:
		c.Net.SASL.Mechanism = sarama.SASLTypeSCRAMSHA256
		c.Net.SASL.SCRAMClientGeneratorFunc = func() sarama.SCRAMClient { return &scramClient{hash: sha256.New} }
	case SASLScramSHA512:
		c.Net.SASL.Mechanism = sarama.SASLTypeSCRAMSHA512
		c.Net.SASL.SCRAMClientGeneratorFunc = func() sarama.SCRAMClient { return &scramClient{hash: sha512.New} }
	}
}

// KafkaClientOpts are the franz-go options of the same security, for this product's own
// clients (atlas tail, emit, login, dlq replay, the console), with the brokers. A keyed record
// goes to the partition Goka would choose (Sarama's hash of FNV-1a): a stage's state for a
// key lives in the partition of its input topic that the key hashes to, so a command written
// by franz-go's default partitioner (murmur2) would reach the wrong instance and table
// partition.
func (o Options) KafkaClientOpts(brokers ...string) []kgo.Opt {
	if len(brokers) == 0 {
		brokers = o.Brokers
	}
	opts := []kgo.Opt{kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(GokaPartitioner())}
	s := o.Security
	if s.TLS != nil {
		opts = append(opts, kgo.DialTLSConfig(s.TLS.Clone()))
	}
	switch s.SASLMechanism {
	case SASLPlain:
		opts = append(opts, kgo.SASL(plain.Auth{User: s.SASLUser, Pass: s.SASLPassword}.AsMechanism()))
	case SASLScramSHA256:
		opts = append(opts, kgo.SASL(scram.Auth{User: s.SASLUser, Pass: s.SASLPassword}.AsSha256Mechanism()))
	case SASLScramSHA512:
		opts = append(opts, kgo.SASL(scram.Auth{User: s.SASLUser, Pass: s.SASLPassword}.AsSha512Mechanism()))
	}
	return opts
}

// GokaPartitioner places a keyed record as Goka's emitters and processors do.
func GokaPartitioner() kgo.Partitioner {
	return kgo.StickyKeyPartitioner(kgo.SaramaCompatHasher(func(key []byte) uint32 {
		h := goka.DefaultHasher()()
		_, _ = h.Write(key)
		return h.Sum32()
	}))
}

// scramClient is Sarama's SCRAM conversation over github.com/xdg-go/scram.
type scramClient struct {
	hash func() hash.Hash
	conv *xscram.ClientConversation
}

func (c *scramClient) Begin(user, password, authzID string) error {
	client, err := xscram.HashGeneratorFcn(c.hash).NewClient(user, password, authzID)
	if err != nil {
		return err
	}
	c.conv = client.NewConversation()
	return nil
}

func (c *scramClient) Step(challenge string) (string, error) { return c.conv.Step(challenge) }

func (c *scramClient) Done() bool { return c.conv.Done() }
