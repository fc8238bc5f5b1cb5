package redfish

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/stmcginnis/gofish/schemas"

	"github.com/rackpulse/rackpulse/bmc"
)

// odataID is a Redfish navigation link.
type odataID struct {
	ID string `json:"@odata.id"`
}

// collection is a Redfish resource collection as it arrives: Members are kept
// raw so that an expanded member decodes straight into its schemas type and
// an unexpanded one (only @odata.id) is recognised and fetched.
type collection struct {
	Members  []json.RawMessage `json:"Members"`
	NextLink string            `json:"Members@odata.nextLink"`
}

// get reads one resource and returns its body. uri is a link the BMC
// published (servicePath): the request goes to the BMC's origin whatever
// the link says. A 401 on a session-backed client renews the session (once
// a poll) and retries the request.
func (c *Collector) get(ctx context.Context, uri string) ([]byte, error) {
	body, _, err := c.getTagged(ctx, uri, "")
	return body, err
}

// errNotModified: the BMC answered 304 Not Modified to If-None-Match.
var errNotModified = errors.New("not modified")

// getTagged is get with the answer's ETag. With ifNoneMatch set it asks
// for the body only if the resource's tag is another now: an unchanged
// resource returns errNotModified and no body.
func (c *Collector) getTagged(ctx context.Context, uri, ifNoneMatch string) ([]byte, string, error) {
	if err := c.busy.check(uri); err != nil {
		return nil, "", err
	}
	path, err := servicePath(uri)
	if err != nil {
		return nil, "", &bmc.Error{Kind: bmc.ErrKindMalformed, Resource: uri, Err: err}
	}
	for attempt := 0; ; attempt++ {
		auth, generation := c.session.authHeader()
		body, tag, err := c.getOnce(ctx, path, auth, ifNoneMatch)
		if errors.Is(err, errNotModified) && ifNoneMatch == "" {
			return nil, "", &bmc.Error{Kind: bmc.ErrKindMalformed, Resource: uri, Err: errUntagged}
		}
		if err == nil || errors.Is(err, errNotModified) {
			return body, tag, err
		}
		werr := classify(uri, err)
		if werr.Status == http.StatusUnauthorized && attempt == 0 && c.session.renewable() {
			retry, rerr := c.session.renew(ctx, generation)
			if rerr != nil {
				return nil, "", rerr
			}
			if retry {
				c.log.Info("session rejected, logged in again", "uri", uri)
				continue
			}
		}
		if werr.Kind == bmc.ErrKindBusy {
			c.busy.saw(uri)
		}
		return nil, "", werr
	}
}

// servicePath turns a link the BMC published into the path requested from
// the BMC: an absolute path as it is; an absolute http(s) URL by its path
// and query only, whatever host it names (a BMC behind NAT names its inside
// address; and a link must never take a token to another host). Anything
// else (a relative reference, "@host/...") is not followed.
func servicePath(link string) (string, error) {
	link = strings.TrimSpace(link)
	if strings.HasPrefix(link, "/") {
		return link, nil
	}
	if u, err := url.Parse(link); err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" {
		return u.RequestURI(), nil
	}
	if len(link) > 200 {
		link = link[:200] + "..."
	}
	return "", fmt.Errorf("link %q is not a path on the BMC", link)
}

// userAgent names rackpulse to the BMC in every request.
const userAgent = "rackpulse"

// getOnce sends one GET of path (a service path) with the session's
// credentials (auth: the header's name and value, none when empty) and,
// when set, If-None-Match, and reads the answer: a 2xx's body and tag,
// errNotModified with the tag after a 304, else the BMC's error as the
// Redfish client library gives it (schemas.ConstructError: classify reads
// its status and Redfish message). It goes straight to the HTTP client,
// which the library's own GET would reach after copying its client for
// the context and building the same headers.
func (c *Collector) getOnce(ctx context.Context, path string, auth [2]string, ifNoneMatch string) ([]byte, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.baseURL+path, nil)
	if err != nil {
		return nil, "", err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	if auth[0] != "" {
		req.Header.Set(auth[0], auth[1])
	}
	if ifNoneMatch != "" {
		req.Header.Set("If-None-Match", ifNoneMatch)
	}
	resp, err := c.httpClient.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK, http.StatusCreated, http.StatusAccepted, http.StatusNoContent:
	case http.StatusNotModified:
		return nil, resp.Header.Get("ETag"), errNotModified
	default:
		payload, err := readAll(resp.Body, resp.ContentLength)
		if err != nil {
			return nil, "", fmt.Errorf("reading the body of an HTTP %d answer to %s: %w", resp.StatusCode, path, err)
		}
		return nil, "", schemas.ConstructError(resp.StatusCode, payload)
	}
	body, err := readAll(resp.Body, resp.ContentLength)
	if err != nil {
		return nil, "", fmt.Errorf("reading body of %s: %w", path, err)
	}
	return body, resp.Header.Get("ETag"), nil
}

// presizeLimit is the largest Content-Length a body's buffer is made for
// before any of it arrives; a longer body grows as it comes.
const presizeLimit = 64 << 10

// readAll is io.ReadAll starting from a buffer of the size the answer
// announces (up to presizeLimit): one allocation for most bodies instead
// of a doubling series, and room to read the end of the body, so that the
// connection goes back to the pool.
func readAll(r io.Reader, size int64) ([]byte, error) {
	if size <= 0 || size > presizeLimit {
		return io.ReadAll(r)
	}
	b := make([]byte, 0, size+1)
	for {
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			return b, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
	}
}

// getInto reads uri and decodes it into v, as decode does.
func (c *Collector) getInto(ctx context.Context, part bmc.Part, uri string, v any) error {
	body, err := c.get(ctx, uri)
	if err != nil {
		return err
	}
	return c.quirks.decode(part, uri, body, v)
}

// linkOnly reports whether a collection member is a bare link (an object
// whose one property is a non-empty @odata.id), and its URI. Every member
// of every collection read passes through it, expanded ones (whole
// sensors) included: it walks the member's bytes once, without decoding
// the properties it does not need.
func linkOnly(raw json.RawMessage) (string, bool) {
	properties, idValue := topLevelProperties(raw, "@odata.id")
	var id string
	if idValue != nil && json.Unmarshal(idValue, &id) != nil {
		id = ""
	}
	return id, properties == 1 && id != ""
}

// topLevelProperties counts the properties of the JSON object raw (valid
// JSON, as a decoded collection's members are) and returns the value of
// the one named key, nil when there is none. A value that is not an
// object has no properties. A key repeated counts each time.
func topLevelProperties(raw []byte, key string) (count int, value []byte) {
	i := skipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		return 0, nil
	}
	depth, valueStart := 0, -1
	expectKey := true
	for ; i < len(raw); i++ {
		switch b := raw[i]; b {
		case '"':
			end := stringEnd(raw, i)
			if depth == 1 && expectKey {
				count++
				if propertyNamed(raw[i:end], key) {
					valueStart = skipSpace(raw, skipSpace(raw, end)+1) // past the colon
				}
				expectKey = false
			}
			i = end - 1
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 && valueStart >= 0 && value == nil {
				value = bytes.TrimSpace(raw[valueStart:i])
			}
		case ',':
			if depth == 1 {
				if valueStart >= 0 && value == nil {
					value = bytes.TrimSpace(raw[valueStart:i])
				}
				expectKey = true
			}
		}
	}
	return count, value
}

// stringEnd is the index just past the JSON string starting at raw[i].
func stringEnd(raw []byte, i int) int {
	for j := i + 1; j < len(raw); j++ {
		switch raw[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(raw)
}

// propertyNamed reports whether quoted (a JSON string with its quotes)
// is key, escapes decoded.
func propertyNamed(quoted []byte, key string) bool {
	if bytes.IndexByte(quoted, '\\') < 0 {
		return len(quoted) == len(key)+2 && string(quoted[1:len(quoted)-1]) == key
	}
	var s string
	return json.Unmarshal(quoted, &s) == nil && s == key
}

func skipSpace(raw []byte, i int) int {
	for i < len(raw) && (raw[i] == ' ' || raw[i] == '\t' || raw[i] == '\n' || raw[i] == '\r') {
		i++
	}
	return i
}

// classify turns any request error into a *bmc.Error naming the URI.
func classify(uri string, err error) *bmc.Error {
	var be *bmc.Error
	if errors.As(err, &be) {
		return be
	}
	var fp *fingerprintMismatchError
	if errors.As(err, &fp) {
		return &bmc.Error{Kind: bmc.ErrKindTLS, Resource: uri, Err: fmt.Errorf("reading %s: %w", uri, err)}
	}
	if errors.Is(err, errResponseTooLarge) {
		return &bmc.Error{Kind: bmc.ErrKindTooLarge, Resource: uri, Err: fmt.Errorf("reading %s: %w", uri, err)}
	}
	var re *schemas.Error
	if errors.As(err, &re) && re.HTTPReturnedStatusCode != 0 {
		kind := bmc.KindForStatus(re.HTTPReturnedStatusCode)
		if isSessionLimit(re) {
			kind = bmc.ErrKindSessionLimit
		}
		return &bmc.Error{Kind: kind, Resource: uri, Status: re.HTTPReturnedStatusCode, Err: errors.New(redfishMessage(re))}
	}
	var rd *redirectError
	if errors.As(err, &rd) {
		return &bmc.Error{Kind: bmc.ErrKindRedirect, Resource: uri, Status: rd.status, Err: rd}
	}
	var off *offOriginError
	if errors.As(err, &off) {
		return &bmc.Error{Kind: bmc.ErrKindMalformed, Resource: uri, Err: off}
	}
	var syntax *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &syntax) || errors.As(err, &typeErr) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &bmc.Error{Kind: bmc.ErrKindMalformed, Resource: uri, Err: fmt.Errorf("reading %s: %w", uri, err)}
	}
	return &bmc.Error{Kind: bmc.KindOf(err), Resource: uri, Err: fmt.Errorf("reading %s: %w", uri, err)}
}

// redfishMessage is a short summary of a Redfish error body.
func redfishMessage(re *schemas.Error) string {
	parts := []string{}
	if re.Code != "" {
		parts = append(parts, re.Code)
	}
	for _, info := range re.ExtendedInfos {
		if info.MessageID != "" {
			parts = append(parts, info.MessageID)
		}
	}
	msg := re.Message
	if len(msg) > 200 {
		msg = msg[:200] + "..."
	}
	if msg != "" {
		parts = append(parts, msg)
	}
	if len(parts) == 0 {
		return http.StatusText(re.HTTPReturnedStatusCode)
	}
	return strings.Join(parts, ": ")
}

// isSessionLimit recognises a BMC refusing a login because its session table
// is full. Vendors say so with 503 or 400 (sometimes 403), a MessageId ending
// in SessionLimitExceeded, or their own wording.
func isSessionLimit(re *schemas.Error) bool {
	switch re.HTTPReturnedStatusCode {
	case http.StatusServiceUnavailable, http.StatusBadRequest, http.StatusForbidden, http.StatusTooManyRequests:
	default:
		return false
	}
	texts := []string{re.Code, re.Message}
	for _, info := range re.ExtendedInfos {
		texts = append(texts, info.MessageID, info.Message)
	}
	for _, t := range texts {
		l := strings.ToLower(t)
		if strings.HasSuffix(l, "sessionlimitexceeded") ||
			strings.Contains(l, "session limit") ||
			strings.Contains(l, "maximum number of sessions") ||
			strings.Contains(l, "maximum sessions") ||
			strings.Contains(l, "too many sessions") ||
			strings.Contains(l, "sessionlimitexceeded") {
			return true
		}
	}
	return false
}
