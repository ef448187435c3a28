package views

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/atlasstreams/atlas/processors/runtime"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"golang.org/x/time/rate"
)

// Token is one API bearer token: its SHA-256 (the token itself is not kept) and, when scoped,
// the only tenant it may read.
type Token struct {
	sum    [32]byte
	Tenant uuid.UUID // uuid.Nil: every tenant
	id     string    // for logs and rate limits: a prefix of the hash, never the token
}

// MinTokenBytes bounds how short a token may be: a guessable token is no authentication.
const MinTokenBytes = 24

// ParseTokens reads ATLAS_API_TOKENS: tokens separated by commas or white space, each either
// TOKEN (any tenant) or TENANT_UUID=TOKEN (that tenant only). Errors never quote a token.
func ParseTokens(text string) ([]Token, error) {
	var out []Token
	for i, item := range strings.FieldsFunc(text, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' || r == '\r' }) {
		tok := Token{}
		if tenant, secret, scoped := strings.Cut(item, "="); scoped {
			id, err := uuid.Parse(tenant)
			if err != nil || id == uuid.Nil {
				return nil, fmt.Errorf("API token %d: the part before = must be a tenant uuid", i+1)
			}
			tok.Tenant, item = id, secret
		}
		if len(item) < MinTokenBytes {
			return nil, fmt.Errorf("API token %d: want at least %d characters (openssl rand -base64 32)", i+1, MinTokenBytes)
		}
		tok.sum = sha256.Sum256([]byte(item))
		tok.id = fmt.Sprintf("%x", tok.sum[:4])
		out = append(out, tok)
	}
	return out, nil
}

// Access guards the API: bearer tokens (none configured: open, as in `atlas dev`) and a token
// bucket per client (the token, else the remote address).
type Access struct {
	tokens []Token
	rate   rate.Limit
	burst  int

	mu      sync.Mutex
	clients map[string]*rate.Limiter
}

// maxClients bounds the remembered limiters: beyond it the oldest generation is forgotten.
const maxClients = 10000

// NewAccess makes the guard: perSecond and burst per client (0: 50 and 100).
func NewAccess(tokens []Token, perSecond float64, burst int) *Access {
	if perSecond <= 0 {
		perSecond = 50
	}
	if burst <= 0 {
		burst = 100
	}
	return &Access{tokens: tokens, rate: rate.Limit(perSecond), burst: burst, clients: map[string]*rate.Limiter{}}
}

var apiRefusals = promauto.NewCounterVec(prometheus.CounterOpts{
	Namespace: "atlas", Name: "api_refused_total",
	Help: "API requests refused before any table was read, by reason (unauthenticated, forbidden_tenant, rate_limited).",
}, []string{"reason"})

func init() {
	for _, r := range []string{"unauthenticated", "forbidden_tenant", "rate_limited"} {
		apiRefusals.WithLabelValues(r)
	}
}

var errUnauthenticated = errors.New("unauthenticated")

// check authenticates r and charges its client's bucket. It returns the token's tenant scope.
func (a *Access) check(r *http.Request) (scope uuid.UUID, err error) {
	client := remoteHost(r)
	if len(a.tokens) > 0 {
		tok, ok := a.match(r.Header.Get("Authorization"))
		if !ok {
			apiRefusals.WithLabelValues("unauthenticated").Inc()
			return uuid.Nil, errUnauthenticated
		}
		client, scope = "token "+tok.id, tok.Tenant
	}
	if !a.limiter(client).Allow() {
		apiRefusals.WithLabelValues("rate_limited").Inc()
		return scope, &httpError{http.StatusTooManyRequests, "too many requests: slow down"}
	}
	return scope, nil
}

// match finds the token of an Authorization header, comparing hashes in constant time.
func (a *Access) match(header string) (Token, bool) {
	secret, ok := strings.CutPrefix(header, "Bearer ")
	if !ok || secret == "" || len(secret) > 1024 {
		return Token{}, false
	}
	sum := sha256.Sum256([]byte(secret))
	var found Token
	hit := 0
	for _, t := range a.tokens {
		if subtle.ConstantTimeCompare(sum[:], t.sum[:]) == 1 {
			found, hit = t, 1
		}
	}
	return found, hit == 1
}

func (a *Access) limiter(client string) *rate.Limiter {
	a.mu.Lock()
	defer a.mu.Unlock()
	l, ok := a.clients[client]
	if !ok {
		if len(a.clients) >= maxClients {
			a.clients = map[string]*rate.Limiter{} // a flood of addresses forgets, not grows
		}
		l = rate.NewLimiter(a.rate, a.burst)
		a.clients[client] = l
	}
	return l
}

func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// retryAfter is the Retry-After of a 429: one token's worth of time, at least a second.
func (a *Access) retryAfter() string {
	return strconv.Itoa(int(max(time.Second, time.Duration(float64(time.Second)/float64(a.rate))).Seconds()))
}

// AccessFromEnv reads ATLAS_API_TOKENS (or the file ATLAS_API_TOKENS_FILE names) and
// ATLAS_API_RATE / ATLAS_API_BURST (requests per second and burst per client). required:
// no token is an error (every command but `atlas dev`).
func AccessFromEnv(getenv func(string) string, required bool) (*Access, error) {
	text, err := runtime.SecretFromEnv(getenv, "ATLAS_API_TOKENS")
	if err != nil {
		return nil, err
	}
	tokens, err := ParseTokens(text)
	if err != nil {
		return nil, err
	}
	if required && len(tokens) == 0 {
		return nil, errors.New("ATLAS_API_TOKENS is not set: the query API serves only bearer-token holders " +
			"(tokens of at least 24 characters, TENANT_UUID=TOKEN to scope one to a tenant); only `atlas dev` runs without")
	}
	perSecond, burst := 0.0, 0
	if v := getenv("ATLAS_API_RATE"); v != "" {
		if perSecond, err = strconv.ParseFloat(v, 64); err != nil || perSecond <= 0 {
			return nil, fmt.Errorf("ATLAS_API_RATE=%q: want requests per second above 0", v)
		}
	}
	if v := getenv("ATLAS_API_BURST"); v != "" {
		if burst, err = strconv.Atoi(v); err != nil || burst < 1 {
			return nil, fmt.Errorf("ATLAS_API_BURST=%q: want a whole number of at least 1", v)
		}
	}
	return NewAccess(tokens, perSecond, burst), nil
}

// Open reports whether the guard admits requests without a token.
func (a *Access) Open() bool { return len(a.tokens) == 0 }
