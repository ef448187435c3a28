package codecs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"github.com/google/uuid"
	"github.com/lovoo/goka"
)

// Names of the tenant headers every public topic carries (FORMAT.md, "Headers").
const (
	HeaderTenantID     = "TENANT_ID"
	HeaderRegion       = "REGION"
	HeaderMajorVersion = "MAJOR_VERSION"
	HeaderMinorVersion = "MINOR_VERSION"
)

// ErrNoTenant reports a message or request without a usable tenant. Such input is never
// processed: treating it as an all-zero tenant would mix tenants.
var ErrNoTenant = errors.New("no valid tenant")

// maxRegionLen bounds the REGION header. Real regions are short codes (GMS, JMS, ...); the bound
// keeps hostile headers out of table keys.
const maxRegionLen = 16

// Tenant is the 4-tuple that scopes every account, session and event.
type Tenant struct {
	ID     uuid.UUID
	Region string
	Major  uint16
	Minor  uint16
}

// String gives the tenant in the form used inside table keys: "uuid:REGION:major.minor".
// It never contains '/', which separates a key's tenant from the rest.
func (t Tenant) String() string {
	var b strings.Builder
	b.Grow(36 + 1 + len(t.Region) + 12)
	b.WriteString(t.ID.String())
	b.WriteByte(':')
	b.WriteString(t.Region)
	b.WriteByte(':')
	b.WriteString(strconv.FormatUint(uint64(t.Major), 10))
	b.WriteByte('.')
	b.WriteString(strconv.FormatUint(uint64(t.Minor), 10))
	return b.String()
}

// ParseTenantString is the inverse of Tenant.String.
func ParseTenantString(s string) (Tenant, error) {
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return Tenant{}, fmt.Errorf("%w: %q is not uuid:REGION:major.minor", ErrNoTenant, s)
	}
	vers := strings.Split(parts[2], ".")
	if len(vers) != 2 {
		return Tenant{}, fmt.Errorf("%w: %q has no major.minor", ErrNoTenant, s)
	}
	return tenantFromText(parts[0], parts[1], vers[0], vers[1])
}

// Headers returns the four tenant headers in their wire form.
func (t Tenant) Headers() goka.Headers {
	h := make(goka.Headers, 4)
	t.AddTo(h)
	return h
}

// AddTo writes the four tenant headers into h, replacing any present.
func (t Tenant) AddTo(h goka.Headers) {
	h[HeaderTenantID] = []byte(t.ID.String())
	h[HeaderRegion] = []byte(t.Region)
	h[HeaderMajorVersion] = binary.BigEndian.AppendUint16(nil, t.Major)
	h[HeaderMinorVersion] = binary.BigEndian.AppendUint16(nil, t.Minor)
}

// TenantFromHeaders reads the tenant from Kafka headers. It is strict where upstream consumers
// are strict (TENANT_ID exactly a 36-byte uuid, versions exactly two big-endian bytes) and also
// requires a REGION: all four values make the tenant, so none may be guessed.
func TenantFromHeaders(h goka.Headers) (Tenant, error) {
	var t Tenant
	id, ok := h[HeaderTenantID]
	if !ok {
		return t, fmt.Errorf("%w: header %s missing", ErrNoTenant, HeaderTenantID)
	}
	if len(id) != 36 {
		return t, fmt.Errorf("%w: header %s has %d bytes, want 36", ErrNoTenant, HeaderTenantID, len(id))
	}
	parsed, err := uuid.ParseBytes(id)
	if err != nil {
		return t, fmt.Errorf("%w: header %s: %v", ErrNoTenant, HeaderTenantID, err)
	}
	t.ID = parsed
	if t.Region, err = checkRegion(string(h[HeaderRegion])); err != nil {
		return t, err
	}
	if t.Major, err = versionHeader(h, HeaderMajorVersion); err != nil {
		return t, err
	}
	if t.Minor, err = versionHeader(h, HeaderMinorVersion); err != nil {
		return t, err
	}
	return t, nil
}

// TenantFromText reads the tenant from the decimal-text form HTTP requests carry.
func TenantFromText(get func(name string) string) (Tenant, error) {
	return tenantFromText(get(HeaderTenantID), get(HeaderRegion), get(HeaderMajorVersion), get(HeaderMinorVersion))
}

func tenantFromText(id, region, major, minor string) (Tenant, error) {
	var t Tenant
	if len(id) != 36 {
		return t, fmt.Errorf("%w: %s must be a 36-character uuid", ErrNoTenant, HeaderTenantID)
	}
	parsed, err := uuid.Parse(id)
	if err != nil {
		return t, fmt.Errorf("%w: %s: %v", ErrNoTenant, HeaderTenantID, err)
	}
	t.ID = parsed
	if t.Region, err = checkRegion(region); err != nil {
		return t, err
	}
	for _, v := range []struct {
		name string
		text string
		dst  *uint16
	}{{HeaderMajorVersion, major, &t.Major}, {HeaderMinorVersion, minor, &t.Minor}} {
		n, err := strconv.ParseUint(v.text, 10, 16)
		if err != nil {
			return t, fmt.Errorf("%w: %s must be a decimal number from 0 to 65535", ErrNoTenant, v.name)
		}
		*v.dst = uint16(n)
	}
	return t, nil
}

func checkRegion(r string) (string, error) {
	if r == "" {
		return "", fmt.Errorf("%w: header %s missing or empty", ErrNoTenant, HeaderRegion)
	}
	if len(r) > maxRegionLen {
		return "", fmt.Errorf("%w: header %s longer than %d bytes", ErrNoTenant, HeaderRegion, maxRegionLen)
	}
	for _, c := range r {
		if c > unicode.MaxASCII || !(unicode.IsLetter(c) || unicode.IsDigit(c) || c == '_' || c == '-') {
			return "", fmt.Errorf("%w: header %s %q has characters other than letters, digits, '_' and '-'", ErrNoTenant, HeaderRegion, r)
		}
	}
	return r, nil
}

func versionHeader(h goka.Headers, name string) (uint16, error) {
	v, ok := h[name]
	if !ok {
		return 0, fmt.Errorf("%w: header %s missing", ErrNoTenant, name)
	}
	if len(v) != 2 {
		return 0, fmt.Errorf("%w: header %s has %d bytes, want 2 (big-endian uint16)", ErrNoTenant, name, len(v))
	}
	return binary.BigEndian.Uint16(v), nil
}
