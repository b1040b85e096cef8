package workload

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Run runs the workload cfg describes until ctx is done, then stops every
// client, waiting for the outcome of every record produced (at most
// about DeliveryTimeout+RequestTimeout) and making the groups' last
// commits, and returns the counts. Its error is only a configuration
// error: faults show up as outcomes and counts, not as an error.
func Run(ctx context.Context, cfg Config) (Stats, error) {
	if err := cfg.Validate(); err != nil {
		return Stats{}, fmt.Errorf("workload config: %w", err)
	}
	cfg = cfg.withDefaults()
	rec := newRecorder(cfg.History, cfg.Topic)
	var wg sync.WaitGroup
	if cfg.Producers > 0 {
		lim := newLimiter(cfg.Rate)
		share := max(1, cfg.MaxInFlight/cfg.Producers)
		for i := range cfg.Producers {
			p := &producer{id: i, cfg: cfg, rec: rec, limit: lim, maxInFlight: share}
			wg.Go(func() { p.run(ctx) })
		}
	}
	for g := range max(0, cfg.Groups) {
		group := cfg.GroupPrefix + "group-" + strconv.Itoa(g)
		for i := range cfg.ConsumersPerGroup {
			m := &member{name: groupProcess(g, i), group: group, cfg: cfg, rec: rec}
			wg.Go(func() { m.run(ctx) })
		}
	}
	for i := range max(0, cfg.Readers) {
		rd := &reader{name: "reader-" + strconv.Itoa(i), cfg: cfg, rec: rec}
		wg.Go(func() { rd.run(ctx) })
	}
	wg.Wait()
	return rec.stats(), nil
}

// kerrForCode is the Kafka error of a non-zero code.
func kerrForCode(code int16) error {
	if err := kerr.ErrorForCode(code); err != nil {
		return err
	}
	return fmt.Errorf("error code %d", code)
}

// kgoLogger adapts a slog.Logger to franz-go's Logger at warn level,
// tagging each line with the history process.
func kgoLogger(l *slog.Logger, process string) kgo.Logger {
	return slogKgo{l.With("process", process)}
}

type slogKgo struct{ l *slog.Logger }

func (s slogKgo) Level() kgo.LogLevel { return kgo.LogLevelWarn }

func (s slogKgo) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	lv := slog.LevelInfo
	switch level {
	case kgo.LogLevelError:
		lv = slog.LevelError
	case kgo.LogLevelWarn:
		lv = slog.LevelWarn
	case kgo.LogLevelDebug:
		lv = slog.LevelDebug
	}
	s.l.Log(context.Background(), lv, msg, keyvals...)
}
