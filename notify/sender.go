package notify

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/liftrescue/liftrescue"
)

// Sender delivers a notification over one channel and returns the receiver's receipt. An error
// marked Permanent means trying again cannot help; any other error is worth another attempt, after
// the wait that RetryAfter reports when the receiver asked for one.
type Sender interface {
	Send(ctx context.Context, n *liftrescue.Notification) (receipt string, err error)
}

type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent marks err as a failure that retrying cannot fix, so that the outbox gives up on the
// notification at once. It returns nil for nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err}
}

// IsPermanent reports whether err, or an error it wraps, was marked with Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

// retryAfterError is a temporary failure whose receiver said when to come back.
type retryAfterError struct {
	err   error
	after time.Duration
}

func (e *retryAfterError) Error() string { return e.err.Error() }
func (e *retryAfterError) Unwrap() error { return e.err }

// RetryAfter returns how long the receiver asked to be left alone (its Retry-After header), when
// err carries that.
func RetryAfter(err error) (time.Duration, bool) {
	var r *retryAfterError
	if errors.As(err, &r) {
		return r.after, true
	}
	return 0, false
}

// LogSender writes notifications to the log instead of sending them, for the demo and for
// development. It never fails.
type LogSender struct {
	Logger *slog.Logger // default slog.Default()
}

// Send logs n and returns the receipt "logged".
func (s LogSender) Send(ctx context.Context, n *liftrescue.Notification) (string, error) {
	logger := s.Logger
	if logger == nil {
		logger = slog.Default()
	}
	logger.InfoContext(ctx, "notification", "id", n.ID, "incident_id", n.IncidentID,
		"channel", n.Channel, "recipient", n.Recipient, "kind", n.Kind, "body", n.Body)
	return "logged", nil
}
