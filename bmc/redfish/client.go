package redfish

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

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

// member is one decoded collection member or the failure to get it.
type member struct {
	URI  string
	Raw  json.RawMessage
	Err  error
	Gone bool // 404: listed in the collection but not served
}

// get reads one resource and returns its body. A 401 on a session-backed
// client renews the session once and retries the request.
func (c *Collector) get(ctx context.Context, uri string) ([]byte, error) {
	if err := c.busy.check(uri); err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		headers, generation := c.session.headers()
		body, err := c.getOnce(ctx, uri, headers)
		if err == nil {
			return body, nil
		}
		werr := classify(uri, err)
		if werr.Status == http.StatusUnauthorized && attempt == 0 && c.session.renewable() {
			c.log.Info("session rejected, logging in again", "server", c.ep.Server, "uri", uri)
			if rerr := c.session.renew(ctx, generation); rerr != nil {
				return nil, rerr
			}
			continue
		}
		if werr.Kind == bmc.ErrKindBusy {
			c.busy.saw(uri)
		}
		return nil, werr
	}
}

func (c *Collector) getOnce(ctx context.Context, uri string, headers map[string]string) ([]byte, error) {
	resp, err := c.api.WithContext(ctx).GetWithHeaders(uri, headers)
	if err != nil {
		if resp != nil {
			schemas.DeferredCleanupHTTPResponse(resp)
		}
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("reading body of %s: %w", uri, err)
	}
	return body, nil
}

// getInto reads uri and decodes it into v, as decode does.
func (c *Collector) getInto(ctx context.Context, part bmc.Part, uri string, v any) error {
	body, err := c.get(ctx, uri)
	if err != nil {
		return err
	}
	return c.quirks.decode(part, uri, body, v)
}

// membersExpanded reads a collection and returns every member's body,
// expanded in one request where the service honours $expand (with the
// members' own subordinate resources up to levels deep where it allows),
// else fetched one by one (at most MaxInFlight at a time, bounded by the
// gofish client). A member that fails costs only itself.
func (c *Collector) membersExpanded(ctx context.Context, part bmc.Part, uri string, levels int) ([]member, error) {
	query := c.expand.queryLevels(levels)
	var col collection
	err := c.getInto(ctx, part, uri+query, &col)
	if err != nil && query != "" && expandRefused(err) {
		// The service advertised $expand and refuses it (QuirkExpandRefused):
		// read members one by one, on this BMC from now on.
		c.expand.markIgnored(uri)
		c.log.Debug("service advertised $expand but refused it", "server", c.ep.Server, "quirk", QuirkExpandRefused, "uri", uri, "err", err)
		query, col = "", collection{}
		err = c.getInto(ctx, part, uri, &col)
	}
	if err != nil {
		return nil, err
	}
	out := make([]member, len(col.Members))
	var toFetch []int
	for i, raw := range col.Members {
		id, onlyLink := linkOnly(raw)
		out[i] = member{URI: id, Raw: raw}
		if onlyLink {
			toFetch = append(toFetch, i)
		}
	}
	// Every member a bare link: the service ignores $expand (and will not
	// be asked again). Only some: those members could not be expanded
	// (missing on the service); they are fetched and will fail on their own.
	if len(toFetch) > 0 && len(toFetch) == len(out) && query != "" {
		c.expand.markIgnored(uri)
		c.log.Debug("service advertised $expand but returned links only", "server", c.ep.Server, "quirk", QuirkExpandIgnored, "uri", uri)
	}
	c.fetchInto(ctx, out, toFetch)
	return out, nil
}

// fetchAll reads a list of resources, at most MaxInFlight at a time.
func (c *Collector) fetchAll(ctx context.Context, uris []string) []member {
	out := make([]member, len(uris))
	idx := make([]int, len(uris))
	for i, u := range uris {
		out[i].URI, idx[i] = u, i
	}
	c.fetchInto(ctx, out, idx)
	return out
}

// fetchInto fills out[i] for every i in which, concurrently up to
// MaxInFlight.
func (c *Collector) fetchInto(ctx context.Context, out []member, which []int) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, c.ep.MaxInFlight)
	for _, i := range which {
		if out[i].URI == "" {
			out[i].Err = &bmc.Error{Kind: bmc.ErrKindMalformed, Err: fmt.Errorf("collection member %d has no @odata.id", i)}
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			body, err := c.get(ctx, out[i].URI)
			out[i].Raw, out[i].Err = body, err
			if bmc.KindOf(err) == bmc.ErrKindNotFound {
				out[i].Gone = true
			}
		}()
	}
	wg.Wait()
}

// linkOnly reports whether a collection member is a bare link, and its URI.
func linkOnly(raw json.RawMessage) (string, bool) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return "", false
	}
	var id string
	if v, ok := fields["@odata.id"]; ok {
		_ = json.Unmarshal(v, &id)
	}
	return id, len(fields) == 1 && id != ""
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
