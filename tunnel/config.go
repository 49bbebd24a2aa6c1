package tunnel

import (
	"io"
	"log"
	"net/http"
	"time"

	"github.com/hashicorp/yamux"
)

// Config tunes a tunnel session. The same type serves both sides; fields that apply to
// one side only say so. A nil *Config means DefaultConfig(), and a zero field means the
// default for that field.
type Config struct {
	// StreamWindow is the most a stream may have in flight, unacknowledged, in each
	// direction (yamux MaxStreamWindowSize). It bounds a stream's throughput to
	// StreamWindow/RTT, so it is large: a bulk result must not wait for window updates.
	// It also bounds the size of one WebSocket message read from the peer.
	// Minimum 256 KiB. Default 8 MiB.
	StreamWindow uint32

	// KeepAliveInterval is how often a ping checks that the peer is alive; a session whose
	// ping gets no answer within ConnectionWriteTimeout ends. Default 15 s.
	KeepAliveInterval time.Duration

	// ConnectionWriteTimeout bounds one write to the connection, and the wait for a ping's
	// answer, before the session is considered dead. Default 30 s.
	ConnectionWriteTimeout time.Duration

	// HeaderTimeout bounds the wait for a stream's header frame (acceptor) and for its
	// reply frame (opener), and, on the gateway, for the control stream to open.
	// Default 10 s.
	HeaderTimeout time.Duration

	// AcceptBacklog bounds the streams waiting to be accepted and, on the gateway, the
	// streams whose header is still being read. Default 256.
	AcceptBacklog int

	// ControlBacklog is the buffer of the Control() channel. A message that arrives when
	// it is full is dropped and logged, so a slow reader never stalls the session.
	// Default 64.
	ControlBacklog int

	// LogOutput receives yamux's and this package's log lines. Default io.Discard.
	LogOutput io.Writer

	// HTTPClient dials the WebSocket (client side). Its Transport carries the TLS
	// configuration. Default http.DefaultClient.
	HTTPClient *http.Client

	// HTTPHeader holds extra request headers for the dial (client side), e.g.
	// "User-Agent: hoop/1.2.0". Authorization is set by Dial.
	HTTPHeader http.Header

	// OriginPatterns lists extra hosts allowed in a browser's Origin header (gateway side);
	// requests without an Origin header (the CLI) are always allowed. Default none.
	OriginPatterns []string
}

// Defaults, exported so callers can document them.
const (
	DefaultStreamWindow           = 8 << 20
	DefaultKeepAliveInterval      = 15 * time.Second
	DefaultConnectionWriteTimeout = 30 * time.Second
	DefaultHeaderTimeout          = 10 * time.Second
	DefaultAcceptBacklog          = 256
	DefaultControlBacklog         = 64

	minStreamWindow = 256 << 10 // yamux's initial window; it refuses a smaller maximum
	readLimitSlack  = 64 << 10  // beyond the window: room for a yamux header and more
)

// DefaultConfig returns the configuration used when Dial or Accept get a nil *Config.
func DefaultConfig() *Config {
	return &Config{
		StreamWindow:           DefaultStreamWindow,
		KeepAliveInterval:      DefaultKeepAliveInterval,
		ConnectionWriteTimeout: DefaultConnectionWriteTimeout,
		HeaderTimeout:          DefaultHeaderTimeout,
		AcceptBacklog:          DefaultAcceptBacklog,
		ControlBacklog:         DefaultControlBacklog,
		LogOutput:              io.Discard,
	}
}

// withDefaults returns a copy of c with every zero field set to its default.
func (c *Config) withDefaults() *Config {
	d := DefaultConfig()
	if c == nil {
		return d
	}
	out := *c
	if out.StreamWindow == 0 {
		out.StreamWindow = d.StreamWindow
	}
	if out.StreamWindow < minStreamWindow {
		out.StreamWindow = minStreamWindow
	}
	if out.KeepAliveInterval <= 0 {
		out.KeepAliveInterval = d.KeepAliveInterval
	}
	if out.ConnectionWriteTimeout <= 0 {
		out.ConnectionWriteTimeout = d.ConnectionWriteTimeout
	}
	if out.HeaderTimeout <= 0 {
		out.HeaderTimeout = d.HeaderTimeout
	}
	if out.AcceptBacklog <= 0 {
		out.AcceptBacklog = d.AcceptBacklog
	}
	if out.ControlBacklog <= 0 {
		out.ControlBacklog = d.ControlBacklog
	}
	if out.LogOutput == nil {
		out.LogOutput = d.LogOutput
	}
	return &out
}

// yamux maps c (already defaulted) to a yamux configuration.
func (c *Config) yamux() *yamux.Config {
	y := yamux.DefaultConfig()
	y.AcceptBacklog = c.AcceptBacklog
	y.EnableKeepAlive = true
	y.KeepAliveInterval = c.KeepAliveInterval
	y.ConnectionWriteTimeout = c.ConnectionWriteTimeout
	y.MaxStreamWindowSize = c.StreamWindow
	// A stream half-closed by us is reset if the peer never closes its side, so a
	// misbehaving peer cannot pin the memory of streams we are done with.
	y.StreamCloseTimeout = time.Minute
	y.LogOutput = c.LogOutput
	return y
}

// readLimit is the largest WebSocket message accepted from the peer: the peer may send a
// yamux data frame as large as the window we grant, and nothing larger.
func (c *Config) readLimit() int64 {
	return int64(c.StreamWindow) + readLimitSlack
}

func (c *Config) logger() *log.Logger {
	return log.New(c.LogOutput, "tunnel: ", log.LstdFlags)
}
