package tunnel

import (
	"errors"
	"fmt"
	"net/http"
)

// Sentinel errors. Wrapped errors keep them reachable with errors.Is.
var (
	// ErrFrameTooLarge: a frame's length prefix is over the limit for its place in the
	// protocol (8 KiB for a stream header or reply, 64 KiB for a control message).
	ErrFrameTooLarge = errors.New("frame too large")

	// ErrEmptyFrame: a frame's length prefix is zero.
	ErrEmptyFrame = errors.New("empty frame")

	// ErrBadHeader: a stream header frame could not be read or is not valid. The error's
	// text says exactly what was wrong; it is what the acceptor sends back to the opener.
	ErrBadHeader = errors.New("bad stream header")

	// ErrBadControl: a control message could not be read or decoded.
	ErrBadControl = errors.New("bad control message")

	// ErrTokenRejected: the gateway refused a token sent with SendToken.
	ErrTokenRejected = errors.New("token rejected")

	// ErrSessionClosed: the session was closed by this side's Close.
	ErrSessionClosed = errors.New("tunnel: session closed")

	// ErrDisconnected: the peer ended the session, or the connection broke, without
	// giving a reason.
	ErrDisconnected = errors.New("tunnel: disconnected")

	// ErrReplied: Stream.Accept or Stream.Reject was called on a stream already answered.
	ErrReplied = errors.New("tunnel: stream already answered")

	// ErrNotAccepted: Read or Write on a gateway Stream before Stream.Accept.
	ErrNotAccepted = errors.New("tunnel: stream not accepted")
)

// HTTPError is returned by Dial when the gateway answers the tunnel request with a status
// other than 101 Switching Protocols: the gateway refused the token or the connection
// before upgrading. Code and Message come from the api.Error body when there is one.
type HTTPError struct {
	StatusCode int    // 403
	Code       string // "forbidden" (api.CodeForbidden); empty when the body was not an api.Error
	Message    string // "no rule grants you access to connection db-prod", else the status text
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("tunnel dial: gateway answered %d %s: %s", e.StatusCode, http.StatusText(e.StatusCode), e.Message)
}

// StreamError is returned by Session.Open when the acceptor answers the header frame with
// an error reply.
type StreamError struct {
	Code    string // "bad_header", or a code the gateway chose: "forbidden"
	Message string // "stream header: unknown kind \"ssh\""
}

func (e *StreamError) Error() string {
	if e.Code == "" {
		return "tunnel: stream refused: " + e.Message
	}
	return fmt.Sprintf("tunnel: stream refused (%s): %s", e.Code, e.Message)
}

// CloseError is a session's Err when the gateway ended it with a reason
// (ServerSession.CloseWithReason, the "close" control message).
type CloseError struct {
	Reason string // "token expired"
}

func (e *CloseError) Error() string {
	return "tunnel: closed by the gateway: " + e.Reason
}

// headerError is every error of reading or validating a stream header. Its text is the
// exact reason sent back to the opener.
type headerError struct {
	msg string
	err error // cause, may be nil
}

func (e *headerError) Error() string        { return "stream header: " + e.msg }
func (e *headerError) Unwrap() error        { return e.err }
func (e *headerError) Is(target error) bool { return target == ErrBadHeader }

func badHeader(err error, format string, args ...any) error {
	return &headerError{msg: fmt.Sprintf(format, args...), err: err}
}

// frameSizeError says a length prefix was over the limit.
type frameSizeError struct {
	size, limit int
}

func (e *frameSizeError) Error() string {
	return fmt.Sprintf("frame of %d bytes exceeds the %d-byte limit", e.size, e.limit)
}
func (e *frameSizeError) Is(target error) bool { return target == ErrFrameTooLarge }
