package runtime_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/atlasstreams/atlas/processors/runtime"
	"github.com/atlasstreams/atlas/test/kraft"
	"github.com/lovoo/goka"
	"github.com/lovoo/goka/codec"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Every client of the product reaches a Kafka that needs TLS and SASL: the admin client
// creates topics, a Goka processor consumes and produces, the product's own franz-go clients
// read what it wrote; a wrong password is refused. The broker's CA is made by the test.
func TestSASLSSLBroker(t *testing.T) {
	libs := os.Getenv("ATLAS_KAFKA_LIBS")
	if libs == "" {
		t.Skip("needs Kafka's jars (ATLAS_KAFKA_LIBS; make test-kafka sets it)")
	}
	dir := t.TempDir()
	ca, cert, key := runtime.NewTestPKI(t, dir)
	const user, password = "atlas-test", "sasl-ssl-secret-91c4"
	k, err := kraft.Start(libs, 1, kraft.Options{Secure: &kraft.Secure{CertFile: cert, KeyFile: key, User: user, Password: password}}, t.Logf)
	require.NoError(t, err)
	t.Cleanup(k.Close)

	env := map[string]string{"KAFKA_TLS_CA_FILE": ca, "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
		"KAFKA_SASL_USERNAME": user, "KAFKA_SASL_PASSWORD": password}
	sec, err := runtime.SecurityFromEnv(func(k string) string { return env[k] })
	require.NoError(t, err)
	o := runtime.DefaultOptions(k.SecureBrokers()...)
	o.Partitions, o.Security = 2, sec

	in, out, group := goka.Stream("sec-in"), goka.Stream("sec-out"), goka.Group("sec-group")
	_, err = o.EnsureTopics(append(o.Streams(in, out), o.Tables(goka.GroupTable(group))...))
	require.NoError(t, err, "the admin client over SASL_SSL")

	gg := goka.DefineGroup(group,
		goka.Input(in, new(codec.String), func(ctx goka.Context, msg interface{}) {
			n, _ := ctx.Value().(int64)
			ctx.SetValue(n + 1)
			ctx.Emit(out, ctx.Key(), msg.(string)+" seen")
		}),
		goka.Persist(new(codec.Int64)),
		goka.Output(out, new(codec.String)),
	)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := o.StartProcessor(ctx, gg, sarama.OffsetOldest)
	defer func() { cancel(); <-r.Done() }()

	cl, err := kgo.NewClient(append(o.KafkaClientOpts(), kgo.ConsumeTopics(string(out)), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
	require.NoError(t, err)
	defer cl.Close()
	pctx, pcancel := context.WithTimeout(ctx, 60*time.Second)
	defer pcancel()
	require.NoError(t, cl.ProduceSync(pctx, &kgo.Record{Topic: string(in), Key: []byte("k"), Value: []byte("hello")}).FirstErr())
	var got string
	for got == "" {
		fs := cl.PollFetches(pctx)
		require.NoError(t, pctx.Err(), "the processor's output never came")
		fs.EachRecord(func(rec *kgo.Record) { got = string(rec.Value) })
	}
	require.Equal(t, "hello seen", got)

	// A wrong password, and plaintext to the SASL_SSL port, are refused.
	bad := o
	bad.Security.SASLPassword = "not-the-password"
	_, err = bad.EnsureTopics(bad.Streams(goka.Stream("sec-never")))
	require.Error(t, err)
	require.NotContains(t, err.Error(), "not-the-password")
	plain := o
	plain.Security = runtime.Security{}
	pc, err := kgo.NewClient(plain.KafkaClientOpts()...)
	require.NoError(t, err)
	defer pc.Close()
	pingCtx, pingCancel := context.WithTimeout(ctx, 5*time.Second)
	defer pingCancel()
	require.Error(t, pc.Ping(pingCtx), "plaintext to a SASL_SSL listener")
}
