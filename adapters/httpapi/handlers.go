package httpapi

import (
	"net/netip"
	"time"

	"github.com/gin-gonic/gin"

	"authapi/domain"
	"authapi/ports"
)

// timestampLayout is RFC 3339 at the millisecond precision that accounts are
// stored with, so a timestamp reads the same in every response.
const timestampLayout = "2006-01-02T15:04:05.000Z07:00"

type handlers struct {
	auth  ports.AuthService
	admin ports.AdminService
	ready Pinger
	mail  MailStatus
	keys  KeySet
	// ipv6Prefix is the length of the network an IPv6 client counts as.
	ipv6Prefix int
}

type messageResponse struct {
	Message string `json:"message"`
}

// clientOf describes the caller. The address comes from the socket, or from
// X-Forwarded-For when the socket is one of the trusted proxies. It is
// written in one canonical form, since limits count per address: an
// IPv4-mapped IPv6 address is the IPv4 address, and an IPv6 address counts
// as its whole network of the configured prefix length.
func (h *handlers) clientOf(c *gin.Context) domain.Client {
	client := domain.Client{IP: c.ClientIP(), UserAgent: c.GetHeader("User-Agent")}
	addr, err := netip.ParseAddr(client.IP)
	if err != nil {
		// gin vouches for the address it returns; keep it as the key
		// rather than guess.
		client.Source = client.IP
		return client
	}
	addr = addr.Unmap().WithZone("")
	client.IP = addr.String()
	client.Source = client.IP
	if addr.Is6() {
		if prefix, err := addr.Prefix(h.ipv6Prefix); err == nil {
			client.Source = prefix.String()
		}
	}
	return client
}

// noStore keeps responses that carry tokens out of caches (RFC 6749 5.1).
func noStore(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	c.Header("Pragma", "no-cache")
}

func seconds(d time.Duration) int64 { return int64(d / time.Second) }

func timestamp(t time.Time) string { return t.UTC().Format(timestampLayout) }
