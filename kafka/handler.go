package kafka

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/cairnlog/cairn/partition"
	"github.com/cairnlog/cairn/wire"
)

// Handler serves the Kafka APIs of one broker over a Backend. It implements
// wire.Handler. Its methods are safe for concurrent use; Serve follows the
// wire.Handler contract (one call at a time per connection, in order).
type Handler struct {
	b       Backend
	cfg     Config
	logger  *slog.Logger
	inflate *decompressor

	// ctx ends at Close; every goroutine the handler starts (deferred
	// Produce and Fetch answers) watches it, and wg counts them.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     struct {
		sync.Mutex
		closed bool
	}

	// unacked holds a token per acks=0 Produce request not yet committed.
	unacked chan struct{}
}

// NewHandler returns a Handler serving backend. It panics on an invalid cfg
// (a programming error of the caller, who should Validate it first).
func NewHandler(backend Backend, cfg Config) *Handler {
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	cfg = cfg.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	return &Handler{
		b:       backend,
		cfg:     cfg,
		logger:  cfg.Logger,
		inflate: newDecompressor(),
		ctx:     ctx,
		cancel:  cancel,
		unacked: make(chan struct{}, cfg.MaxUnackedProduces),
	}
}

// Serve handles one request (wire.Handler).
func (h *Handler) Serve(ctx context.Context, req *wire.Request) wire.Reply {
	a, ok := apis[req.Key]
	if !ok || !a.versions.Contains(req.Version) {
		// wire admits only advertised keys and versions.
		return wire.CloseConn(fmt.Errorf("kafka: api key %d version %d not served", req.Key, req.Version))
	}
	return a.serve(h, ctx, req)
}

// Close stops the goroutines answering deferred requests (their answers are
// abandoned, as their connections' are when the wire server shuts down) and
// waits for them. Serve must not be called after Close.
func (h *Handler) Close() {
	h.mu.Lock()
	h.mu.closed = true
	h.mu.Unlock()
	h.cancel()
	h.wg.Wait()
}

// goFunc runs f on a goroutine that Close waits for. It reports false, and
// does not run f, after Close.
func (h *Handler) goFunc(f func()) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.mu.closed {
		return false
	}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		f()
	}()
	return true
}

// requestContext returns a context that ends when ctx (the connection's)
// ends, when the handler closes, or after d.
func (h *Handler) requestContext(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	rctx, cancel := context.WithTimeout(ctx, d)
	stop := context.AfterFunc(h.ctx, cancel)
	return rctx, func() {
		stop()
		cancel()
	}
}

// leader returns the local replica of topic/partition if it leads, else an
// error: ErrInvalidTopic, ErrUnknownTopic (no such topic or partition),
// errNotLeader.
func (h *Handler) leader(topic string, part int32) (*partition.Partition, TopicInfo, error) {
	ti, err := h.topic(topic)
	if err != nil {
		return nil, ti, err
	}
	p, err := h.leaderOf(ti, part)
	return p, ti, err
}

// topic looks a topic up once for a request's partitions of it.
func (h *Handler) topic(name string) (TopicInfo, error) {
	if err := validTopicName(name); err != nil {
		return TopicInfo{}, err
	}
	ti, ok := h.b.Topic(name)
	if !ok {
		return TopicInfo{Name: name}, fmt.Errorf("%w: %s", ErrUnknownTopic, name)
	}
	return ti, nil
}

// leaderOf is leader for a topic already looked up.
func (h *Handler) leaderOf(ti TopicInfo, part int32) (*partition.Partition, error) {
	if part < 0 || int(part) >= len(ti.Partitions) {
		return nil, fmt.Errorf("%w: %s-%d", ErrUnknownTopic, ti.Name, part)
	}
	p := h.b.LocalPartition(ti.Name, part)
	// Not until ready: a new leader's high watermark and epoch history lag
	// what its predecessor served until it has applied everything committed
	// before its term, and answering from them would move clients back.
	if p == nil || !p.Group().LeaderReady() {
		return nil, fmt.Errorf("%w: %s-%d", errNotLeader, ti.Name, part)
	}
	return p, nil
}

// checkLeaderEpoch compares a request's current leader epoch with the
// partition's (KIP-320); -1 means the client does not know it.
func checkLeaderEpoch(p *partition.Partition, current int32) error {
	if current < 0 {
		return nil
	}
	switch epoch := p.LeaderEpoch(); {
	case current < epoch:
		return fmt.Errorf("%w: %d, current %d", errFencedEpoch, current, epoch)
	case current > epoch:
		return fmt.Errorf("%w: %d, current %d", errUnknownEpoch, current, epoch)
	}
	return nil
}

// maxTopicNameLen is Kafka's limit (249): a topic's directory name
// <topic>-<partition> must fit in 255 bytes.
const maxTopicNameLen = 249

// validTopicName applies Kafka's rule: 1-249 of [a-zA-Z0-9._-], and not "."
// or "..".
func validTopicName(name string) error {
	if name == "" || name == "." || name == ".." || len(name) > maxTopicNameLen {
		return fmt.Errorf("%w: %q", ErrInvalidTopic, name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("%w: %q has character %q", ErrInvalidTopic, name, c)
		}
	}
	return nil
}

// timeout converts a request's TimeoutMillis; negative is errInvalidRequest.
func timeout(ms int32) (time.Duration, error) {
	if ms < 0 {
		return 0, fmt.Errorf("%w: negative timeout %d ms", errInvalidRequest, ms)
	}
	return time.Duration(ms) * time.Millisecond, nil
}
