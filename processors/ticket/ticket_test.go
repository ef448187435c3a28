package ticket

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

var (
	tenant = Tenant{ID: uuid.MustParse("00000000-0000-4000-8000-000000000001"), Region: "GMS", MajorVersion: 83, MinorVersion: 1}
	grant  = Grant{Tenant: tenant, WorldID: 0, ChannelID: 1, AccountID: 7, CharacterID: 42, SessionID: uuid.MustParse("3f2a1c9e-7b1d-4c2a-9e55-0a1b2c3d4e5f")}
	expect = Expect{Tenant: tenant, WorldID: 0, ChannelID: 1}
)

// clock is a settable time for both sides.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func setup(t *testing.T) (*Signer, *Verifier, *clock) {
	t.Helper()
	key, err := GenerateKey()
	require.NoError(t, err)
	clk := &clock{t: time.Unix(1_767_225_600, 0)}
	s := NewSigner(key)
	s.Now = clk.now
	v, err := NewVerifier([]ed25519.PublicKey{s.Public()}, VerifierOptions{Now: clk.now})
	require.NoError(t, err)
	return s, v, clk
}

func mint(t *testing.T, s *Signer, g Grant) string {
	t.Helper()
	tok, _, err := s.Mint(g)
	require.NoError(t, err)
	return tok
}

func requireCode(t *testing.T, want Code, err error) {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, want, CodeOf(err), "%v", err)
}

func TestMintAndVerify(t *testing.T) {
	s, v, _ := setup(t)
	tok, minted, err := s.Mint(grant)
	require.NoError(t, err)
	c, err := v.Verify(tok, Expect{Tenant: tenant, ChannelID: 1, SessionID: grant.SessionID, AccountID: 7, CharacterID: 42})
	require.NoError(t, err)
	require.Equal(t, grant, c.Grant)
	require.Equal(t, minted.ID, c.ID)
	require.Equal(t, DefaultIssuer, c.Issuer)
	require.Equal(t, DefaultLifetime, c.ExpiresAt.Sub(c.IssuedAt.Time))

	// The wire form other languages must produce.
	parts := strings.Split(tok, ".")
	require.Len(t, parts, 3)
	var header map[string]any
	require.NoError(t, json.Unmarshal(b64(t, parts[0]), &header))
	require.Equal(t, map[string]any{"alg": "EdDSA", "typ": "JWT", "kid": KeyID(s.Public())}, header)
	var payload map[string]any
	require.NoError(t, json.Unmarshal(b64(t, parts[1]), &payload))
	for _, k := range []string{"iss", "aud", "exp", "nbf", "iat", "jti", "tenant", "worldId", "channelId", "accountId", "characterId", "sessionId"} {
		require.Contains(t, payload, k)
	}
	require.Equal(t, map[string]any{"id": tenant.ID.String(), "region": "GMS", "majorVersion": 83.0, "minorVersion": 1.0}, payload["tenant"])
	require.Equal(t, []any{Audience}, payload["aud"])
}

func b64(t *testing.T, s string) []byte {
	b, err := base64.RawURLEncoding.DecodeString(s)
	require.NoError(t, err)
	return b
}

func TestTampered(t *testing.T) {
	s, v, _ := setup(t)
	tok := mint(t, s, grant)
	parts := strings.Split(tok, ".")

	// The payload changed to another character, signature kept.
	var payload map[string]any
	require.NoError(t, json.Unmarshal(b64(t, parts[1]), &payload))
	payload["characterId"] = 43
	changed, _ := json.Marshal(payload)
	_, err := v.Verify(parts[0]+"."+base64.RawURLEncoding.EncodeToString(changed)+"."+parts[2], expect)
	requireCode(t, BadSignature, err)

	// One bit of the signature flipped.
	sig := b64(t, parts[2])
	sig[10] ^= 1
	_, err = v.Verify(parts[0]+"."+parts[1]+"."+base64.RawURLEncoding.EncodeToString(sig), expect)
	requireCode(t, BadSignature, err)

	// Signed by a key the channel does not hold, same kid header or none.
	other, _ := GenerateKey()
	forged := NewSigner(other)
	forged.kid = s.kid
	_, err = v.Verify(mint(t, forged, grant), expect)
	requireCode(t, BadSignature, err)
	forged.kid = KeyID(other.Public().(ed25519.PublicKey))
	_, err = v.Verify(mint(t, forged, grant), expect)
	requireCode(t, BadSignature, err)

	for _, junk := range []string{"x", "a.b.c", strings.Repeat("a", MaxTicketBytes+1), parts[0] + "." + parts[1]} {
		_, err = v.Verify(junk, expect)
		requireCode(t, Invalid, err)
	}
	_, err = v.Verify("", expect)
	requireCode(t, Missing, err)

	// The untampered ticket still enters.
	_, err = v.Verify(tok, expect)
	require.NoError(t, err)
}

// The algorithm is pinned: none, and HS256 keyed with the public key, are refused.
func TestAlgorithmPinned(t *testing.T) {
	s, v, clk := setup(t)
	claims := Claims{RegisteredClaims: jwt.RegisteredClaims{
		Audience: jwt.ClaimStrings{Audience}, ID: uuid.NewString(),
		IssuedAt: jwt.NewNumericDate(clk.now()), ExpiresAt: jwt.NewNumericDate(clk.now().Add(time.Minute)),
	}, Grant: grant}
	none, err := jwt.NewWithClaims(jwt.SigningMethodNone, claims).SignedString(jwt.UnsafeAllowNoneSignatureType)
	require.NoError(t, err)
	_, err = v.Verify(none, expect)
	requireCode(t, BadSignature, err)

	hs := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	hs.Header["kid"] = s.kid
	signed, err := hs.SignedString([]byte(s.Public()))
	require.NoError(t, err)
	_, err = v.Verify(signed, expect)
	requireCode(t, BadSignature, err)

	// A hand-made HS256 over the PEM text of the key, the classic confusion.
	head := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	body, _ := json.Marshal(claims)
	msg := head + "." + base64.RawURLEncoding.EncodeToString(body)
	mac := hmac.New(sha256.New, PublicKeyPEM(s.Public()))
	mac.Write([]byte(msg))
	_, err = v.Verify(msg+"."+base64.RawURLEncoding.EncodeToString(mac.Sum(nil)), expect)
	requireCode(t, BadSignature, err)
}

func TestExpiryAndClock(t *testing.T) {
	s, v, clk := setup(t)
	tok := mint(t, s, grant)
	clk.add(DefaultLifetime + Leeway + time.Second)
	_, err := v.Verify(tok, expect)
	requireCode(t, Expired, err)

	// Within the leeway after exp it still enters.
	tok = mint(t, s, grant)
	clk.add(DefaultLifetime + Leeway - time.Second)
	_, err = v.Verify(tok, expect)
	require.NoError(t, err)

	// Minted by a login server whose clock runs ahead by more than the leeway.
	ahead := *s
	ahead.Now = func() time.Time { return clk.now().Add(Leeway + 10*time.Second) }
	_, err = v.Verify(mint(t, &ahead, grant), expect)
	requireCode(t, NotYetValid, err)

	// A lifetime longer than a verifier accepts: refused by both sides.
	long := *s
	long.Lifetime = MaxLifetime + time.Second
	_, _, err = long.Mint(grant)
	require.Error(t, err)
	claims := Claims{RegisteredClaims: jwt.RegisteredClaims{
		Audience: jwt.ClaimStrings{Audience}, ID: uuid.NewString(),
		IssuedAt: jwt.NewNumericDate(clk.now()), ExpiresAt: jwt.NewNumericDate(clk.now().Add(time.Hour)),
	}, Grant: grant}
	_, err = v.Verify(sign(t, s, claims), expect)
	requireCode(t, Invalid, err)

	// No exp, no iat, no jti, another audience.
	for _, mutate := range []func(c *Claims){
		func(c *Claims) { c.ExpiresAt = nil },
		func(c *Claims) { c.IssuedAt = nil },
		func(c *Claims) { c.ID = "" },
		func(c *Claims) { c.Audience = jwt.ClaimStrings{"atlas-api"} },
		func(c *Claims) { c.SessionID = uuid.Nil },
		func(c *Claims) { c.CharacterID = 0 },
	} {
		c := claims
		c.ExpiresAt = jwt.NewNumericDate(clk.now().Add(time.Minute))
		mutate(&c)
		_, err = v.Verify(sign(t, s, c), expect)
		requireCode(t, Invalid, err)
	}
}

// sign signs arbitrary claims with the signer's key, as a careless login server might.
func sign(t *testing.T, s *Signer, c Claims) string {
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c)
	tok.Header["kid"] = s.kid
	out, err := tok.SignedString(s.key)
	require.NoError(t, err)
	return out
}

func TestReplay(t *testing.T) {
	s, v, clk := setup(t)
	tok := mint(t, s, grant)
	c, err := v.Verify(tok, expect)
	require.NoError(t, err)
	_, err = v.Verify(tok, expect)
	requireCode(t, Replayed, err)

	// Released (the channel was full): usable once more, and only once.
	v.Release(c)
	_, err = v.Verify(tok, expect)
	require.NoError(t, err)
	_, err = v.Verify(tok, expect)
	requireCode(t, Replayed, err)

	// Remembered until it expires, then forgotten (and refused as expired anyway).
	require.Equal(t, 1, v.Remembered())
	clk.add(DefaultLifetime + Leeway + time.Second)
	_, err = v.Verify(tok, expect)
	requireCode(t, Expired, err)
	_, err = v.Verify(mint(t, s, grant), expect) // any verify forgets what expired
	require.NoError(t, err)
	require.Equal(t, 1, v.Remembered())
}

// The replay memory is bounded: full of unexpired ids it refuses new tickets instead of
// forgetting one early.
func TestReplayMemoryBounded(t *testing.T) {
	s, _, clk := setup(t)
	v, err := NewVerifier([]ed25519.PublicKey{s.Public()}, VerifierOptions{Now: clk.now, ReplayCapacity: 3})
	require.NoError(t, err)
	var toks []string
	for i := 0; i < 3; i++ {
		toks = append(toks, mint(t, s, grant))
		_, err := v.Verify(toks[i], expect)
		require.NoError(t, err)
	}
	_, err = v.Verify(mint(t, s, grant), expect)
	requireCode(t, Busy, err)
	_, err = v.Verify(toks[0], expect)
	requireCode(t, Replayed, err) // still remembered
	clk.add(DefaultLifetime + Leeway + time.Second)
	_, err = v.Verify(mint(t, s, grant), expect)
	require.NoError(t, err)
	require.Equal(t, 1, v.Remembered())
}

func TestWrongChannelWorldTenantAndIds(t *testing.T) {
	s, v, _ := setup(t)
	other := tenant
	other.ID = uuid.New()
	for _, c := range []struct {
		e    Expect
		want Code
	}{
		{Expect{Tenant: tenant, WorldID: 0, ChannelID: 2}, WrongChannel},
		{Expect{Tenant: tenant, WorldID: 1, ChannelID: 1}, WrongWorld},
		{Expect{Tenant: other, ChannelID: 1}, WrongTenant},
		{Expect{Tenant: Tenant{ID: tenant.ID, Region: "GMS", MajorVersion: 87, MinorVersion: 1}, ChannelID: 1}, WrongTenant},
		{Expect{Tenant: tenant, ChannelID: 1, AccountID: 8}, Mismatch},
		{Expect{Tenant: tenant, ChannelID: 1, CharacterID: 43}, Mismatch},
		{Expect{Tenant: tenant, ChannelID: 1, SessionID: uuid.New()}, Mismatch},
	} {
		tok := mint(t, s, grant)
		_, err := v.Verify(tok, c.e)
		requireCode(t, c.want, err)
		// A refused ticket was not used up.
		_, err = v.Verify(tok, expect)
		require.NoError(t, err)
	}
}

func TestKeyRotation(t *testing.T) {
	oldKey, _ := GenerateKey()
	newKey, _ := GenerateKey()
	oldS, newS := NewSigner(oldKey), NewSigner(newKey)
	both, err := NewVerifier([]ed25519.PublicKey{oldS.Public(), newS.Public()}, VerifierOptions{})
	require.NoError(t, err)
	for _, s := range []*Signer{oldS, newS} {
		_, err := both.Verify(mint(t, s, grant), expect)
		require.NoError(t, err)
		// Without a kid header every key is tried.
		noKid := *s
		noKid.kid = ""
		tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, Claims{RegisteredClaims: jwt.RegisteredClaims{
			Audience: jwt.ClaimStrings{Audience}, ID: uuid.NewString(),
			IssuedAt: jwt.NewNumericDate(time.Now()), ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Minute)),
		}, Grant: grant})
		signed, err := tok.SignedString(s.key)
		require.NoError(t, err)
		_, err = both.Verify(signed, expect)
		require.NoError(t, err)
	}
	// The old key dropped: its tickets are refused, the new ones enter.
	newOnly, err := NewVerifier([]ed25519.PublicKey{newS.Public()}, VerifierOptions{})
	require.NoError(t, err)
	_, err = newOnly.Verify(mint(t, oldS, grant), expect)
	requireCode(t, BadSignature, err)
	_, err = newOnly.Verify(mint(t, newS, grant), expect)
	require.NoError(t, err)

	_, err = NewVerifier(nil, VerifierOptions{})
	require.Error(t, err)
}

// RFC 8037 appendix A.3: the thumbprint of the RFC's example key.
func TestKeyIDIsTheRFC7638Thumbprint(t *testing.T) {
	x, err := base64.RawURLEncoding.DecodeString("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
	require.NoError(t, err)
	require.Equal(t, "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k", KeyID(ed25519.PublicKey(x)))
}

func TestKeyFormats(t *testing.T) {
	a, _ := GenerateKey()
	b, _ := GenerateKey()
	pa, pb := a.Public().(ed25519.PublicKey), b.Public().(ed25519.PublicKey)

	for _, text := range []string{string(PrivateKeyPEM(a)), base64.StdEncoding.EncodeToString(a.Seed()), base64.RawURLEncoding.EncodeToString(a)} {
		got, err := ParsePrivateKey(text)
		require.NoError(t, err)
		require.True(t, a.Equal(got))
	}
	list := PublicKeyBase64(pa) + ",\n" + string(PublicKeyPEM(pb)) + " " + base64.RawURLEncoding.EncodeToString(pa)
	keys, err := ParsePublicKeys(list)
	require.NoError(t, err)
	require.Equal(t, []ed25519.PublicKey{pa, pb, pa}, keys)
	keys, err = ParsePublicKeys("  ")
	require.NoError(t, err)
	require.Empty(t, keys)

	// Bad input is named by position, never quoted: a private key pasted by mistake stays out
	// of the logs.
	secret := base64.StdEncoding.EncodeToString(a)
	_, err = ParsePublicKeys(PublicKeyBase64(pa) + "," + secret)
	require.ErrorContains(t, err, "verify key 2")
	require.NotContains(t, err.Error(), secret)
	_, err = ParsePublicKeys(string(PrivateKeyPEM(a)))
	require.Error(t, err)
	_, err = ParsePrivateKey(PublicKeyBase64(pa) + "xx")
	require.Error(t, err)
	_, err = ParsePrivateKey(string(PublicKeyPEM(pa)))
	require.Error(t, err)
	bad := append([]byte{}, a...)
	bad[40] ^= 1
	_, err = ParsePrivateKey(base64.StdEncoding.EncodeToString(bad))
	require.Error(t, err)
}

func TestLoadOrCreateKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dev", "ticket-key.pem")
	k1, created, err := LoadOrCreateKeyFile(path)
	require.NoError(t, err)
	require.True(t, created)
	st, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	k2, created, err := LoadOrCreateKeyFile(path)
	require.NoError(t, err)
	require.False(t, created)
	require.True(t, k1.Equal(k2))

	// Two processes at once end with one key.
	path = filepath.Join(t.TempDir(), "race.pem")
	var wg sync.WaitGroup
	keys := make([]ed25519.PrivateKey, 8)
	for i := range keys {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			k, _, err := LoadOrCreateKeyFile(path)
			require.NoError(t, err)
			keys[i] = k
		}(i)
	}
	wg.Wait()
	for _, k := range keys {
		require.True(t, keys[0].Equal(k))
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	require.Len(t, entries, 1, "no temporary file left")
}

func TestMintRefusesIncompleteGrants(t *testing.T) {
	s, _, _ := setup(t)
	for _, g := range []Grant{{Tenant: tenant, AccountID: 7, CharacterID: 42}, {Tenant: tenant, SessionID: uuid.New(), CharacterID: 42}, {SessionID: uuid.New(), AccountID: 7, CharacterID: 42}} {
		_, _, err := s.Mint(g)
		require.Error(t, err)
	}
}
