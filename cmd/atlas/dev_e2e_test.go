package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/atlasstreams/atlas"
	"github.com/atlasstreams/atlas/codecs"
	"github.com/atlasstreams/atlas/processors/account/accountpb"
	"github.com/atlasstreams/atlas/processors/account/seal"
	"github.com/atlasstreams/atlas/processors/runtime/kafkatest"
	"github.com/atlasstreams/atlas/processors/topicread"
	"github.com/google/uuid"
	"github.com/lovoo/goka"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/crypto/bcrypt"
	"google.golang.org/protobuf/proto"
)

var atlasBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "atlas-e2e")
	if err != nil {
		panic(err)
	}
	atlasBin = filepath.Join(dir, "atlas")
	if out, err := exec.Command("go", "build", "-o", atlasBin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building atlas: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// recordHeaders are the tenant's headers on a franz-go record.
func recordHeaders(t codecs.Tenant) []kgo.RecordHeader {
	var hs []kgo.RecordHeader
	for k, v := range t.Headers() {
		hs = append(hs, kgo.RecordHeader{Key: k, Value: v})
	}
	return hs
}

// devLogs holds what the dev stack logged, for the plaintext scan.
var devLogs syncBuffer

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var readyLine = regexp.MustCompile(`^atlas dev ready: kafka=(\S+) http=(\S+) channels=(\S+)$`)

// stackAddrs is where the test reaches the product: the broker, the query API, and every
// process's /metrics.
type stackAddrs struct {
	kafka   string
	api     string
	metrics []string
}

// startStack runs the product: `atlas dev` on free ports, or, when KAFKA_BROKERS names a real
// broker (ATLAS_TEST_KAFKA_BROKERS), the components `atlas dev` runs (account, registry, api) as processes of their own
// against it.
func startStack(t *testing.T) stackAddrs {
	if kafkatest.RealBrokers() != "" {
		return componentsStack(t)
	}
	kafka, httpBase := devStack(t, "ATLAS_API_TOKENS="+e2eAPIToken)
	return stackAddrs{kafka: kafka, api: httpBase, metrics: []string{httpBase}}
}

// stopOnCleanup sends SIGTERM at the end of the test and requires a clean exit.
func stopOnCleanup(t *testing.T, cmd *exec.Cmd) {
	t.Cleanup(func() {
		require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		select {
		case err := <-exited:
			// SIGTERM finishes in-flight work and stops cleanly: exit status 0.
			require.NoError(t, err, "%s did not stop cleanly on SIGTERM", cmd.Args)
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			t.Fatalf("%s did not stop within 30s of SIGTERM", cmd.Args)
		}
	})
}

// e2eAPIToken is the query API's bearer token in these tests (ATLAS_API_TOKENS).
const e2eAPIToken = "e2e-api-token-0123456789abcdef"

var startedAt = regexp.MustCompile(`"http":"([^"]+)".*started`)

// componentsStack starts account, registry and api against the test broker (the run's topics
// wiped first); the processes inherit ATLAS_NAME_PREFIX.
func componentsStack(t *testing.T) stackAddrs {
	o := kafkatest.Broker(t, 4)
	_, err := o.EnsureTopics(allTopics(o))
	require.NoError(t, err)
	key := base64.StdEncoding.EncodeToString(seal.RandomKey())
	addrs := stackAddrs{kafka: o.Brokers[0]}
	for _, name := range []string{"account", "registry", "api"} {
		cmd := exec.Command(atlasBin, name, "--http-listen", "127.0.0.1:0")
		cmd.Env = append(os.Environ(), "KAFKA_BROKERS="+strings.Join(o.Brokers, ","), "ATLAS_PASSWORD_SEAL_KEYS="+key,
			"ATLAS_BCRYPT_COST=4", "ATLAS_LOG_LEVEL=info", "ATLAS_API_TOKENS="+e2eAPIToken)
		stderr, err := cmd.StderrPipe()
		require.NoError(t, err)
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlive a killed test
		require.NoError(t, cmd.Start())
		stopOnCleanup(t, cmd)
		found := make(chan string, 1)
		go func() {
			sc := bufio.NewScanner(stderr)
			for sc.Scan() {
				line := sc.Text()
				fmt.Fprintln(io.MultiWriter(os.Stderr, &devLogs), line)
				if m := startedAt.FindStringSubmatch(line); m != nil {
					select {
					case found <- "http://" + m[1]:
					default:
					}
				}
			}
		}()
		var base string
		select {
		case base = <-found:
		case <-time.After(60 * time.Second):
			t.Fatalf("atlas %s did not start within 60s", name)
		}
		require.Eventually(t, func() bool {
			resp, err := http.Get(base + "/readyz")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		}, 90*time.Second, 50*time.Millisecond, "atlas %s ready", name)
		addrs.metrics = append(addrs.metrics, base)
		if name == "api" {
			addrs.api = base
		}
	}
	return addrs
}

// devStack runs `atlas dev` on free ports, with env added to its environment, and returns its
// Kafka and HTTP addresses.
func devStack(t *testing.T, env ...string) (kafka, httpBase string) {
	cmd := exec.Command(atlasBin, "dev", "--kafka-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0", "--partitions", "4", "--channels", "1:0,2:0")
	devDir := os.Getenv("ATLAS_DEV_DIR")
	if devDir == "" {
		devDir = t.TempDir() // the development ticket key goes there, not into the source tree
	}
	cmd.Env = append(append(os.Environ(), "ATLAS_BCRYPT_COST=4", "ATLAS_LOG_LEVEL=info", "ATLAS_DEV_DIR="+devDir), env...)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = io.MultiWriter(os.Stderr, &devLogs)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlive a killed test
	require.NoError(t, cmd.Start())
	stopOnCleanup(t, cmd)
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	timeout := time.After(90 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			require.True(t, ok, "atlas dev exited before it was ready")
			if m := readyLine.FindStringSubmatch(l); m != nil {
				go func() {
					for range lines { // keep draining so the child never blocks on stdout
					}
				}()
				return m[1], m[2]
			}
		case <-timeout:
			t.Fatal("atlas dev printed no ready line within 90s")
		}
	}
}

// metricValue sums a metric's series that carry every label, over the stack's processes.
func metricValue(t *testing.T, s stackAddrs, name string, labels ...string) float64 {
	sum := 0.0
	for _, base := range s.metrics {
		sum += metricValueAt(t, base, name, labels...)
	}
	return sum
}

func metricValueAt(t *testing.T, httpBase, name string, labels ...string) float64 {
	resp, err := http.Get(httpBase + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "/metrics: %s", body)
	sum := 0.0
	for _, line := range strings.Split(string(body), "\n") {
		if !strings.HasPrefix(line, name+"{") {
			continue
		}
		match := true
		for _, l := range labels {
			match = match && strings.Contains(line, l)
		}
		if !match {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		require.NoError(t, err)
		sum += v
	}
	return sum
}

// A third-party Kafka client drives the dev stack: a CreateCommand and a login with tenant
// headers in, CREATED, LOGGED_IN and the session CREATED out, and the metrics move.
func TestDevStackEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	stack := startStack(t)
	kafka, httpBase := stack.kafka, stack.api

	resp, err := http.Get(httpBase + "/readyz")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	before := metricValue(t, stack, "atlas_messages_in_total", `group="`+string(atlas.AccountIngressGroup)+`"`, `outcome="ok"`)

	cl, err := kgo.NewClient(kgo.SeedBrokers(kafka),
		kgo.ConsumeTopics(string(atlas.EventTopicAccountStatus), string(atlas.EventTopicAccountSessionStatus)),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	require.NoError(t, err)
	defer cl.Close()

	// JMS never asks for the license agreement, so the login ends with session CREATED.
	tenant := codecs.Tenant{ID: uuid.New(), Region: "JMS", Major: 185, Minor: 1}
	hdrs := recordHeaders(tenant)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sid := uuid.New()
	require.NoError(t, cl.ProduceSync(ctx, &kgo.Record{Topic: string(atlas.CommandTopicCreateAccount), Key: []byte(codecs.IDKey(77)),
		Value: []byte(`{"name":"e2e-bob","password":"` + e2ePassword + `"}`), Headers: hdrs}).FirstErr())

	want := map[string]bool{
		`{"account_id":1,"name":"e2e-bob","status":"CREATED"}`:                                                                                  false,
		`{"account_id":1,"name":"e2e-bob","status":"LOGGED_IN"}`:                                                                                false,
		`{"sessionId":"` + sid.String() + `","accountId":1,"accountName":"e2e-bob","type":"CREATED","body":{"ipAddress":"10.1.2.3","hwid":""}}`: false,
	}
	loginSent := false
	for missing := len(want); missing > 0; {
		fs := cl.PollFetches(ctx)
		require.NoError(t, ctx.Err(), "events still missing: %v", want)
		fs.EachRecord(func(r *kgo.Record) {
			got, _ := codecs.TenantFromHeaders(topicread.HeaderMap(r.Headers))
			if got != tenant {
				return
			}
			if _, ok := want[string(r.Value)]; ok && !want[string(r.Value)] {
				want[string(r.Value)] = true
				missing--
			}
		})
		if want[`{"account_id":1,"name":"e2e-bob","status":"CREATED"}`] && !loginSent {
			login := fmt.Sprintf(`{"sessionId":%q,"accountId":0,"author":"LOGIN","type":"CREATE","body":{"accountName":"e2e-bob","password":%q,"ipAddress":"10.1.2.3"}}`, sid, e2ePassword)
			require.NoError(t, cl.ProduceSync(ctx, &kgo.Record{Topic: string(atlas.CommandTopicAccountSession), Key: []byte(codecs.IDKey(0)),
				Value: []byte(login), Headers: hdrs}).FirstErr())
			loginSent = true
		}
	}
	// The account, queried over HTTP with the tenant headers as decimal text.
	get := func(path string, h codecs.Tenant, token ...string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, httpBase+path, nil)
		req.Header.Set("Authorization", "Bearer "+append(token, e2eAPIToken)[0])
		req.Header.Set(codecs.HeaderTenantID, h.ID.String())
		req.Header.Set(codecs.HeaderRegion, h.Region)
		req.Header.Set(codecs.HeaderMajorVersion, strconv.Itoa(int(h.Major)))
		req.Header.Set(codecs.HeaderMinorVersion, strconv.Itoa(int(h.Minor)))
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	require.Eventually(t, func() bool {
		code, body := get("/api/accounts/1", tenant)
		return code == http.StatusOK && strings.Contains(body, `"name":"e2e-bob"`) && strings.Contains(body, `"loggedIn":1`)
	}, 30*time.Second, 50*time.Millisecond, "the account is served over HTTP once logged in")
	code, body := get("/api/accounts?name=E2E-BOB", tenant)
	require.Equal(t, http.StatusOK, code, body)
	code, body = get("/api/accounts/1", tenant, "not-the-token-0123456789abcdef")
	require.Equal(t, http.StatusUnauthorized, code, "no account without the bearer token")
	require.NotContains(t, body, "e2e-bob")
	require.NotContains(t, body, "$2a$", "never the password hash")
	other := tenant
	other.ID = uuid.New()
	code, _ = get("/api/accounts/1", other)
	require.Equal(t, http.StatusNotFound, code, "another tenant does not see the account")
	require.Eventually(t, func() bool {
		code, body := get("/api/registry/1", tenant)
		return code == http.StatusOK && strings.Contains(body, `"loggedIn":true`)
	}, 30*time.Second, 50*time.Millisecond, "the registry group saw LOGGED_IN")

	after := metricValue(t, stack, "atlas_messages_in_total", `group="`+string(atlas.AccountIngressGroup)+`"`, `outcome="ok"`)
	require.GreaterOrEqual(t, after-before, 2.0, "the ingress counted the two commands")
	require.Greater(t, metricValue(t, stack, "atlas_bcrypt_seconds_count"), 0.0, "bcrypt time is measured")
	require.Greater(t, metricValue(t, stack, "atlas_messages_out_total", `topic="`+string(atlas.EventTopicAccountStatus)+`"`), 0.0)
	// A wrong password too, so the failure path is scanned as well.
	require.NoError(t, cl.ProduceSync(ctx, &kgo.Record{Topic: string(atlas.CommandTopicAccountSession), Key: []byte(codecs.IDKey(0)),
		Value: []byte(fmt.Sprintf(`{"sessionId":%q,"accountId":0,"author":"LOGIN","type":"CREATE","body":{"accountName":"e2e-bob","password":%q,"ipAddress":"10.1.2.3"}}`,
			uuid.New(), e2eWrongPassword)), Headers: hdrs}).FirstErr())
	require.Eventually(t, func() bool {
		return metricValue(t, stack, "atlas_account_outcomes_total", `outcome="INCORRECT_PASSWORD"`) >= 1
	}, 30*time.Second, 50*time.Millisecond)
	assertNoPlaintext(t, kafka, stack, body)
}

// The passwords of the end-to-end test, distinctive so a scan cannot match anything else.
const (
	e2ePassword      = "e2e-Plaintext-7f3a91"
	e2eWrongPassword = "e2e-Wrong-Plaintext-c02e55"
)

// assertNoPlaintext reads every topic the stack wrote (all but the public command topics, which
// carry the producers' input, and the dead-letter topic, which keeps refused input verbatim),
// the logs, the metrics page and the HTTP answers, and finds neither password; and it checks
// that stored hashes have the configured bcrypt cost.
func assertNoPlaintext(t *testing.T, kafka string, stack stackAddrs, answers ...string) {
	texts := map[string]string{"logs": devLogs.String()}
	for _, base := range stack.metrics {
		resp, err := http.Get(base + "/metrics")
		require.NoError(t, err)
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		texts["metrics of "+base] = string(page)
	}
	for i, a := range answers {
		texts[fmt.Sprint("HTTP answer ", i)] = a
	}
	for what, text := range texts {
		for _, pw := range []string{e2ePassword, e2eWrongPassword} {
			require.NotContains(t, text, pw, "a password in the %s", what)
		}
	}

	admin, err := sarama.NewClient([]string{kafka}, sarama.NewConfig())
	require.NoError(t, err)
	defer admin.Close()
	topics, err := admin.Topics()
	require.NoError(t, err)
	ends := map[string]map[int32]int64{}
	var scanned []string
	for _, topic := range topics {
		// Only this run's topics (on a shared broker, nothing else is read); the command
		// topics and the dead-letter topic hold what clients sent, plaintext included.
		if !strings.HasPrefix(topic, atlas.NamePrefix) || strings.HasPrefix(topic, atlas.NamePrefix+"COMMAND_TOPIC_") ||
			topic == string(atlas.DeadLetterTopic) || strings.HasPrefix(topic, "__") {
			continue
		}
		parts, err := admin.Partitions(topic)
		require.NoError(t, err)
		ends[topic] = map[int32]int64{}
		for _, p := range parts {
			hwm, err := admin.GetOffset(topic, p, sarama.OffsetNewest)
			require.NoError(t, err)
			if hwm > 0 {
				ends[topic][p] = hwm
			}
		}
		scanned = append(scanned, topic)
	}
	require.Contains(t, scanned, string(atlas.AccountNameCommands), "the internal topics are scanned")
	cl, err := kgo.NewClient(kgo.SeedBrokers(kafka), kgo.ConsumeTopics(scanned...), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	require.NoError(t, err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	hashes := 0
	for remaining := countPositive(ends); remaining > 0; {
		fs := cl.PollFetches(ctx)
		require.NoError(t, ctx.Err(), "topics not read to their end")
		fs.EachRecord(func(r *kgo.Record) {
			data := string(r.Value) + string(r.Key)
			for _, h := range r.Headers {
				data += string(h.Value)
			}
			for _, pw := range []string{e2ePassword, e2eWrongPassword} {
				require.NotContains(t, data, pw, "a password in topic %s", r.Topic)
			}
			if r.Topic == string(goka.GroupTable(atlas.AccountNamesGroup)) && len(r.Value) > 0 {
				var e accountpb.NameEntry
				require.NoError(t, proto.Unmarshal(r.Value, &e))
				cost, err := bcrypt.Cost(e.PasswordHash)
				require.NoError(t, err)
				require.Equal(t, 4, cost, "ATLAS_BCRYPT_COST is honoured")
				hashes++
			}
			if end, ok := ends[r.Topic][r.Partition]; ok && r.Offset+1 >= end {
				delete(ends[r.Topic], r.Partition)
				remaining--
			}
		})
	}
	require.Positive(t, hashes, "the names table was scanned")
}

func countPositive(m map[string]map[int32]int64) int {
	n := 0
	for _, parts := range m {
		n += len(parts)
	}
	return n
}
