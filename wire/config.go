package wire

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Defaults applied by NewServer to zero fields of Config.
const (
	// DefaultMaxRequestBytes is Kafka's socket.request.max.bytes (100 MiB).
	DefaultMaxRequestBytes = 100 << 20
	// DefaultMaxConns caps open client connections per Server. Kafka's
	// max.connections is unlimited; we prefer a bound that fails loudly.
	DefaultMaxConns = 10000
	// DefaultMaxConnsPerIP caps open connections from one remote IP
	// (Kafka's max.connections.per.ip, unlimited there).
	DefaultMaxConnsPerIP = 1000
	// DefaultIdleTimeout is Kafka's connections.max.idle.ms (10 min).
	DefaultIdleTimeout = 10 * time.Minute
	// DefaultReadTimeout bounds how long a started frame may take to arrive.
	DefaultReadTimeout = 30 * time.Second
	// DefaultWriteTimeout bounds one write of coalesced responses.
	DefaultWriteTimeout = 30 * time.Second
	// DefaultMaxInFlightPerConn bounds requests read but not yet answered on
	// one connection. It exceeds the 5 in-flight Produce requests of an
	// idempotent producer so that they overlap in the handler.
	DefaultMaxInFlightPerConn = 16
)

// minRequestBytes is the smallest MaxRequestBytes accepted by Validate: a
// limit below a few KiB would reject ordinary ApiVersions and Metadata
// requests.
const minRequestBytes = 4 << 10

// Config configures a Server. The zero value is valid: every zero field takes
// the default named beside it. Negative values are rejected by Validate.
type Config struct {
	// MaxRequestBytes is the largest accepted frame, excluding its 4-byte
	// length prefix. A longer (or negative) length closes the connection
	// before anything is allocated for the frame. Default
	// DefaultMaxRequestBytes; at least 4 KiB.
	MaxRequestBytes int32

	// MaxConns caps open connections; MaxConnsPerIP caps them per remote
	// IP. Excess connections are accepted, closed at once and counted in
	// Stats and the Observer. Defaults DefaultMaxConns, DefaultMaxConnsPerIP.
	MaxConns      int
	MaxConnsPerIP int

	// IdleTimeout closes a connection that has received no byte and has no
	// request in flight for this long. Default DefaultIdleTimeout.
	IdleTimeout time.Duration
	// ReadTimeout closes a connection whose frame (length prefix, header or
	// body) has started to arrive but is not complete this long after the
	// server began waiting for its missing bytes. Default
	// DefaultReadTimeout.
	ReadTimeout time.Duration
	// WriteTimeout bounds each write of responses to the socket. Default
	// DefaultWriteTimeout.
	WriteTimeout time.Duration

	// MaxInFlightPerConn bounds requests read from one connection whose
	// response has not yet been written. At the bound the server stops
	// reading that connection (TCP pushes back on the client). Default
	// DefaultMaxInFlightPerConn.
	MaxInFlightPerConn int

	// Logger receives connection and protocol events; nil discards them.
	Logger *slog.Logger
	// Observer receives metrics callbacks; nil means none.
	Observer Observer
}

// Validate reports the first invalid field, or nil. Zero fields are valid
// (they take defaults).
func (c Config) Validate() error {
	var errs []error
	if c.MaxRequestBytes < 0 || (c.MaxRequestBytes > 0 && c.MaxRequestBytes < minRequestBytes) {
		errs = append(errs, fmt.Errorf("MaxRequestBytes %d: want 0 (default) or >= %d", c.MaxRequestBytes, minRequestBytes))
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"MaxConns", c.MaxConns}, {"MaxConnsPerIP", c.MaxConnsPerIP}, {"MaxInFlightPerConn", c.MaxInFlightPerConn}} {
		if f.v < 0 {
			errs = append(errs, fmt.Errorf("%s %d: negative", f.name, f.v))
		}
	}
	for _, f := range []struct {
		name string
		v    time.Duration
	}{{"IdleTimeout", c.IdleTimeout}, {"ReadTimeout", c.ReadTimeout}, {"WriteTimeout", c.WriteTimeout}} {
		if f.v < 0 {
			errs = append(errs, fmt.Errorf("%s %v: negative", f.name, f.v))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("wire: invalid config: %w", err)
	}
	return nil
}

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	if c.MaxRequestBytes == 0 {
		c.MaxRequestBytes = DefaultMaxRequestBytes
	}
	if c.MaxConns == 0 {
		c.MaxConns = DefaultMaxConns
	}
	if c.MaxConnsPerIP == 0 {
		c.MaxConnsPerIP = DefaultMaxConnsPerIP
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.ReadTimeout == 0 {
		c.ReadTimeout = DefaultReadTimeout
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.MaxInFlightPerConn == 0 {
		c.MaxInFlightPerConn = DefaultMaxInFlightPerConn
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Observer == nil {
		c.Observer = NopObserver{}
	}
	return c
}
