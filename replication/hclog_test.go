package replication

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

func TestHCLogBridge(t *testing.T) {
	var buf bytes.Buffer
	sl := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var l hclog.Logger = newHCLog(sl, slog.LevelWarn, "raft")
	l = l.Named("net").With("peer", "n2")

	l.Info("entering follower state") // below the minimum
	l.Warn("heartbeat timeout", "error", errors.New("boom"), 7)
	l.Error("failed to decode incoming command", "error", raft.ErrTransportShutdown)
	out := buf.String()
	if strings.Contains(out, "follower") || strings.Contains(out, "decode") {
		t.Fatalf("filtered records logged:\n%s", out)
	}
	for _, want := range []string{"level=WARN", "component=raft.net", "peer=n2", "err=boom", "extra=7"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in %s", want, out)
		}
	}
	if l.IsInfo() || !l.IsWarn() || l.GetLevel() != hclog.Warn {
		t.Errorf("levels: info %v warn %v get %v", l.IsInfo(), l.IsWarn(), l.GetLevel())
	}
}
