package httpapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/gin-gonic/gin"

	"authapi/domain"
	"authapi/ports"
)

// The fuzz targets of the admin API's parsers: the cursors, the listings'
// query strings, and whole requests to every admin route. Whatever a client
// sends, nothing panics, a refusal is a validation failure of the parameter
// at fault, and what is accepted reads back the same when written out
// again.

// isCursorPosition reports whether s could be a cursor's position: printable
// ASCII without spaces.
func isCursorPosition(s string) bool {
	return s != "" && strings.IndexFunc(s, func(r rune) bool { return r <= ' ' || r > '~' }) < 0
}

// wantFieldError fails unless err is a validation failure naming field.
func wantFieldError(t *testing.T, err error, fields ...string) {
	t.Helper()
	var de *domain.Error
	if !errors.As(err, &de) || de.Code != domain.CodeValidationFailed || len(de.Fields) == 0 {
		t.Fatalf("error %v, want a validation failure of %v", err, fields)
	}
	for _, f := range de.Fields {
		if !slices.Contains(fields, f.Field) || f.Message == "" {
			t.Errorf("a validation failure of %q (%q), want one of %v", f.Field, f.Message, fields)
		}
	}
}

// FuzzDecodeCursor: any string given as a cursor is refused as a cursor or
// read as a printable position that encodes back to a cursor of itself; any
// position the service could hand out comes back from its cursor as it was.
func FuzzDecodeCursor(f *testing.F) {
	for _, s := range []string{
		"", "u1:0194694c-5dc0-7c3d-9a4f-2e5b6c7d8e9f", "a1:1042", "u1:", "a1:", "u1:\x00", "a1:5\x00", "u1:a b",
		"u1:\xff\xfe", "u1:\u202eabc", "u2:x", strings.Repeat("u1:", 100),
	} {
		f.Add(base64.RawURLEncoding.EncodeToString([]byte(s)), strings.TrimPrefix(strings.TrimPrefix(s, "u1:"), "a1:"))
	}
	f.Add("not a cursor!", "x")
	f.Add("dTE6eA==", "0194694c-5dc0-7c3d-9a4f-2e5b6c7d8e9f")
	f.Add(strings.Repeat("A", 400), strings.Repeat("9", 300))
	f.Fuzz(func(t *testing.T, cursor, position string) {
		for _, prefix := range []string{userCursorPrefix, auditCursorPrefix} {
			got, err := decodeCursor(prefix, cursor)
			switch {
			case err != nil:
				wantFieldError(t, err, "cursor")
			case cursor == "":
				if got != "" {
					t.Errorf("the empty cursor reads %q, want the first page", got)
				}
			default:
				if !isCursorPosition(got) {
					t.Errorf("cursor %q reads as position %q, which is no printable position", cursor, got)
				}
				if again, err := decodeCursor(prefix, *encodeCursor(prefix, got)); err != nil || again != got {
					t.Errorf("position %q encodes to a cursor that reads %q, %v", got, again, err)
				}
			}

			enc := encodeCursor(prefix, position)
			if position == "" {
				if enc != nil {
					t.Errorf("no position encodes to cursor %q, want none", *enc)
				}
				continue
			}
			got, err = decodeCursor(prefix, *enc)
			if isCursorPosition(position) && len(prefix+position) <= maxCursorBytes {
				if err != nil || got != position {
					t.Errorf("the cursor of %q reads %q, %v", position, got, err)
				}
			} else if err == nil {
				t.Errorf("the cursor of %q, no position this service makes, reads %q", position, got)
			}
		}
	})
}

// queryContext is a request context with raw as its query string, exactly.
func queryContext(raw string) *gin.Context {
	c, _ := gin.CreateTestContext(httptest.NewRecorder())
	c.Request = &http.Request{Method: http.MethodGet, URL: &url.URL{Path: "/admin", RawQuery: raw}, Header: http.Header{}}
	return c
}

// FuzzParseUserQuery: the filters of GET /admin/users are refused naming
// the parameter at fault, or read into a query whose limit and cursor are
// in range and which the same parameters, written out again, read as.
func FuzzParseUserQuery(f *testing.F) {
	for _, q := range []string{
		"", "email=astro&state=active&limit=20", "limit=0", "limit=", "limit=-1", "limit=201", "limit=%2B5", "limit=1e2",
		"cursor=" + *encodeCursor(userCursorPrefix, "0194694c-5dc0-7c3d-9a4f-2e5b6c7d8e9f"), "cursor=%00", "cursor=dTE6AA",
		"email=%FF&state=%00", "state=locked&state=active", "email=a%25_&limit=200&cursor=",
	} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := parseUserQuery(queryContext(raw))
		if err != nil {
			wantFieldError(t, err, "cursor", "limit")
			return
		}
		values, _ := url.ParseQuery(raw)
		if _, given := values["limit"]; given != (q.Limit != 0) || q.Limit < 0 || q.Limit > ports.MaxPageSize {
			t.Errorf("limit %q read as %d", values.Get("limit"), q.Limit)
		}
		if q.After != "" && !isCursorPosition(q.After) {
			t.Errorf("cursor read as position %q", q.After)
		}
		again := url.Values{"email": {string(q.EmailPrefix)}, "state": {string(q.State)}}
		if enc := encodeCursor(userCursorPrefix, q.After); enc != nil {
			again.Set("cursor", *enc)
		}
		if q.Limit != 0 {
			again.Set("limit", strconv.Itoa(q.Limit))
		}
		back, err := parseUserQuery(queryContext(again.Encode()))
		if err != nil || back != q {
			t.Errorf("%q read as %+v; written out as %q it reads %+v, %v", raw, q, again.Encode(), back, err)
		}
	})
}

// FuzzParseAuditQuery: the filters of GET /admin/audit are refused naming
// the parameters at fault, or read into a query of trimmed event types, a
// positive cursor and a limit in range, which reads the same written out
// again.
func FuzzParseAuditQuery(f *testing.F) {
	for _, q := range []string{
		"", "user_id=u1&event=login,login_failed&since=2026-01-02T03:04:05Z&until=2026-01-03T00:00:00.5%2B01:00&limit=10",
		"event=&event=,%20login%20,", "since=2026-02-30T00:00:00Z", "until=yesterday", "since=0000-01-01T00:00:00Z",
		"cursor=" + *encodeCursor(auditCursorPrefix, "1042"), "cursor=" + *encodeCursor(auditCursorPrefix, "-5"),
		"cursor=" + *encodeCursor(auditCursorPrefix, "+7"), "limit=0", "user_id=%00", "event=%00,login",
	} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := parseAuditQuery(queryContext(raw))
		if err != nil {
			wantFieldError(t, err, "cursor", "limit", "since", "until")
			return
		}
		values, _ := url.ParseQuery(raw)
		if _, given := values["limit"]; given != (q.Limit != 0) || q.Limit < 0 || q.Limit > ports.MaxPageSize || q.Before < 0 {
			t.Errorf("%q read as limit %d, cursor %d", raw, q.Limit, q.Before)
		}
		var types []string
		for _, typ := range q.Types {
			if typ == "" || strings.TrimSpace(string(typ)) != string(typ) || strings.Contains(string(typ), ",") {
				t.Errorf("event type %q read from %q", typ, raw)
			}
			types = append(types, string(typ))
		}
		again := url.Values{"user_id": {q.UserID}}
		if len(types) > 0 {
			again.Set("event", strings.Join(types, ","))
		}
		for name, at := range map[string]time.Time{"since": q.Since, "until": q.Until} {
			if !at.IsZero() {
				again.Set(name, at.Format(time.RFC3339Nano))
			}
		}
		if q.Before > 0 {
			again.Set("cursor", *encodeCursor(auditCursorPrefix, strconv.FormatInt(q.Before, 10)))
		}
		if q.Limit != 0 {
			again.Set("limit", strconv.Itoa(q.Limit))
		}
		back, err := parseAuditQuery(queryContext(again.Encode()))
		if err != nil || back.UserID != q.UserID || !slices.Equal(back.Types, q.Types) || !back.Since.Equal(q.Since) ||
			!back.Until.Equal(q.Until) || back.Before != q.Before || back.Limit != q.Limit {
			t.Errorf("%q read as %+v; written out as %q it reads %+v, %v", raw, q, again.Encode(), back, err)
		}
	})
}

// fuzzAdmin is an AdminService that answers from its inputs alone: it
// knows one account and one key, and checks what the real service checks
// of its inputs, so that the fuzzer reaches its answers as well as the
// adapter's refusals. It never fails unexpectedly: any 5xx is the
// adapter's.
type fuzzAdmin struct{}

var _ ports.AdminService = fuzzAdmin{}

const (
	fuzzAdminKey = domain.AdminKeyPrefix + "fuzz"
	fuzzUserID   = "0194694c-5dc0-7c3d-9a4f-2e5b6c7d8e9f"
)

func fuzzAccount() ports.AccountDetails {
	return ports.AccountDetails{AccountSummary: ports.AccountSummary{User: domain.User{
		ID: fuzzUserID, Email: fuzzEmail, FirstName: "Astro", LastName: "User", Active: true,
		CreatedAt: fuzzCreated, UpdatedAt: fuzzCreated,
	}}, LiveSessions: 1}
}

func (fuzzAdmin) AuthenticateAdmin(_ context.Context, key string) (string, error) {
	if key != fuzzAdminKey {
		return "", domain.ErrInvalidAdminKey
	}
	return domain.AdminActor("fuzz"), nil
}

func (fuzzAdmin) ListUsers(_ context.Context, q ports.UserQuery) (ports.UserPage, error) {
	var v domain.Validation
	if q.Limit < 0 || q.Limit > ports.MaxPageSize {
		v.Add("limit", "out of range")
	}
	switch q.State {
	case ports.AnyState, ports.StateActive, ports.StateInactive, ports.StateDisabled, ports.StateLocked:
	default:
		v.Add("state", "unknown")
	}
	if err := v.Err(); err != nil {
		return ports.UserPage{}, err
	}
	return ports.UserPage{Users: []ports.AccountSummary{fuzzAccount().AccountSummary}, Next: fuzzUserID}, nil
}

func (fuzzAdmin) User(_ context.Context, idOrEmail string) (ports.AccountDetails, error) {
	if idOrEmail != fuzzUserID && domain.NormalizeEmail(idOrEmail) != fuzzEmail {
		return ports.AccountDetails{}, domain.ErrUserNotFound
	}
	return fuzzAccount(), nil
}

func (a fuzzAdmin) UpdateUser(ctx context.Context, _ ports.Operator, idOrEmail string, change ports.AccountChange) (ports.AccountDetails, error) {
	if change.EmailVerified != nil && !*change.EmailVerified {
		return ports.AccountDetails{}, domain.ValidationError("email_verified", "true only")
	}
	if change.MFAEnabled != nil && *change.MFAEnabled {
		return ports.AccountDetails{}, domain.ValidationError("mfa_enabled", "false only")
	}
	d, err := a.User(ctx, idOrEmail)
	if err != nil {
		return d, err
	}
	first, last := "", ""
	if change.FirstName != nil {
		first = *change.FirstName
	}
	if change.LastName != nil {
		last = *change.LastName
	}
	if (change.FirstName != nil && first == "") || (change.LastName != nil && last == "") {
		return ports.AccountDetails{}, domain.ValidationError("first_name", "empty")
	}
	if err := d.Rename(first, last, fuzzCreated); err != nil {
		return ports.AccountDetails{}, err
	}
	if change.Disabled != nil && *change.Disabled {
		d.Disable(fuzzCreated)
	}
	return d, nil
}

func (a fuzzAdmin) UnlockUser(ctx context.Context, _ ports.Operator, idOrEmail string) error {
	_, err := a.User(ctx, idOrEmail)
	return err
}

func (a fuzzAdmin) RevokeSessions(ctx context.Context, _ ports.Operator, idOrEmail string) (int, error) {
	_, err := a.User(ctx, idOrEmail)
	return 1, err
}

func (a fuzzAdmin) DeleteUser(ctx context.Context, _ ports.Operator, idOrEmail string) error {
	_, err := a.User(ctx, idOrEmail)
	return err
}

func (fuzzAdmin) Audit(_ context.Context, q ports.AuditQuery) (ports.AuditPage, error) {
	for _, typ := range q.Types {
		if !slices.Contains(domain.EventTypes(), typ) {
			return ports.AuditPage{}, domain.ValidationError("event", "unknown")
		}
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && !q.Until.After(q.Since) {
		return ports.AuditPage{}, domain.ValidationError("until", "before since")
	}
	return ports.AuditPage{Events: []domain.AuditEvent{{ID: 7, At: fuzzCreated, Type: domain.EventLogin, UserID: fuzzUserID, IP: "192.0.2.1"}}, Next: 7}, nil
}

func (fuzzAdmin) CreateAdminKey(context.Context, ports.Operator, string) (string, error) {
	return "", errors.New("not served over HTTP")
}

func (fuzzAdmin) AdminKeys(context.Context) ([]domain.AdminKey, error) { return nil, nil }

func (fuzzAdmin) RevokeAdminKey(context.Context, ports.Operator, string) error {
	return errors.New("not served over HTTP")
}

// adminFuzzRoutes are the admin routes, by index in the seeds: add new ones
// at the end.
var adminFuzzRoutes = []struct{ method, path, documented string }{
	{http.MethodGet, "/admin/users", "/admin/users"},
	{http.MethodGet, "/admin/users/", "/admin/users/{id}"},
	{http.MethodPatch, "/admin/users/", "/admin/users/{id}"},
	{http.MethodDelete, "/admin/users/", "/admin/users/{id}"},
	{http.MethodPost, "/admin/users/%s/unlock", "/admin/users/{id}/unlock"},
	{http.MethodDelete, "/admin/users/%s/sessions", "/admin/users/{id}/sessions"},
	{http.MethodGet, "/admin/audit", "/admin/audit"},
}

// FuzzAdminRequest sends any id, query and body to every admin route, with
// the key: the answer is one the document lists for the route, never a 5xx,
// and an error is always a whole problem.
func FuzzAdminRequest(f *testing.F) {
	doc, err := openapi3.NewLoader().LoadFromData(OpenAPIDocument)
	if err != nil {
		f.Fatal(err)
	}
	problemSchema := doc.Components.Schemas["Problem"]
	router := NewRouter(Config{
		Auth: &fuzzAuth{}, Admin: fuzzAdmin{}, Ready: fuzzPinger{}, Keys: staticKeys(`{"keys":[]}`),
		Logger: slog.New(slog.DiscardHandler), Random: repeatReader('r'),
	})
	seeds := []struct {
		id, query, contentType, body string
	}{
		{fuzzUserID, "", "application/json", `{"disabled":true}`},
		{fuzzEmail, "email=astro&state=active&limit=5", "application/json", `{"first_name":"Ada","last_name":"Lovelace","email_verified":true}`},
		{"nobody", "limit=0&cursor=%00", "application/json", `{}`},
		{"%00", "event=login,nope&since=2026-01-02T03:04:05Z", "application/json", `{"disabled":"yes","role":"admin"}`},
		{"a%2Fb", "cursor=" + *encodeCursor(auditCursorPrefix, "5"), "text/plain", `null`},
		{fuzzUserID, "until=x", "", `{"mfa_enabled":true}`},
		{fuzzUserID, "", "application/json", `{"Disabled":true}{}`},
	}
	for i, s := range seeds {
		f.Add(uint8(i), s.id, s.query, s.contentType, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, route uint8, id, query, contentType string, body []byte) {
		r := adminFuzzRoutes[int(route)%len(adminFuzzRoutes)]
		target := r.path
		switch {
		case strings.Contains(target, "%s"):
			target = strings.Replace(target, "%s", url.PathEscape(id), 1)
		case strings.HasSuffix(target, "/"):
			target += url.PathEscape(id)
		}
		u, err := url.Parse(target)
		if err != nil {
			t.Skip("no URL")
		}
		u.RawQuery = query
		req := &http.Request{Method: r.method, URL: u, Header: http.Header{}, Body: http.NoBody, Host: "example.com", RemoteAddr: "192.0.2.1:1234"}
		if r.method == http.MethodPatch {
			req.Body, req.ContentLength = httpBody(body), int64(len(body))
			if contentType != "" {
				req.Header.Set("Content-Type", contentType)
			}
		}
		req.Header.Set("Authorization", "Bearer "+fuzzAdminKey)
		rec := httptest.NewRecorder()
		router.ServeHTTP(rec, req)

		if rec.Code >= 500 || rec.Code < 200 {
			t.Fatalf("%s %s answered %d: %s", r.method, target, rec.Code, rec.Body)
		}
		var v any
		if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
			t.Fatalf("%s %s answered %d with a body that is not JSON: %v", r.method, target, rec.Code, err)
		}
		if rec.Code < 400 {
			op := doc.Paths.Value(r.documented).GetOperation(r.method)
			if op.Responses.Status(rec.Code) == nil {
				t.Errorf("%s %s answered %d, which the document does not list", r.method, target, rec.Code)
			}
			return
		}
		if ct := rec.Header().Get("Content-Type"); ct != ProblemContentType {
			t.Errorf("error %d with Content-Type %q", rec.Code, ct)
		}
		if err := problemSchema.Value.VisitJSON(v); err != nil {
			t.Errorf("error %d breaks the Problem schema: %v: %s", rec.Code, err, rec.Body)
		}
		var p Problem
		if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
			t.Fatal(err)
		}
		if p.Status != rec.Code || p.Type != "/problems/"+p.Code || p.Title == "" || p.Detail == "" {
			t.Errorf("inconsistent problem for status %d: %s", rec.Code, rec.Body)
		}
		if p.Code == string(domain.CodeValidationFailed) && len(p.Errors) == 0 {
			t.Errorf("validation problem without fields: %s", rec.Body)
		}
		// A route the path still names answers as the document says;
		// another path (an id with a slash, say) is no route at all.
		if p.Code != "not_found" && p.Code != "method_not_allowed" {
			op := doc.Paths.Value(r.documented).GetOperation(r.method)
			if op.Responses.Status(rec.Code) == nil {
				t.Errorf("%s %s answered %d %s, which the document does not list", r.method, target, rec.Code, p.Code)
			}
		}
	})
}

func httpBody(b []byte) *readCloser { return &readCloser{bytes.NewReader(b)} }

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }
