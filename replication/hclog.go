package replication

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// hclogAdapter bridges the hclog.Logger that raft and raft-wal log to into a
// *slog.Logger, filtered at a minimum level (warn by default: raft logs every
// election and every connection at info, which is noise times hundreds of
// groups).
type hclogAdapter struct {
	// Logger is only used for StandardLogger and StandardWriter, which raft does
	// not call; it writes through slogWriter into the same slog.Logger.
	hclog.Logger

	sl    *slog.Logger
	min   slog.Leveler
	name  string
	args  []any
	level hclog.Level // set by SetLevel; NoLevel defers to min
}

func newHCLog(sl *slog.Logger, minLevel slog.Leveler, name string) *hclogAdapter {
	a := &hclogAdapter{sl: sl, min: minLevel, name: name, level: hclog.NoLevel}
	a.Logger = hclog.New(&hclog.LoggerOptions{
		Name:   name,
		Output: slogWriter{sl: sl, level: slog.LevelWarn},
		Level:  hclog.Warn,
	})
	return a
}

func hclogToSlog(l hclog.Level) slog.Level {
	switch l {
	case hclog.Trace:
		return slog.LevelDebug - 4
	case hclog.Debug:
		return slog.LevelDebug
	case hclog.Info:
		return slog.LevelInfo
	case hclog.Warn:
		return slog.LevelWarn
	default:
		return slog.LevelError
	}
}

func (a *hclogAdapter) enabled(l slog.Level) bool {
	if a.level != hclog.NoLevel {
		if l < hclogToSlog(a.level) {
			return false
		}
	} else if l < a.min.Level() {
		return false
	}
	return a.sl.Enabled(context.Background(), l)
}

func (a *hclogAdapter) Log(level hclog.Level, msg string, args ...any) {
	if level == hclog.Off || level == hclog.NoLevel {
		return
	}
	l := hclogToSlog(level)
	if l >= slog.LevelError && isShutdownNoise(args) {
		// raft logs its own transport shutting down as an error on every
		// inbound stream; for a broker moving partitions that is routine.
		l = slog.LevelDebug
	}
	if l == slog.LevelWarn && routineWarnings[msg] {
		l = slog.LevelInfo
	}
	if !a.enabled(l) {
		return
	}
	attrs := make([]any, 0, 2+len(a.args)+len(args))
	attrs = append(attrs, "component", a.name)
	attrs = appendKV(attrs, a.args)
	attrs = appendKV(attrs, args)
	a.sl.Log(context.Background(), l, msg, attrs...)
}

// routineWarnings are raft's warnings about what every new member of a
// group goes through (a server joining with an empty log, a non-voter that
// may not campaign, the first election): every broker start printed them,
// so they are logged as info.
var routineWarnings = map[string]bool{
	"no known peers, aborting election":            true,
	"failed to get previous log":                   true,
	"appendEntries rejected, sending older logs":   true,
	"heartbeat timeout reached, starting election": true,
}

// isShutdownNoise reports whether an error log's "error" value is raft's
// transport shutdown.
func isShutdownNoise(kv []any) bool {
	for i := 0; i+1 < len(kv); i += 2 {
		if err, ok := kv[i+1].(error); ok && errors.Is(err, raft.ErrTransportShutdown) {
			return true
		}
	}
	return false
}

// appendKV converts hclog's alternating keys and values to slog's, turning
// keys into strings and an odd trailing value into an "extra" attribute.
func appendKV(dst, kv []any) []any {
	for i := 0; i < len(kv); i += 2 {
		if i+1 == len(kv) {
			dst = append(dst, "extra", kv[i])
			break
		}
		key, ok := kv[i].(string)
		if !ok {
			key = fmt.Sprint(kv[i])
		}
		if key == "error" {
			key = "err" // the house key for errors
		}
		dst = append(dst, key, kv[i+1])
	}
	return dst
}

func (a *hclogAdapter) Trace(msg string, args ...any) { a.Log(hclog.Trace, msg, args...) }
func (a *hclogAdapter) Debug(msg string, args ...any) { a.Log(hclog.Debug, msg, args...) }
func (a *hclogAdapter) Info(msg string, args ...any)  { a.Log(hclog.Info, msg, args...) }
func (a *hclogAdapter) Warn(msg string, args ...any)  { a.Log(hclog.Warn, msg, args...) }
func (a *hclogAdapter) Error(msg string, args ...any) { a.Log(hclog.Error, msg, args...) }

func (a *hclogAdapter) IsTrace() bool { return a.enabled(hclogToSlog(hclog.Trace)) }
func (a *hclogAdapter) IsDebug() bool { return a.enabled(slog.LevelDebug) }
func (a *hclogAdapter) IsInfo() bool  { return a.enabled(slog.LevelInfo) }
func (a *hclogAdapter) IsWarn() bool  { return a.enabled(slog.LevelWarn) }
func (a *hclogAdapter) IsError() bool { return a.enabled(slog.LevelError) }

func (a *hclogAdapter) ImpliedArgs() []any { return a.args }

func (a *hclogAdapter) With(args ...any) hclog.Logger {
	c := *a
	c.args = append(append([]any(nil), a.args...), args...)
	return &c
}

func (a *hclogAdapter) Name() string { return a.name }

func (a *hclogAdapter) Named(name string) hclog.Logger {
	c := *a
	if a.name != "" {
		c.name = a.name + "." + name
	} else {
		c.name = name
	}
	return &c
}

func (a *hclogAdapter) ResetNamed(name string) hclog.Logger {
	c := *a
	c.name = name
	return &c
}

// SetLevel overrides the minimum level of this logger (not of its parents).
// Not safe for concurrent use with logging; raft and raft-wal never call it.
func (a *hclogAdapter) SetLevel(level hclog.Level) { a.level = level }

func (a *hclogAdapter) GetLevel() hclog.Level {
	if a.level != hclog.NoLevel {
		return a.level
	}
	switch l := a.min.Level(); {
	case l < slog.LevelDebug:
		return hclog.Trace
	case l < slog.LevelInfo:
		return hclog.Debug
	case l < slog.LevelWarn:
		return hclog.Info
	case l < slog.LevelError:
		return hclog.Warn
	}
	return hclog.Error
}

// slogWriter logs each written line as one record: for the few libraries that
// only take an io.Writer.
type slogWriter struct {
	sl    *slog.Logger
	level slog.Level
}

func (w slogWriter) Write(p []byte) (int, error) {
	for line := range bytes.Lines(p) {
		msg := strings.TrimSpace(string(line))
		if msg != "" {
			w.sl.Log(context.Background(), w.level, "library log", "line", msg)
		}
	}
	return len(p), nil
}

// yamuxLogger bridges yamux's Printf-style logger. yamux prefixes its lines
// with "[ERR]" or "[WARN]"; both are logged at warn when the minimum allows
// (a peer going away is routine for a broker).
type yamuxLogger struct {
	sl  *slog.Logger
	min slog.Leveler
}

func (y yamuxLogger) Print(v ...any)                 { y.log(fmt.Sprint(v...)) }
func (y yamuxLogger) Printf(format string, v ...any) { y.log(fmt.Sprintf(format, v...)) }
func (y yamuxLogger) Println(v ...any)               { y.log(fmt.Sprint(v...)) }

func (y yamuxLogger) log(line string) {
	if slog.LevelWarn < y.min.Level() {
		return
	}
	y.sl.Warn("yamux", "line", strings.TrimSpace(line))
}
