package bench

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/atlasstreams/atlas/codecs"
	"github.com/atlasstreams/atlas/processors/channel/gateway"
	"github.com/atlasstreams/atlas/processors/channel/protocol"
	"github.com/atlasstreams/atlas/processors/channel/sessions"
	"github.com/atlasstreams/atlas/processors/runtime"
	"github.com/atlasstreams/atlas/processors/ticket"
	"github.com/coder/websocket"
	"github.com/google/uuid"
)

// entryTenant is the tenant of the entry figures.
var entryTenant = codecs.Tenant{ID: uuid.MustParse("00000000-0000-4000-8000-0000000000e1"), Region: "GMS", Major: 83, Minor: 1}

func mintTickets(signer *ticket.Signer, n int) ([]string, error) {
	out := make([]string, n)
	for i := range out {
		t, _, err := signer.Mint(ticket.Grant{Tenant: ticket.TenantOf(entryTenant), ChannelID: 1,
			AccountID: uint32(i + 1), CharacterID: uint32(i + 1), SessionID: uuid.New()})
		if err != nil {
			return nil, err
		}
		out[i] = t
	}
	return out, nil
}

// ticketChecks measures full ticket checks (parse, EdDSA verify, claims, replay memory) per
// second on one core, and a bare Ed25519 verification of the same signed bytes as baseline:
// the ratio is what the JWT handling around the signature costs.
func ticketChecks(n int) (checks, bare float64, err error) {
	key, err := ticket.GenerateKey()
	if err != nil {
		return 0, 0, err
	}
	signer := ticket.NewSigner(key)
	tickets, err := mintTickets(signer, n)
	if err != nil {
		return 0, 0, err
	}
	v, err := ticket.NewVerifier([]ed25519.PublicKey{signer.Public()}, ticket.VerifierOptions{ReplayCapacity: n})
	if err != nil {
		return 0, 0, err
	}
	start := time.Now()
	for _, tk := range tickets {
		if _, err := v.Verify(tk, ticket.Expect{Tenant: ticket.TenantOf(entryTenant), ChannelID: 1}); err != nil {
			return 0, 0, err
		}
	}
	checks = float64(n) / time.Since(start).Seconds()

	pub := signer.Public()
	inputs, sigs := make([][]byte, n), make([][]byte, n)
	for i, tk := range tickets {
		dot := strings.LastIndexByte(tk, '.')
		inputs[i] = []byte(tk[:dot])
		if sigs[i], err = base64.RawURLEncoding.DecodeString(tk[dot+1:]); err != nil {
			return 0, 0, err
		}
	}
	start = time.Now()
	for i := range inputs {
		if !ed25519.Verify(pub, inputs[i], sigs[i]) {
			return 0, 0, fmt.Errorf("bare verify failed")
		}
	}
	bare = float64(n) / time.Since(start).Seconds()
	return checks, bare, nil
}

// answeringEmitter stands in for Kafka and the account service: an entry's PROGRESS_STATE is
// answered at once, so an entry costs only the gateway's work.
type answeringEmitter struct {
	mgr *sessions.Manager
}

func (e *answeringEmitter) Send(msg any, tr codecs.Trace) error {
	if c, ok := msg.(*codecs.AccountSessionCommand); ok && c.Type == codecs.AccountSessionCommandTypeProgressState {
		if b, ok := c.Body.(*codecs.AccountSessionCommandProgressStateBody); ok && b.State == 1 {
			go e.mgr.Complete(c.SessionID, characterOf(b), tr)
		}
	}
	return nil
}

func characterOf(b *codecs.AccountSessionCommandProgressStateBody) uint32 {
	var p codecs.ChannelSetFieldParams
	if err := json.Unmarshal(b.Params, &p); err != nil {
		return 0
	}
	return p.CharacterID
}

// entries measures complete channel entries per second over real WebSockets: dial, enter
// with a ticket, ticket check, PROGRESS_STATE, the entered frame; workers clients at once.
func entries(n, workers int) (float64, error) {
	key, err := ticket.GenerateKey()
	if err != nil {
		return 0, err
	}
	signer := ticket.NewSigner(key)
	tickets, err := mintTickets(signer, n)
	if err != nil {
		return 0, err
	}
	v, err := ticket.NewVerifier([]ed25519.PublicKey{signer.Public()}, ticket.VerifierOptions{ReplayCapacity: n})
	if err != nil {
		return 0, err
	}
	emit := &answeringEmitter{}
	mgr := sessions.NewManager(sessions.NewRegistry(), emit)
	emit.mgr = mgr
	gw, err := gateway.New(gateway.Config{Tenant: entryTenant, Channel: 1, Tickets: v,
		Limits: gateway.Limits{MaxConnections: workers * 4}}, mgr, emit, everyoneLoggedIn{})
	if err != nil {
		return 0, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	go func() { _ = gw.Serve(runtime.GuardListener(ln, "bench-gateway", nil)) }()
	defer func() { mgr.CloseAll("bench over"); gw.Shutdown() }()
	url := "ws://" + ln.Addr().String()

	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	start := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				if err := enterOnce(url, tickets[i]); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	took := time.Since(start)
	close(errs)
	if err := <-errs; err != nil {
		return 0, err
	}
	return float64(n) / took.Seconds(), nil
}

func enterOnce(url, tk string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		return err
	}
	defer ws.CloseNow()
	if err := ws.Write(ctx, websocket.MessageText, []byte(fmt.Sprintf(`{"op":"enter","ticket":%q}`, tk))); err != nil {
		return err
	}
	_, data, err := ws.Read(ctx)
	if err != nil {
		return err
	}
	f, err := protocol.ParseServerFrame(data)
	if err != nil {
		return err
	}
	if f.Op != protocol.OpEntered {
		return fmt.Errorf("entry refused: %s %s", f.Code, f.Reason)
	}
	return ws.Close(websocket.StatusNormalClosure, "done")
}
