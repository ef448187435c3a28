package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/atlasstreams/atlas"
	"github.com/atlasstreams/atlas/codecs"
	"github.com/chromedp/chromedp"
	"github.com/google/uuid"
	"github.com/lovoo/goka"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
)

// browserPath is a Chromium to drive: ATLAS_TEST_BROWSER, else the first of the usual names
// on PATH. Empty: none here.
func browserPath() string {
	if p := os.Getenv("ATLAS_TEST_BROWSER"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// The console in a real browser against `atlas dev` with a token: the operator enters the
// token, picks the tenant, sees a new account, sees it log in without reloading, sees the
// channels up, and finds a dead letter (its password masked) and replays it.
func TestConsoleInABrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test")
	}
	browser := browserPath()
	if browser == "" {
		const why = "no Chromium on this machine (apt-get install chromium, or set ATLAS_TEST_BROWSER): the console's browser test needs one"
		if os.Getenv("ATLAS_TEST_REQUIRE_BROWSER") != "" {
			t.Fatal(why + "; ATLAS_TEST_REQUIRE_BROWSER (set by .ci/run) says CI must not skip it")
		}
		t.Skip(why)
	}
	devDir := t.TempDir()
	t.Setenv("ATLAS_DEV_DIR", devDir) // atlas dev writes its ticket key there, atlas login reads it
	kafka, httpBase := devStack(t, "ATLAS_API_TOKENS="+e2eAPIToken, "CHANNEL_HEARTBEAT_INTERVAL=500ms")

	cl, err := kgo.NewClient(kgo.SeedBrokers(kafka))
	require.NoError(t, err)
	defer cl.Close()
	tenant := codecs.Tenant{ID: uuid.New(), Region: "JMS", Major: 185, Minor: 1}
	hdrs := recordHeaders(tenant)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	produce := func(topic goka.Stream, value string) {
		require.NoError(t, cl.ProduceSync(ctx, &kgo.Record{Topic: string(topic), Key: []byte(codecs.IDKey(0)), Value: []byte(value), Headers: hdrs}).FirstErr())
	}

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(browser), chromedp.NoSandbox, chromedp.DisableGPU)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()

	// until waits for a JavaScript condition on the page (the console polls every 1.5 s).
	until := func(what, expr string) chromedp.Action[chromedp.Void] {
		return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
			_, err := chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(45*time.Second), chromedp.WithPollingInterval(100*time.Millisecond))(ctx, tg)
			if err != nil {
				page, _ := chromedp.Text(chromedp.CSS("body"))(ctx, tg)
				return chromedp.Void{}, fmt.Errorf("%s: %w; the page shows:\n%s", what, err, page)
			}
			return chromedp.Void{}, nil
		}
	}
	js := func(script string) chromedp.Action[chromedp.Void] { return chromedp.Evaluate[chromedp.Void](script) }
	css := func(sel string) chromedp.CSS { return chromedp.CSS(sel) }
	row := `#account-rows tr[data-name="console-amy"]`
	state := func(want string) string {
		return fmt.Sprintf(`(document.querySelector('%s td.state') || {}).textContent === %q`, row, want)
	}

	produce(atlas.CommandTopicCreateAccount, `{"name":"console-amy","password":"`+e2ePassword+`"}`)
	require.NoError(t, chromedp.Do(bctx,
		chromedp.Navigate(httpBase+"/console/"),
		until("the page asks for a token", `document.getElementById('status').textContent.includes('token')`),
		chromedp.SendKeys(css("#token"), e2eAPIToken),
		js(`document.getElementById('token').dispatchEvent(new Event('change'))`),
		until("the tenant picker lists the tenant", fmt.Sprintf(`[...document.querySelectorAll('#tenant-pick option')].some(o => o.textContent.startsWith(%q))`, tenant.ID.String())),
		js(fmt.Sprintf(`(() => { const p = document.getElementById('tenant-pick');
			p.value = [...p.options].find(o => o.textContent.startsWith(%q)).value;
			p.dispatchEvent(new Event('change')); })()`, tenant.ID.String())),
		until("the new account is listed, logged out", state("logged out")),
	))

	sid := uuid.New()
	produce(atlas.CommandTopicAccountSession, fmt.Sprintf(`{"sessionId":%q,"accountId":0,"author":"LOGIN","type":"CREATE","body":{"accountName":"console-amy","password":%q,"ipAddress":"10.1.2.3"}}`, sid, e2ePassword))
	require.NoError(t, chromedp.Do(bctx, until("the account's state turns to logged in without a reload", state("logged in"))))
	lastLogin, err := chromedp.Run(bctx, chromedp.Text(css(row+" td.last-login")))
	require.NoError(t, err)
	require.NotEqual(t, "never", lastLogin, "a login sets the last login")

	// The dev stack's channels, from their heartbeats (the dev tenant, not the test's).
	require.NoError(t, chromedp.Do(bctx,
		js(`(() => { const set = (id, v) => { const e = document.getElementById(id); e.value = v; e.dispatchEvent(new Event('change')); };
			set('tenant-id', '00000000-0000-4000-8000-000000000001'); set('tenant-region', 'GMS'); set('tenant-major', '83'); set('tenant-minor', '1'); })()`),
		chromedp.Click(css(`nav button[data-tab="channels"]`)),
		until("both dev channels are listed with their load", `document.querySelectorAll('#channel-rows tr').length === 2 &&
			[...document.querySelectorAll('#channel-rows td.players')].every(td => td.textContent === '0 / 1000')`),
	))

	// The README's first look, watched from the console: bob is created and logged in by the
	// development login server, waits in transition, and enters channel 1 with atlas client.
	tool := func(args ...string) *exec.Cmd {
		cmd := exec.CommandContext(ctx, atlasBin, args...)
		cmd.Env = append(os.Environ(), "KAFKA_BROKERS=", "ATLAS_KAFKA_LISTEN="+kafka, "ATLAS_DEV_DIR="+devDir)
		return cmd
	}
	login, err := tool("login", "--name", "bob", "--password", "secret", "--character", "42", "--world", "0", "--channel", "1", "--create").Output()
	require.NoError(t, err)
	bob := `#account-rows tr[data-name="bob"] td.state`
	require.NoError(t, chromedp.Do(bctx,
		chromedp.Click(css(`nav button[data-tab="accounts"]`)),
		until("bob waits in transition toward the channel", fmt.Sprintf(`(document.querySelector('%s') || {}).textContent === 'in transition'`, bob)),
	))
	client := tool("client", "--login", strings.TrimSpace(string(login)))
	require.NoError(t, client.Start())
	t.Cleanup(func() { _ = client.Process.Kill(); _ = client.Wait() })
	require.NoError(t, chromedp.Do(bctx,
		until("bob is logged in on the channel", fmt.Sprintf(`(document.querySelector('%s') || {}).textContent === 'logged in'`, bob)),
		chromedp.Click(css(`nav button[data-tab="channels"]`)),
		until("channel 1 counts bob", `(document.querySelector('#channel-rows tr[data-id="0-1"] td.players') || {}).textContent === '1 / 1000'`),
	))

	// A refused account creation is dead-lettered with its password; the console masks it.
	const secret = "console-Plaintext-41d0"
	produce(atlas.CommandTopicCreateAccount, `{"name":"","password":"`+secret+`"}`)
	require.NoError(t, chromedp.Do(bctx,
		chromedp.Click(css(`nav button[data-tab="deadletters"]`)),
		until("the dead letter is listed", `document.querySelectorAll('#dlq-rows tr').length === 1`),
		chromedp.Click(css(`#dlq-rows tr`)),
		until("its detail is shown", `document.getElementById('dlq-value').textContent.includes('password')`),
	))
	value, err := chromedp.Run(bctx, chromedp.Text(css("#dlq-value")))
	require.NoError(t, err)
	require.NoError(t, chromedp.Do(bctx,
		chromedp.Click(css("#dlq-replay")),
		until("the replay is confirmed", `document.getElementById('dlq-result').textContent.startsWith('replayed ')`),
		// Replayed unchanged, the record is refused again: a second dead letter.
		until("the replayed record is dead-lettered again", `document.querySelectorAll('#dlq-rows tr').length === 2`),
	))
	require.Contains(t, value, `"***"`)
	require.NotContains(t, value, secret, "the console never shows a password")
	page, err := chromedp.Run(bctx, chromedp.OuterHTML(css("html")))
	require.NoError(t, err)
	require.False(t, strings.Contains(page, secret), "nor anywhere else on the page")
}
