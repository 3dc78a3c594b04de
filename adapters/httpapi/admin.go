package httpapi

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"authapi/domain"
	"authapi/ports"
)

// The admin API: operators' routes under /admin/, for holders of an admin
// API key. A user's access token is never an admin key, nor the other way
// round, and every refusal looks the same.

// adminActorKey is where requireAdmin leaves the operator's actor.
const adminActorKey = "authapi.admin_actor"

// adminRealm names the admin API in WWW-Authenticate, apart from the
// users' bearer tokens.
const adminRealm = `Bearer realm="authapi-admin"`

// registerAdmin adds the admin routes to r.
func registerAdmin(r gin.IRoutes, h *handlers) {
	admin := requireAdmin(h.admin)
	r.GET("/admin/users", admin, h.adminListUsers)
	r.GET("/admin/users/:id", admin, h.adminGetUser)
	r.PATCH("/admin/users/:id", admin, h.adminPatchUser)
	r.DELETE("/admin/users/:id", admin, h.adminDeleteUser)
	r.POST("/admin/users/:id/unlock", admin, h.adminUnlockUser)
	r.DELETE("/admin/users/:id/sessions", admin, h.adminRevokeSessions)
	r.GET("/admin/audit", admin, h.adminAudit)
}

// requireAdmin guards a route with an admin API key. A missing header, a
// wrong, revoked or malformed key, and a user's token all get the same 401:
// the service checks every presented value the same way, so the answer and
// its time tell nothing about which it was.
func requireAdmin(admin ports.AdminService) gin.HandlerFunc {
	return func(c *gin.Context) {
		key, _ := bearerToken(c.GetHeader("Authorization"))
		actor, err := admin.AuthenticateAdmin(c.Request.Context(), key)
		if err != nil {
			if errors.Is(err, domain.ErrInvalidAdminKey) {
				c.Header("WWW-Authenticate", adminRealm)
			}
			writeError(c, err)
			return
		}
		c.Set(adminActorKey, actor)
		noStore(c)
		c.Next()
	}
}

// operatorOf is the operator of an admin request.
func (h *handlers) operatorOf(c *gin.Context) ports.Operator {
	return ports.Operator{Actor: c.GetString(adminActorKey), Client: h.clientOf(c)}
}

type adminUserResponse struct {
	ID            string  `json:"id"`
	Email         string  `json:"email"`
	FirstName     string  `json:"first_name"`
	LastName      string  `json:"last_name"`
	State         string  `json:"state"`
	EmailVerified bool    `json:"email_verified"`
	Disabled      bool    `json:"disabled"`
	MFAEnabled    bool    `json:"mfa_enabled"`
	LockedUntil   *string `json:"locked_until"`
	CreatedAt     string  `json:"created_at"`
	UpdatedAt     string  `json:"updated_at"`
	LastLoginAt   *string `json:"last_login_at"`
	// LiveSessions is set for one account, not in lists.
	LiveSessions *int `json:"live_sessions,omitempty"`
}

func optionalTimestamp(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := timestamp(t)
	return &s
}

func newAdminUser(a ports.AccountSummary) adminUserResponse {
	return adminUserResponse{
		ID:            a.ID,
		Email:         string(a.Email),
		FirstName:     a.FirstName,
		LastName:      a.LastName,
		State:         string(a.State()),
		EmailVerified: a.Active,
		Disabled:      a.Disabled(),
		MFAEnabled:    a.MFA.Enabled(),
		LockedUntil:   optionalTimestamp(a.LockedUntil),
		CreatedAt:     timestamp(a.CreatedAt),
		UpdatedAt:     timestamp(a.UpdatedAt),
		LastLoginAt:   optionalTimestamp(a.LastLoginAt),
	}
}

func newAdminUserDetails(d ports.AccountDetails) adminUserResponse {
	res := newAdminUser(d.AccountSummary)
	res.LiveSessions = &d.LiveSessions
	return res
}

type adminUsersResponse struct {
	Users      []adminUserResponse `json:"users"`
	NextCursor *string             `json:"next_cursor"`
}

// Cursors are opaque to clients: a version letter and the position, base64
// encoded, so that they can change form without breaking a client that
// only hands them back.
const (
	userCursorPrefix  = "u1:"
	auditCursorPrefix = "a1:"
)

func encodeCursor(prefix, position string) *string {
	if position == "" {
		return nil
	}
	s := base64.RawURLEncoding.EncodeToString([]byte(prefix + position))
	return &s
}

// maxCursorBytes bounds a cursor, well above any this service makes.
const maxCursorBytes = 256

// decodeCursor reads a cursor that encodeCursor made with prefix; "" is the
// first page. Positions are ids and numbers, printable ASCII without
// spaces: anything else was not made here, and would otherwise reach the
// store, where a NUL or a stray byte ends the listing early or fails the
// query.
func decodeCursor(prefix, cursor string) (string, error) {
	if cursor == "" {
		return "", nil
	}
	if len(cursor) > base64.RawURLEncoding.EncodedLen(maxCursorBytes) {
		return "", domain.ValidationError("cursor", "is not a cursor this service gave")
	}
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return "", domain.ValidationError("cursor", "is not a cursor this service gave")
	}
	position, ok := strings.CutPrefix(string(raw), prefix)
	if !ok || position == "" || strings.IndexFunc(position, func(r rune) bool { return r <= ' ' || r > '~' }) >= 0 {
		return "", domain.ValidationError("cursor", "is not a cursor of this listing")
	}
	return position, nil
}

// pageLimit reads the limit parameter; absent is 0, the service's default.
// A limit given as 0, or empty, is refused like any other that is no whole
// number in range, rather than taken for the default.
func pageLimit(c *gin.Context) (int, error) {
	raw, given := c.GetQuery("limit")
	if !given {
		return 0, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 || n > ports.MaxPageSize {
		return 0, domain.ValidationError("limit", fmt.Sprintf("must be a whole number from 1 to %d", ports.MaxPageSize))
	}
	return n, nil
}

// parseUserQuery reads the filters of GET /admin/users.
func parseUserQuery(c *gin.Context) (ports.UserQuery, error) {
	after, err := decodeCursor(userCursorPrefix, c.Query("cursor"))
	if err != nil {
		return ports.UserQuery{}, err
	}
	limit, err := pageLimit(c)
	if err != nil {
		return ports.UserQuery{}, err
	}
	return ports.UserQuery{
		EmailPrefix: domain.Email(c.Query("email")),
		State:       ports.UserState(c.Query("state")),
		After:       after,
		Limit:       limit,
	}, nil
}

func (h *handlers) adminListUsers(c *gin.Context) {
	q, err := parseUserQuery(c)
	if err != nil {
		writeError(c, err)
		return
	}
	page, err := h.admin.ListUsers(c.Request.Context(), q)
	if err != nil {
		writeError(c, err)
		return
	}
	res := adminUsersResponse{Users: make([]adminUserResponse, len(page.Users)), NextCursor: encodeCursor(userCursorPrefix, page.Next)}
	for i, u := range page.Users {
		res.Users[i] = newAdminUser(u)
	}
	c.JSON(http.StatusOK, res)
}

func (h *handlers) adminGetUser(c *gin.Context) {
	d, err := h.admin.User(c.Request.Context(), c.Param("id"))
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, newAdminUserDetails(d))
}

type adminPatchRequest struct {
	Disabled      *bool   `json:"disabled"`
	EmailVerified *bool   `json:"email_verified"`
	FirstName     *string `json:"first_name"`
	LastName      *string `json:"last_name"`
	MFAEnabled    *bool   `json:"mfa_enabled"`
}

// adminPatchUser applies a change. Its body is read strictly: a member it
// does not know is refused, and so is a body that names no change, since
// an operator's misspelt or newer field would otherwise be left undone
// while the answer says 200.
func (h *handlers) adminPatchUser(c *gin.Context) {
	var req adminPatchRequest
	if !decodeStrictJSON(c, &req) {
		return
	}
	change := ports.AccountChange{Disabled: req.Disabled, EmailVerified: req.EmailVerified, FirstName: req.FirstName, LastName: req.LastName, MFAEnabled: req.MFAEnabled}
	if change == (ports.AccountChange{}) {
		writeError(c, domain.ValidationError("body", "names nothing to change: send disabled, email_verified, mfa_enabled, first_name or last_name"))
		return
	}
	d, err := h.admin.UpdateUser(c.Request.Context(), h.operatorOf(c), c.Param("id"), change)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, newAdminUserDetails(d))
}

func (h *handlers) adminUnlockUser(c *gin.Context) {
	if err := h.admin.UnlockUser(c.Request.Context(), h.operatorOf(c), c.Param("id")); err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, messageResponse{Message: "the login lock is lifted"})
}

func (h *handlers) adminRevokeSessions(c *gin.Context) {
	n, err := h.admin.RevokeSessions(c.Request.Context(), h.operatorOf(c), c.Param("id"))
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, messageResponse{Message: strconv.Itoa(n) + " session(s) ended"})
}

func (h *handlers) adminDeleteUser(c *gin.Context) {
	if err := h.admin.DeleteUser(c.Request.Context(), h.operatorOf(c), c.Param("id")); err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, messageResponse{Message: "the account and its sessions are deleted"})
}

type auditEventResponse struct {
	ID        int64  `json:"id"`
	At        string `json:"at"`
	Event     string `json:"event"`
	UserID    string `json:"user_id,omitempty"`
	Email     string `json:"email,omitempty"`
	Reason    string `json:"reason,omitempty"`
	Actor     string `json:"actor,omitempty"`
	IP        string `json:"ip"`
	UserAgent string `json:"user_agent"`
}

type auditResponse struct {
	Events     []auditEventResponse `json:"events"`
	NextCursor *string              `json:"next_cursor"`
}

// parseAuditQuery reads the filters of GET /admin/audit: user_id, event
// (repeated, or separated by commas), since and until (RFC 3339), limit and
// cursor.
func parseAuditQuery(c *gin.Context) (ports.AuditQuery, error) {
	var v domain.Validation
	q := ports.AuditQuery{UserID: c.Query("user_id")}
	for _, raw := range c.QueryArray("event") {
		for _, typ := range strings.Split(raw, ",") {
			if typ = strings.TrimSpace(typ); typ != "" {
				q.Types = append(q.Types, domain.EventType(typ))
			}
		}
	}
	for _, t := range []struct {
		name string
		dst  *time.Time
	}{{"since", &q.Since}, {"until", &q.Until}} {
		raw := c.Query(t.name)
		if raw == "" {
			continue
		}
		at, err := time.Parse(time.RFC3339Nano, raw)
		if err != nil {
			v.Add(t.name, "must be a time such as 2026-01-02T15:04:05Z")
			continue
		}
		*t.dst = at
	}
	before, err := decodeCursor(auditCursorPrefix, c.Query("cursor"))
	if err == nil && before != "" {
		if q.Before, err = strconv.ParseInt(before, 10, 64); err != nil || q.Before <= 0 {
			err = domain.ValidationError("cursor", "is not a cursor of this listing")
		}
	}
	if err != nil {
		return ports.AuditQuery{}, err
	}
	if q.Limit, err = pageLimit(c); err != nil {
		return ports.AuditQuery{}, err
	}
	return q, v.Err()
}

func (h *handlers) adminAudit(c *gin.Context) {
	q, err := parseAuditQuery(c)
	if err != nil {
		writeError(c, err)
		return
	}
	page, err := h.admin.Audit(c.Request.Context(), q)
	if err != nil {
		writeError(c, err)
		return
	}
	res := auditResponse{Events: make([]auditEventResponse, len(page.Events))}
	if page.Next > 0 {
		res.NextCursor = encodeCursor(auditCursorPrefix, strconv.FormatInt(page.Next, 10))
	}
	for i, e := range page.Events {
		res.Events[i] = auditEventResponse{
			ID: e.ID, At: timestamp(e.At), Event: string(e.Type), UserID: e.UserID, Email: e.Email,
			Reason: e.Reason, Actor: e.Actor, IP: e.IP, UserAgent: e.UserAgent,
		}
	}
	c.JSON(http.StatusOK, res)
}
